"""Sections of clinical documentation: headings found in the text, and what each section means.

Clinicians write in sections (HPI, past medical history, family history, ROS, exam, assessment,
plan); what a sentence means depends on where it sits ("positive for colon cancer" under FAMILY
HISTORY is a relative's). This module finds the sections of a text, in SOAP notes, ALL-CAPS
dictation, inline headings ("PMH: ..."), run-on transcriptions whose headings sit mid-line
("... denies. FAMILY HISTORY:, Positive for ..."), and pasted packets; the heading vocabulary and
each section's meaning are data (``data/sections.yaml``), in the spirit of medspaCy's sectionizer
and the SecTag header variants.

A section opened by a heading alone on its line runs to the next heading or a blank line; one opened
by an inline heading ("FHx: sister - lymphoma") ends with its line, or at the next heading on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from agent.cases.model import ATTACHMENT_HEADER

__all__ = ["Section", "SectionKind", "find_sections", "section_kinds"]


@dataclass(frozen=True)
class SectionKind:
    """What a kind of section means for the mentions inside it (``data/sections.yaml``)."""

    name: str
    experiencer: str | None = None  # "family"
    temporality: str | None = None  # "historical" | "planned"
    ignore: bool = False
    hypothetical: bool = False


@dataclass(frozen=True)
class Section:
    """``text[start:end]`` is the section body; ``heading_start:heading_end`` its heading (or title)."""

    kind: str
    heading: str
    heading_start: int
    heading_end: int
    start: int
    end: int

    def holds(self, pos: int) -> bool:
        return self.start <= pos < self.end


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("agent.facts").joinpath("data/sections.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def section_kinds() -> dict[str, SectionKind]:
    kinds = {}
    for name, spec in _data()["kinds"].items():
        kinds[name] = SectionKind(
            name=name,
            experiencer=spec.get("experiencer"),
            temporality=spec.get("temporality"),
            ignore=bool(spec.get("ignore", False)),
            hypothetical=bool(spec.get("hypothetical", False)),
        )
    return kinds


@lru_cache(maxsize=1)
def _variants() -> dict[str, str]:
    """Lower-cased heading variant -> section kind (case-sensitive variants kept as written)."""
    table = {}
    for name, spec in _data()["kinds"].items():
        for variant in spec["variants"]:
            table[variant.lower()] = name
    return table


@lru_cache(maxsize=1)
def _heading_rx() -> re.Pattern[str]:
    variants = sorted(_variants(), key=len, reverse=True)
    alternation = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in variants)
    # A heading: at a line start (after optional bullets/numbering) or after a sentence end, then ':'.
    return re.compile(
        rf"(?:(?<=^)|(?<=\n)|(?<=[.;!?]\s)|(?<=[.;!?]\s\s)|(?<=[.;!?]\s\s\s))[ \t]*(?:[-*•#]+\s*|\d+[.)]\s+)?"
        rf"(?P<head>(?:{alternation}))\s*(?::|-\s)(?:\s*,)?",
        re.IGNORECASE,
    )


_ALONE = re.compile(r"^[ \t]*(?P<head>[A-Za-z][A-Za-z /&'()-]{1,60}?)[ \t]*:?[ \t]*$", re.MULTILINE)
# A title line that carries a date or a note after its capitals: "SPINE SURGERY CONSULT - 11/18/2026 (referred)".
_TITLE_LEAD = re.compile(r"^[ \t]*(?P<head>[A-Z][A-Z&/' -]{3,60}?[A-Z])(?=[ \t]*(?:[-–:,][ \t]|\(|\d))", re.MULTILINE)
_ATTACHMENT = re.compile(re.escape(ATTACHMENT_HEADER).replace(r"\{n\}", r"\d+").replace(r"\{title\}\{when\}", ".*"))


def _kind_of(head: str) -> str | None:
    norm = re.sub(r"\s+", " ", head.strip().rstrip(":")).lower()
    kind = _variants().get(norm)
    if kind is None:
        return None
    if head.strip().rstrip(":").upper() in {v.upper() for v in _data()["case_sensitive"]}:
        # short abbreviations ("P", "FH") only as written, never as ordinary words ("p", "fh")
        return kind if head.strip().rstrip(":") in _data()["case_sensitive"] else None
    return kind


def _is_title(line: str) -> bool:
    words = line.strip().rstrip(":")
    if not words or not re.search(r"[A-Z]", words) or words.upper() != words or len(words) < 4:
        return False
    return bool(re.search(rf"\b(?:{_data()['title_words']})\b", words, re.IGNORECASE))


def _headings(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, kind, alone) for every heading; ``alone`` when the heading has its own line."""
    found: dict[int, tuple[int, int, str, bool]] = {}
    for m in _ALONE.finditer(text):
        head = m.group("head")
        line = m.group(0)
        kind = _kind_of(head)
        if kind is None and _is_title(line):
            kind = "title"
        if kind is not None and (line.strip().endswith(":") or head.strip().upper() == head.strip() or kind == "title"):
            found[m.start("head")] = (m.start("head"), m.end(), kind, True)
    for m in _heading_rx().finditer(text):
        start = m.start("head")
        if start in found:
            continue
        kind = _kind_of(m.group("head"))
        if kind is not None:
            found[start] = (start, m.end(), kind, False)
    for m in _TITLE_LEAD.finditer(text):
        if m.start("head") not in found and _kind_of(m.group("head")) is None and _is_title(m.group("head")):
            found[m.start("head")] = (m.start("head"), m.end("head"), "title", True)
    for m in _ATTACHMENT.finditer(text):
        found[m.start()] = (m.start(), m.end(), "title", True)
    return sorted(found.values())


def find_sections(text: str) -> list[Section]:
    """The sections of ``text`` in order; text before the first heading belongs to no section."""
    heads = _headings(text)
    sections = []
    for i, (h_start, h_end, kind, alone) in enumerate(heads):
        next_head = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        if kind == "title":
            end = h_end  # a document title names a document: only its own words are set aside
        elif alone:
            blank = re.search(r"\n[ \t]*\n", text[h_end:next_head])
            end = h_end + blank.start() if blank else next_head
        else:
            line_end = text.find("\n", h_end)
            end = min(next_head, line_end if line_end != -1 else len(text))
        sections.append(
            Section(
                kind=kind, heading=text[h_start:h_end].strip(), heading_start=h_start, heading_end=h_end, start=h_end, end=end
            )
        )
    return sections


def care_ongoing(sentence: str) -> bool:
    """The sentence says care continues or was done ("continue PT", "completed 6 weeks of PT")."""
    return bool(re.search(_data()["care_ongoing"], sentence, re.IGNORECASE))
