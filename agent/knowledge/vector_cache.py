"""Shipped embeddings of the built-in guideline chunks, so a fresh install does not embed them.

``guidelines/<model>.vectors.npz`` holds one vector per built-in chunk, keyed by the SHA-256 of the
chunk's embedding text (heading + text). A sync looks each new chunk up there first and embeds only
the misses: user documents, and built-in chunks edited since the file was written. A stale file is
therefore slower, never wrong. Regenerate it after editing guidelines/:

    python -m agent.knowledge.vector_cache
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_path(model: str, directory: Path | None = None) -> Path:
    base = directory or Path(str(importlib.resources.files("umreview_guidelines")))
    return base / f"{model}.vectors.npz"


@cache
def shipped_vectors(model: str) -> dict[str, list[float]]:
    """Text key -> vector for ``model``; empty when no file ships for it."""
    path = cache_path(model)
    if not path.exists():
        return {}
    with np.load(path) as data:
        return {str(k): [float(x) for x in v] for k, v in zip(data["keys"], data["vectors"], strict=True)}


def lookup(model: str, texts: Sequence[str]) -> list[list[float] | None]:
    known = shipped_vectors(model)
    return [known.get(text_key(t)) for t in texts]


def write(model: str, texts: Sequence[str], vectors: Sequence[Sequence[float]], path: Path) -> None:
    keys = np.array([text_key(t) for t in texts])
    order = np.argsort(keys)  # stable content: the same texts give the same file
    np.savez_compressed(path, keys=keys[order], vectors=np.asarray(vectors, dtype=np.float32)[order])


def main() -> None:  # pragma: no cover - a maintenance command, exercised by hand
    from agent.knowledge.documents import build_corpus, builtin_guidelines_dir
    from agent.knowledge.embeddings import get_embedder

    corpus = build_corpus([builtin_guidelines_dir()])
    embedder = get_embedder("minilm")
    texts = sorted({c.embedding_text() for c in corpus.chunks})
    target = cache_path(embedder.name, Path(__file__).resolve().parents[2] / "guidelines")
    write(embedder.name, texts, embedder.embed(texts), target)
    print(f"wrote {len(texts)} vectors to {target}")


if __name__ == "__main__":
    main()
