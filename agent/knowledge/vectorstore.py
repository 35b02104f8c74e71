"""The Chroma collection that holds chunk embeddings: embedded (default) or a Chroma server.

``sync`` makes the collection hold exactly the corpus's chunks: chunk ids carry a content hash,
so only new or changed chunks are embedded and stale ones are deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from agent.errors import ConfigError, KnowledgeBaseError
from agent.knowledge import vector_cache
from agent.knowledge.documents import Chunk
from agent.knowledge.embeddings import Embedder

BATCH = 64


def _client(chroma_url: str | None, path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        parsed = urlparse(chroma_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"UMREVIEW_CHROMA_URL must look like http://host:port, got {chroma_url!r}")
        try:
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        except Exception as exc:
            raise KnowledgeBaseError(f"cannot reach the Chroma server at {chroma_url}: {exc}") from exc
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


class VectorStore:
    """Chunk vectors in one Chroma collection, tagged with the embedding model's name."""

    def __init__(self, embedder: Embedder, *, chroma_url: str | None, path: Path, collection: str) -> None:
        self.embedder = embedder
        self._client = _client(chroma_url, path)
        # embedding_function=None: we always pass vectors, so Chroma never fetches its default model.
        self._collection = self._client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedder": embedder.name},
        )

    def ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def sync(self, chunks: Sequence[Chunk], progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Add missing chunks and delete stale ones; return (added, deleted). Safe to run from several
        processes against one Chroma server at once (writes are idempotent upserts and deletes)."""
        wanted = {c.id: c for c in chunks}
        present = self.ids()
        stale = sorted(present - wanted.keys())
        if stale:
            self._collection.delete(ids=stale)
        new = [wanted[i] for i in wanted.keys() - present]
        new.sort(key=lambda c: (c.document_id, c.order))
        for start in range(0, len(new), BATCH):
            batch = new[start : start + BATCH]
            self._collection.upsert(  # upsert: web workers syncing one Chroma server at once must not collide
                ids=[c.id for c in batch],
                embeddings=self._vectors([c.embedding_text() for c in batch]),  # type: ignore[arg-type]  # chroma accepts lists
                documents=[c.text for c in batch],
                metadatas=[{"document_id": c.document_id, "region": c.region, "topic": c.topic} for c in batch],
            )
            if progress:
                progress(min(start + BATCH, len(new)), len(new))
        return len(new), len(stale)

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        """Shipped vectors for built-in chunks (agent/knowledge/vector_cache.py); the model embeds the rest."""
        found = vector_cache.lookup(self.embedder.name, texts)
        missing = [t for t, v in zip(texts, found, strict=True) if v is None]
        fresh = iter(self.embedder.embed(missing) if missing else [])
        return [v if v is not None else next(fresh) for v in found]

    def query(self, text: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks."""
        return self.query_many([(text, where)], k)[0]

    def query_many(self, queries: Sequence[tuple[str, dict[str, Any] | None]], k: int) -> list[list[tuple[str, float]]]:
        """``query`` for several (text, where) pairs, embedding all texts in one model call."""
        if not queries:
            return []
        count = self._collection.count()
        if count == 0:
            return [[] for _ in queries]
        vectors = self.embedder.embed([text for text, _ in queries])
        results = []
        for vector, (_, where) in zip(vectors, queries, strict=True):
            result = self._collection.query(
                query_embeddings=[vector],  # type: ignore[arg-type]  # chroma accepts lists
                n_results=min(k, count),
                where=where,
                include=["distances"],
            )
            results.append([(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)])
        return results
