"""Structured evidence: ICD-10-CM diagnosis codes on the request that name a red-flag condition.

The code table is data (``data/icd10_flags.yaml``); a code is matched by its longest listed prefix,
dots and case ignored, so "G83.4", "g834" and "M80.08XA" (prefix M80) all read the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import yaml

__all__ = ["flag_codes", "normalise_code"]


def normalise_code(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, str]]:
    """prefix -> (red-flag id, what the code means)."""
    data = yaml.safe_load(resources.files("agent.facts").joinpath("data/icd10_flags.yaml").read_text(encoding="utf-8"))
    return {normalise_code(prefix): (flag, meaning) for flag, codes in data.items() for prefix, meaning in codes.items()}


def flag_of(code: str) -> tuple[str, str] | None:
    """(red-flag id, meaning) for a diagnosis code, or None when it names no red-flag condition."""
    norm = normalise_code(code)
    table = _table()
    for length in range(len(norm), 2, -1):
        hit = table.get(norm[:length])
        if hit is not None:
            return hit
    return None


def flag_codes(diagnoses: Iterable[str]) -> dict[str, list[str]]:
    """red-flag id -> the request's codes that raise it, in request order."""
    found: dict[str, list[str]] = {}
    for code in diagnoses:
        hit = flag_of(code)
        if hit is not None:
            found.setdefault(hit[0], []).append(code)
    return found
