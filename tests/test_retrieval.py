"""Knowledge base chunking, incremental sync and hybrid retrieval (fake embedder), plus one real MiniLM run."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.knowledge.base import KnowledgeBase
from agent.knowledge.documents import (
    Chunk,
    build_corpus,
    builtin_guidelines_dir,
    chunk_document,
    parse_markdown_document,
)
from agent.knowledge.retrieval import Filters, reciprocal_rank_fusion
from agent.settings import Settings


class HashEmbedder:
    """Deterministic bag-of-words vectors: enough to test the plumbing without a model."""

    name = "hash-64"
    dimension = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += len(texts)
        out = []
        for text in texts:
            vec = [0.0] * self.dimension
            for word in re.findall(r"[a-z]+", text.lower()):
                vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


def test_chunk_ids_are_stable_and_content_addressed() -> None:
    doc = parse_markdown_document(builtin_guidelines_dir() / "acr-low-back-pain.md")
    first, second = chunk_document(doc), chunk_document(doc)
    assert [c.id for c in first] == [c.id for c in second]
    assert all(c.id.startswith("acr-low-back-pain#") and "@" in c.id for c in first)
    assert len({c.id for c in first}) == len(first)
    variant4 = next(c for c in first if "Variant 4" in c.section)
    assert "cauda equina" in variant4.text.lower()


def test_every_builtin_document_has_source_version_and_year() -> None:
    corpus = build_corpus([builtin_guidelines_dir()])
    assert len(corpus.documents) >= 5
    for doc in corpus.documents:
        assert doc.meta.source and doc.meta.version and doc.meta.year >= 1990 and doc.meta.licence


def test_rrf_prefers_items_ranked_well_by_both() -> None:
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]])
    assert max(scores, key=scores.__getitem__) in {"a", "b"}
    assert scores["d"] < scores["a"]


@pytest.fixture
def fake_kb(tmp_path: Path) -> tuple[KnowledgeBase, HashEmbedder]:
    embedder = HashEmbedder()
    return KnowledgeBase(Settings(data_dir=tmp_path), embedder=embedder), embedder


def test_sync_is_incremental(fake_kb: tuple[KnowledgeBase, HashEmbedder], tmp_path: Path) -> None:
    kb, embedder = fake_kb
    added, deleted = kb.sync()
    assert added == len(kb.corpus.chunks) and deleted == 0
    assert kb.sync() == (0, 0)
    user_doc = tmp_path / "guidelines" / "local-policy.md"
    user_doc.parent.mkdir(parents=True, exist_ok=True)
    user_doc.write_text(
        "---\nid: local-policy\ntitle: Local policy\npublisher: Test plan\nsource: test\nversion: '1'\nyear: 2026\n"
        "licence: test\n---\n# Local policy\n\n## Coccydynia\n\nTailbone pain imaging rules.\n"
    )
    before = embedder.calls
    added, _ = kb.sync()
    assert added == 1 and embedder.calls - before == 1


def test_hybrid_search_filters_by_region(fake_kb: tuple[KnowledgeBase, HashEmbedder]) -> None:
    kb, _ = fake_kb
    hits = kb.search("suspected cauda equina syndrome urinary retention", 5, Filters(region="lumbar"))
    assert hits and all(h.chunk.region in ("lumbar", "any") for h in hits)
    assert any("cauda" in h.chunk.text.lower() for h in hits[:3])
    cervical = kb.search("radiculopathy arm pain", 5, Filters(region="cervical"))
    assert all(h.chunk.region in ("cervical", "any") for h in cervical)


@pytest.mark.slow
def test_real_minilm_retrieval(tmp_path: Path) -> None:
    """The packaged all-MiniLM-L6-v2 loads offline and ranks the right topic first."""
    kb = KnowledgeBase(Settings(data_dir=tmp_path))
    hits = kb.search("new urinary retention and saddle anesthesia with low back pain", 5, Filters(region="lumbar"))
    assert hits[0].chunk.document_id in {"acr-low-back-pain", "payer-spine-mri-policy"}
    assert any(h.dense_rank is not None for h in hits)
    assert isinstance(hits[0].chunk, Chunk)


@pytest.mark.parametrize(("policy", "foreign"), [("acr-default", "payer-spine-mri-policy"), ("payer-model", "acr-low-back-pain")])
def test_retrieval_stays_inside_the_criteria_set(fake_kb: tuple[KnowledgeBase, HashEmbedder], policy: str, foreign: str) -> None:
    from agent.review.reviewer import Reviewer

    kb, _ = fake_kb
    reviewer = Reviewer(kb, backend="offline", policy=policy)
    assert foreign in reviewer.foreign_documents
    own = {t.document for t in reviewer.criteria.topics}
    assert not own & reviewer.foreign_documents
    hits = kb.search("prior lumbar surgery new symptoms contrast", 20, reviewer.filters("lumbar"))
    assert hits and all(h.chunk.document_id not in reviewer.foreign_documents for h in hits)
