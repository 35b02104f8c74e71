"""The LLM reply cache: keyed by everything that shapes the reply; a bad entry is a miss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.backends.cache import CachedReply, LLMCache, cache_key

BASE: dict[str, Any] = {
    "endpoint": "http://127.0.0.1:1/v1",
    "model": "m",
    "temperature": 0.0,
    "prompt_version": "determination-v1",
    "schema": "DeterminationDraft",
    "messages": [("system", "s"), ("user", "note")],
}


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "http://127.0.0.1:2/v1"},
        {"model": "other"},
        {"temperature": 0.7},
        {"prompt_version": "determination-v2"},
        {"schema": "Other"},
        {"messages": [("system", "s"), ("user", "another note")]},
        {"messages": [("system", "s"), ("user", "note"), ("user", "repair feedback")]},
    ],
    ids=["endpoint", "model", "temperature", "prompt-version", "schema", "note", "repair-round"],
)
def test_key_changes_with(change: dict[str, Any]) -> None:
    assert cache_key(**{**BASE, **change}) != cache_key(**BASE)


def test_same_inputs_same_key() -> None:
    assert cache_key(**BASE) == cache_key(**dict(BASE))


def test_round_trip(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path)
    entry = CachedReply(model="m", reply={"codes": []}, input_tokens=3, output_tokens=4)
    cache.put("ab" * 32, entry)
    assert cache.get("ab" * 32) == entry and cache.get("cd" * 32) is None


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path)
    path = tmp_path / "ab" / f"{'ab' * 32}.json"
    path.parent.mkdir()
    path.write_text("{truncated")
    assert cache.get("ab" * 32) is None
