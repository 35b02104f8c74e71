"""The two ways to run all-MiniLM-L6-v2 give the same vectors: numpy (default, fast start) and
sentence-transformers on torch (the reference)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent.errors import ConfigError
from agent.knowledge.embeddings import MiniLMEmbedder, NumpyMiniLMEmbedder, get_embedder

TEXTS = [
    "MRI lumbar spine without contrast: low back pain with radiculopathy after six weeks of physical therapy",
    "x",
    "Suspected cauda equina syndrome: new urinary retention and saddle anesthesia. " * 40,  # past 256 tokens
    "Ünïcode café naïve résumé — em dash, “quotes”",
]


@pytest.mark.slow
def test_numpy_minilm_matches_sentence_transformers() -> None:
    fast = np.array(NumpyMiniLMEmbedder().embed(TEXTS))
    reference = np.array(MiniLMEmbedder().embed(TEXTS))
    assert fast.shape == reference.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert (fast * reference).sum(axis=1).min() > 0.99999
    assert np.abs(fast - reference).max() < 1e-4


def test_batches_and_empty_input() -> None:
    model = NumpyMiniLMEmbedder()
    assert model.embed([]) == []
    one_by_one = np.array([model.embed([t])[0] for t in TEXTS[:2]])
    together = np.array(model.embed(TEXTS[:2]))  # padded to the longer text: padding must not leak in
    assert np.abs(one_by_one - together).max() < 1e-5


def test_embedder_names() -> None:
    assert isinstance(get_embedder("minilm"), NumpyMiniLMEmbedder)
    assert isinstance(get_embedder("minilm-torch"), MiniLMEmbedder)
    assert get_embedder("minilm").name == get_embedder("minilm-torch").name  # one Chroma collection serves both
    with pytest.raises(ConfigError, match="minilm-torch"):
        get_embedder("bge")


def test_shipped_vectors_cover_every_built_in_chunk() -> None:
    """guidelines/all-MiniLM-L6-v2.vectors.npz: regenerate with `python -m agent.knowledge.vector_cache` after
    editing guidelines/ (a stale file only makes the first sync slower; this keeps it current)."""
    from agent.knowledge import vector_cache
    from agent.knowledge.documents import build_corpus, builtin_guidelines_dir

    texts = [c.embedding_text() for c in build_corpus([builtin_guidelines_dir()]).chunks]
    found = vector_cache.lookup(NumpyMiniLMEmbedder.name, texts)
    stale = [t.splitlines()[0] for t, v in zip(texts, found, strict=True) if v is None]
    assert not stale, f"run `python -m agent.knowledge.vector_cache`; no shipped vector for: {stale[:5]}"


@pytest.mark.slow
def test_shipped_vectors_are_the_models_vectors() -> None:
    from agent.knowledge import vector_cache
    from agent.knowledge.documents import build_corpus, builtin_guidelines_dir

    texts = [c.embedding_text() for c in build_corpus([builtin_guidelines_dir()]).chunks][::25]
    shipped = np.array(vector_cache.lookup(NumpyMiniLMEmbedder.name, texts), dtype=np.float32)
    assert np.abs(shipped - np.array(NumpyMiniLMEmbedder().embed(texts))).max() < 1e-5


def test_a_sync_embeds_only_what_is_not_shipped(tmp_path: Path) -> None:
    from agent.knowledge.documents import build_corpus, builtin_guidelines_dir
    from agent.knowledge.vectorstore import VectorStore

    class Counting(NumpyMiniLMEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.embedded: list[str] = []

        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            self.embedded += texts
            return [[0.0] * 383 + [1.0] for _ in texts]  # no model needed for this test

    counting = Counting()
    store = VectorStore(counting, chroma_url=None, path=tmp_path / "chroma", collection="shipped-test")
    chunks = build_corpus([builtin_guidelines_dir()]).chunks
    added, _ = store.sync(chunks)
    assert added == len(chunks) and counting.embedded == []  # every built-in chunk came from the file


def test_bulk_embedding_goes_to_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.knowledge import embeddings

    calls: list[int] = []

    class Fake:
        name, dimension = "all-MiniLM-L6-v2", 384

        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            calls.append(len(texts))
            return [[0.0] * 384 for _ in texts]

    monkeypatch.setitem(embeddings._EMBEDDERS, "minilm-torch", Fake())
    assert len(NumpyMiniLMEmbedder().embed(["chunk"] * embeddings.BULK)) == embeddings.BULK
    assert calls == [embeddings.BULK]
