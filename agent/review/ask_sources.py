"""Where a quote comes from: the document, section and date of a span of the documentation.

The documentation of a request is the clinical notes followed by each attachment under its header
line; pasted packets carry their own title lines ("PT PROGRESS NOTE 02/01/2026"). A document starts
at the beginning of the text, at every attachment header and at every title line; its date is the
attachment's date, a date in its title line, or the note date. The section is the heading the span
sits under (``agent.facts.sections``). Every ``SourcedQuote`` is verbatim: ``text[start:end]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from agent.cases.model import Case
from agent.facts.context import Mention, Modifier
from agent.facts.model import Evidence
from agent.facts.note import read_note

_HEADER = re.compile(r"^=== ATTACHMENT \d+: (?P<title>.*?)(?: \((?P<date>\d{4}-\d{2}-\d{2})\))? ===$")

_HEADER_AT = re.compile(r"=== ATTACHMENT \d+: [^\n]*===\s*")

# How a mention that does not count reads to a reviewer.
MODIFIER_WORDS = {
    Modifier.NEGATED: "negated (the note denies it)",
    Modifier.FAMILY: "about a relative (family history), not the patient",
    Modifier.HISTORICAL: "past history",
    Modifier.HYPOTHETICAL: "hypothetical or planned (a precaution, question or plan), not a finding",
    Modifier.RESOLVED: "resolved",
}


class SourcedQuote(BaseModel):
    """A verbatim span of the documentation with the document, section and date it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    document: str
    document_date: date | None = None
    section: str | None = None
    status: str | None = Field(default=None, description="how the reader took it: asserted, negated, family, ...")

    def cite(self) -> str:
        """'document (date), section' for answer text."""
        when = f" ({self.document_date.isoformat()})" if self.document_date else ""
        where = f", {self.section}" if self.section else ""
        return f"{self.document}{when}{where}"


@dataclass(frozen=True)
class Document:
    title: str
    start: int
    end: int
    date: date | None


class Sources:
    """The case's documentation as the reader sees it, with document boundaries for quoting."""

    def __init__(self, case: Case, instructions: list[Evidence] | None = None) -> None:
        request = case.request
        self.instructions = instructions or []  # planted instructions: never taken for a document title
        self.text = request.documentation
        self.note = read_note(self.text, request.note_date, request.patient.age)
        self.note_date = request.note_date

    @cached_property
    def documents(self) -> list[Document]:
        starts: list[tuple[int, str, date | None]] = [(0, "Clinical note", None)]
        dated = dict(self.note.sections)
        for section in self.note.layout:
            if section.kind != "title" or any(e.start <= section.heading_start < e.end for e in self.instructions):
                continue
            line_end = self.text.find("\n", section.heading_start)
            line = self.text[section.heading_start : line_end if line_end != -1 else len(self.text)].strip()
            header = _HEADER.match(line)
            title = header.group("title") if header else section.heading.strip(" :-")
            when = date.fromisoformat(header.group("date")) if header and header.group("date") else None
            if when is None:
                when = next(
                    (d for pos, d in dated.items() if section.heading_start <= pos <= section.heading_start + len(line)), None
                )
            if section.heading_start == 0 or not self.text[: section.heading_start].strip():
                starts[0] = (0, title, when)
            else:
                starts.append((section.heading_start, title, when))
        docs = []
        for i, (start, title, when) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(self.text)
            docs.append(Document(title=title, start=start, end=end, date=when))
        return docs

    def document_at(self, pos: int) -> Document:
        return next((d for d in reversed(self.documents) if d.start <= pos), self.documents[0])

    def quote(self, start: int, end: int, status: str | None = None) -> SourcedQuote:
        """The span ``start:end`` with its document, section and date (an attachment's header line
        at the front of a quote is left out: it names the document, which the quote carries)."""
        head = _HEADER_AT.match(self.text, start)
        if head and head.end() < end:
            start = head.end()
        doc = self.document_at(start)
        section = self.note.section_at(start) or self.note.section_at(max(start, end - 1))
        when = self.note.written_on(start) if doc.date is None else doc.date
        if when is None and doc is self.documents[0]:
            when = self.note_date
        return SourcedQuote(
            text=self.text[start:end],
            start=start,
            end=end,
            document=doc.title,
            document_date=when,
            section=section.heading.strip(" :") if section else None,
            status=status,
        )

    def from_evidence(self, evidence: Evidence, status: str | None = None) -> SourcedQuote:
        return self.quote(evidence.start, evidence.end, status)

    def from_mention(self, mention: Mention) -> SourcedQuote:
        sentence = mention.sentence
        evidence = self.note.evidence(mention.start, mention.end, sentence)
        return self.from_evidence(evidence, status_of(mention))


def status_of(mention: Mention) -> str:
    """'asserted', or the reasons a mention does not count, in a reviewer's words."""
    reasons = [MODIFIER_WORDS[m] for m in Modifier if m in mention.modifiers and m != Modifier.HISTORICAL]
    if Modifier.HISTORICAL in mention.modifiers:
        reasons.append(MODIFIER_WORDS[Modifier.HISTORICAL])
    return "; ".join(reasons) if reasons else "asserted"


def unique(quotes: list[SourcedQuote]) -> list[SourcedQuote]:
    return list({(q.start, q.end): q for q in quotes}.values())
