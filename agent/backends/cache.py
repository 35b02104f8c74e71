"""A disk cache of LLM replies, keyed by everything that determines the reply.

The key is a SHA-256 over the endpoint, model, sampling settings, prompt version, output schema and
the full message texts (which hold the note, the guideline excerpts and any repair feedback). Entries
are JSON files under ``<data_dir>/llm-cache/<2 hex>/<key>.json``, written atomically, so concurrent
batch workers and interrupted runs never leave half an entry. Entries hold the parsed reply only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)


class CachedReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    reply: dict
    input_tokens: int = 0
    output_tokens: int = 0


def cache_key(
    *, endpoint: str, model: str, temperature: float, prompt_version: str, schema: str, messages: Sequence[tuple[str, str]]
) -> str:
    payload = {
        "endpoint": endpoint,
        "model": model,
        "temperature": temperature,
        "prompt_version": prompt_version,
        "schema": schema,
        "messages": [list(m) for m in messages],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class LLMCache:
    """Replies on disk; a missing or unreadable entry is a miss, never an error."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        path = self._path(key)
        try:
            return CachedReply.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError):
            log.warning("ignoring unreadable LLM cache entry %s", path.name)
            return None

    def put(self, key: str, entry: CachedReply) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(entry.model_dump_json())
            os.replace(tmp, path)
        except OSError as exc:  # a full or read-only disk must not fail a review
            log.warning("could not write LLM cache entry (%s)", type(exc).__name__)
