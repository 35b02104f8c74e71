"""Shared pieces of the fidelity tables (tests/test_fidelity_acr.py, tests/test_fidelity_payer.py).

* the rating lines of a guideline text ("- MRI lumbar spine without IV contrast (CPT 72148): usually
  appropriate.") read per "### Variant N" section, so every rating the criteria encode is checked
  against its source line, and every source line against the criteria;
* the rules of a text (LABELING.md, the payer policy): its list items (examples excluded) and, for the
  policy, its sections; a rule with no probe row fails the test;
* probe notes: short new-wording requests reviewed by the real reader and engine (no model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.cases.model import Case, Decision, Patient, Procedure, Request
from agent.criteria.engine import Engine
from agent.criteria.model import CodeTable, Rating
from agent.facts.extract import extract_facts

ROOT = Path(__file__).parent.parent
GUIDELINES = ROOT / "guidelines"
RATING_WORDS = {"usually appropriate": Rating.UA, "may be appropriate": Rating.MBA, "usually not appropriate": Rating.UNA}
_RATING_LINE = re.compile(
    r"^- (?P<study>.+?) \(CPT (?P<codes>[^)]*)\): (?P<rating>usually not appropriate|usually appropriate|may be appropriate)"
)
_VARIANT = re.compile(r"^### Variant (\d+):")


@dataclass(frozen=True)
class SourceRating:
    document: str
    variant: int
    procedure: str
    rating: Rating
    line: str

    @property
    def id(self) -> str:
        return f"{self.document}/v{self.variant}/{self.procedure}"


def source_ratings(document: str, codes: CodeTable) -> list[SourceRating]:
    """Every rating line of ``guidelines/<document>.md`` with CPT codes, per variant and procedure."""
    found: dict[tuple[int, str], SourceRating] = {}
    variant: int | None = None
    for line in (GUIDELINES / f"{document}.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            variant = None
        if m := _VARIANT.match(line):
            variant = int(m.group(1))
        m = _RATING_LINE.match(line)
        if variant is None or m is None:
            continue
        for code in re.findall(r"\b7\d{4}\b", m.group("codes")):
            info = codes.codes.get(code)
            if info is not None:
                found.setdefault(
                    (variant, info.procedure),
                    SourceRating(document, variant, info.procedure, RATING_WORDS[m.group("rating")], line),
                )
    return list(found.values())


def text_rules(path: Path, start: str, end: str) -> dict[str, str]:
    """The rules of a text between two headings: each list item that is not an example, keyed by its
    section and first words ("3 (a) at least 6 weeks of documented"). Examples name a case id."""
    rules: dict[str, str] = {}
    section = ""
    inside = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith(start):
            inside = True
            continue
        if inside and raw.startswith(end):
            break
        if not inside:
            continue
        if raw.startswith("#"):
            section = re.sub(r"^#+\s*", "", raw).split(":")[0].split(".")[0].strip()
            rules[f"{section} | (section)"] = raw
            continue
        item = re.match(r"^\s*- (.+)", raw)
        if not item:
            continue
        text = item.group(1)
        if re.search(r"`[a-z]+-[a-z0-9-]+`", text) or text.startswith(("Example", "Approve", "Deny")):
            continue  # an example, not a rule
        words = re.sub(r"[*`:,;()]", " ", text).lower().split()
        rules[f"{section} | {' '.join(words[:6])}"] = text
    return rules


@dataclass(frozen=True)
class Probe:
    """A probe note: the request, the rule(s) it exercises, the decision expected per code."""

    id: str
    rules: tuple[str, ...]
    note: str
    expect: dict[str, str]
    age: int = 55
    note_date: date = date(2026, 10, 5)
    variant: dict[str, str] = field(default_factory=dict)
    alternative: dict[str, str | None] = field(default_factory=dict)
    departure: str | None = None  # a word the shown departure must contain
    diagnoses: tuple[str, ...] = ()
    xfail: str | None = None

    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.id, marks=marks)


def review(engine: Engine, probe: Probe) -> dict[str, Any]:
    procedures = [Procedure(code=c) for c in probe.expect]
    request = Request(
        patient=Patient(age=probe.age),
        procedures=procedures,
        clinical_notes=probe.note,
        note_date=probe.note_date,
        diagnoses=list(probe.diagnoses),
    )
    case = Case(id=probe.id, request=request)
    return {d.code: d for d in engine.decide(case, extract_facts(case))}


def check(engine: Engine, probe: Probe) -> None:
    results = review(engine, probe)
    got = {code: d.decision.value for code, d in results.items()}
    detail = {code: (d.variant_id, d.rating, d.alternative_code, d.rationale[:160]) for code, d in results.items()}
    assert got == {c: Decision(v).value for c, v in probe.expect.items()}, detail
    for code, variant in probe.variant.items():
        assert results[code].variant_id == variant, detail
    for code, alternative in probe.alternative.items():
        assert results[code].alternative_code == alternative, detail
    if probe.departure:
        shown = " ".join(x for d in results.values() for x in d.departures)
        assert probe.departure in shown, shown
