"""Reading case files: YAML, JSON, JSON Lines and FHIR PAS Bundles, into Cases.

A bad file never stops the rest of a batch: errors are collected with the file (or line) they came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agent.cases.attachments import fill_attachments
from agent.cases.fhir import case_from_bundle
from agent.cases.model import CASE_SUFFIXES, Case, case_from_data
from agent.errors import CaseFileError


def _parse_file(path: Path) -> list[tuple[str, Any]]:
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(path, "", f"cannot read file: {exc.__class__.__name__}") from None
    if suffix == ".jsonl":
        items = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                items.append((f"{path}:{lineno}", CaseFileError(f"{path}:{lineno}", "", f"invalid JSON ({exc.msg})")))
        return items
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CaseFileError(path, "", f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CaseFileError(path, "", f"invalid YAML{where}") from None
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return [(str(path), case_from_bundle(data, source=str(path)))]
    return [(str(path), data)]


def iter_case_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Expand directories (recursively, sorted) into case files; plain files pass through."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CASE_SUFFIXES)
        else:
            yield path


class LoadResult(BaseModel):
    """Cases that loaded and the files (or lines) that did not."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    cases: list[Case] = Field(default_factory=list)
    sources: dict[str, str] = Field(default_factory=dict, description="case id -> file it came from")
    errors: list[CaseFileError] = Field(default_factory=list)


def load_cases(paths: Iterable[Path | str]) -> LoadResult:
    """Load every case under ``paths``; collect errors instead of stopping at the first."""
    result = LoadResult()
    for path in iter_case_files(paths):
        if not path.exists():
            result.errors.append(CaseFileError(path, "", "no such file or directory"))
            continue
        try:
            items = _parse_file(path)
        except CaseFileError as exc:
            result.errors.append(exc)
            continue
        for source, data in items:
            if isinstance(data, CaseFileError):
                result.errors.append(data)
                continue
            try:
                if not isinstance(data, Case):
                    fill_attachments(data, case_file=path, source=source)
                case = data if isinstance(data, Case) else case_from_data(data, source)
            except CaseFileError as exc:
                result.errors.append(exc)
                continue
            if case.id in result.sources:
                result.errors.append(
                    CaseFileError(source, "id", f"duplicate case id {case.id!r} (first in {result.sources[case.id]})")
                )
                continue
            result.sources[case.id] = source
            result.cases.append(case)
    return result


def load_case(path: Path | str) -> Case:
    """Load exactly one case; raise ``CaseFileError`` if the file is bad or holds several."""
    result = load_cases([path])
    if result.errors:
        raise result.errors[0]
    if len(result.cases) != 1:
        raise CaseFileError(path, "", f"expected one case, found {len(result.cases)}")
    return result.cases[0]
