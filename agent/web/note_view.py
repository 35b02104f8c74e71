"""The documentation as the case view shows it: cut at every quote, document and section boundary.

Each piece knows which criteria cite it (``marks``), which quotes it belongs to (``quotes``: criteria
evidence, care courses, red-flag findings) and whether a document or a section starts there, so the
page can link a criterion's evidence, a course or a red flag to the words that carry it (``href``)
and highlight every piece of a quote. The text itself is never changed: the template escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from agent.cases.determination import Determination, NoteQuote
from agent.cases.reading import Reading, ReadingDocument, ReadingQuote

QUOTE_SHOWN = 140  # characters of a quote shown as a link's text


@dataclass
class Segment:
    text: str
    marks: list[str] = field(default_factory=list)  # evidence keys "code:criterion" (and "injection")
    anchor: str | None = None
    quotes: list[str] = field(default_factory=list)  # ids of the quotes it is part of
    document: ReadingDocument | None = None  # the document that starts here
    section: str | None = None  # id of the section whose heading starts here


def quote_id(start: int, end: int) -> str:
    return f"q{start}-{end}"


@dataclass
class NoteView:
    text: str
    reading: Reading
    segments: list[Segment]
    anchors: dict[str, list[str]]  # criterion key -> anchors of its pieces (the checklist's "quote n" links)
    first: dict[str, str]  # quote id -> anchor of its first piece

    def href(self, q: NoteQuote | ReadingQuote) -> str | None:
        """The anchor of the quote's first piece in the note, or None (a quote without a span)."""
        if q.start is None or q.end is None:
            return None
        return self.first.get(quote_id(q.start, q.end))

    def qid(self, q: NoteQuote | ReadingQuote) -> str:
        return quote_id(q.start or 0, q.end or 0)

    def place(self, q: NoteQuote) -> ReadingQuote | None:
        """The document and section of a criterion's quote."""
        if q.start is None or q.end is None:
            return None
        return self.reading.locate(self.text, q.start, q.end)

    def where(self, q: ReadingQuote | None) -> str:
        return self.reading.where(q) if q is not None else ""

    @staticmethod
    def shown(text: str) -> str:
        """A quote as a link's text: one line, at most QUOTE_SHOWN characters."""
        line = " ".join(text.split())
        return line if len(line) <= QUOTE_SHOWN else line[: QUOTE_SHOWN - 1].rstrip() + "…"


def _valid(note: str, start: int | None, end: int | None, text: str) -> bool:
    return start is not None and end is not None and 0 <= start < end <= len(note) and note[start:end] == text


def note_view(note: str, det: Determination, reading: Reading) -> NoteView:
    """The note cut at every evidence boundary; each marked piece knows which criteria and quotes it carries."""
    spans: list[tuple[int, int, str]] = []  # (start, end, criterion key or "injection")
    quotes: dict[str, tuple[int, int]] = {}
    for d in det.determinations:
        for f in d.criteria:
            for q in f.note_quotes:
                if _valid(note, q.start, q.end, q.text):
                    assert q.start is not None and q.end is not None  # for the type checker: _valid checked them
                    spans.append((q.start, q.end, f"{d.code}:{f.criterion_id}"))
                    quotes[quote_id(q.start, q.end)] = (q.start, q.end)
    for q in det.injection_quotes:
        if q.start is not None and q.end is not None:
            spans.append((q.start, q.end, "injection"))
    read = [q for region in reading.care for c in region.courses for q in c.quotes] + [f.quote for f in reading.red_flags]
    for rq in read:
        if _valid(note, rq.start, rq.end, rq.text):
            quotes[quote_id(rq.start, rq.end)] = (rq.start, rq.end)
    documents = {d.start: d for d in reading.documents if d.start <= len(note)}
    sections = {s.start: f"sec-{s.start}" for d in reading.documents for s in d.sections if s.start <= len(note)}
    cuts = sorted(
        {0, len(note), *(s for s, _, _ in spans), *(e for _, e, _ in spans), *(s for s, _ in quotes.values())}
        | {e for _, e in quotes.values()}
        | set(documents)
        | set(sections)
    )
    segments: list[Segment] = []
    anchors: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for a, b in pairwise(cuts):
        keys = sorted({k for s, e, k in spans if s <= a and b <= e})
        inside = [qid for qid, (s, e) in quotes.items() if s <= a and b <= e]
        seg = Segment(note[a:b], keys, quotes=inside, document=documents.get(a), section=sections.get(a))
        if keys or inside:
            seg.anchor = f"ev-{len(segments)}"
            for k in keys:
                anchors.setdefault(k, []).append(seg.anchor)
            for qid in inside:
                first.setdefault(qid, seg.anchor)
        segments.append(seg)
    return NoteView(text=note, reading=reading, segments=segments, anchors=anchors, first=first)
