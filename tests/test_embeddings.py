"""The two ways to run all-MiniLM-L6-v2 give the same vectors: numpy (default, fast start) and
sentence-transformers on torch (the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.embeddings import MiniLMEmbedder, NumpyMiniLMEmbedder, get_embedder
from agent.errors import ConfigError

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
