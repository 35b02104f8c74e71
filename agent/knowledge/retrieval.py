"""Hybrid retrieval over the guideline chunks: dense (Chroma) + lexical (BM25), rank-fused.

Filters (region, topic, document) apply to both channels; reciprocal rank fusion (RRF, k=60)
merges them, so a chunk ranked well by either channel surfaces.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.knowledge.documents import Chunk, Corpus
from agent.knowledge.vectorstore import VectorStore

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    dense_rank: int | None
    lexical_rank: int | None


@dataclass(frozen=True)
class Filters:
    region: str | None = None  # matches chunks of that region and of region "any"
    topic: str | None = None
    document_id: str | None = None
    exclude_documents: frozenset[str] = frozenset()  # e.g. the guidelines of other criteria sets

    def allows(self, chunk: Chunk) -> bool:
        return (
            (self.region is None or chunk.region in (self.region, "any"))
            and (self.topic is None or chunk.topic == self.topic)
            and (self.document_id is None or chunk.document_id == self.document_id)
            and chunk.document_id not in self.exclude_documents
        )

    def chroma_where(self) -> dict | None:
        clauses: list[dict] = []
        if self.region:
            clauses.append({"region": {"$in": [self.region, "any"]}})
        if self.topic:
            clauses.append({"topic": self.topic})
        if self.document_id:
            clauses.append({"document_id": self.document_id})
        if self.exclude_documents:
            clauses.append({"document_id": {"$nin": sorted(self.exclude_documents)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class LexicalIndex:
    """BM25 over chunk texts (headings included), built in memory in well under a second."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
        self._bm25s = bm25s
        self.chunks = list(chunks)
        self._retriever = bm25s.BM25()
        tokens = bm25s.tokenize([c.embedding_text() for c in self.chunks], stopwords="en", show_progress=False)
        self._retriever.index(tokens, show_progress=False)

    def search(self, query: str, k: int, filters: Filters = Filters()) -> list[tuple[Chunk, float]]:
        if not self.chunks:
            return []
        mask = np.array([1.0 if filters.allows(c) else 0.0 for c in self.chunks])
        if not mask.any():
            return []
        tokens = self._bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        if not tokens or not tokens[0]:
            return []
        ids, scores = self._retriever.retrieve(tokens, k=min(k, len(self.chunks)), show_progress=False, weight_mask=mask)
        return [(self.chunks[int(i)], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class HybridRetriever:
    def __init__(self, corpus: Corpus, vectors: VectorStore | None) -> None:
        self.corpus = corpus
        self.vectors = vectors
        self.lexical = LexicalIndex(corpus.chunks)

    def search(self, query: str, k: int = 8, filters: Filters = Filters()) -> list[Hit]:
        return self.search_many([(query, filters)], k)[0]

    def search_many(self, queries: Sequence[tuple[str, Filters]], k: int = 8) -> list[list[Hit]]:
        """``search`` for several (query, filters) pairs; the dense side embeds them in one batch."""
        pool = max(k * 3, 20)
        dense_all: list[list[str]] = [[] for _ in queries]
        if self.vectors is not None:
            found = self.vectors.query_many([(q, f.chroma_where()) for q, f in queries], pool)
            dense_all = [
                [cid for cid, _ in hits if (c := self.corpus.chunk(cid)) is not None and f.allows(c)]
                for hits, (_, f) in zip(found, queries, strict=True)
            ]
        return [self._fuse(dense, q, f, k, pool) for dense, (q, f) in zip(dense_all, queries, strict=True)]

    def _fuse(self, dense: list[str], query: str, filters: Filters, k: int, pool: int) -> list[Hit]:
        lexical = [c.id for c, _ in self.lexical.search(query, pool, filters)]
        fused = reciprocal_rank_fusion([dense, lexical])
        ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        hits = []
        for cid in ranked:
            chunk = self.corpus.chunk(cid)
            if chunk is None:
                continue
            hits.append(
                Hit(
                    chunk=chunk,
                    score=fused[cid],
                    dense_rank=dense.index(cid) + 1 if cid in dense else None,
                    lexical_rank=lexical.index(cid) + 1 if cid in lexical else None,
                )
            )
        return hits
