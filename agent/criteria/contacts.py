"""Contacts: the dated encounters in a request's documentation, for criteria that count visits.

A payer's policy asks for an in-person evaluation with a neurologic examination and, after the trial of
care, a re-evaluation as a separate contact (a visit, a telehealth call, a phone call or a portal
message). The reader's facts say what was found, not in which encounter; this module splits the
documentation at its dated section headers ("=== PCP 07/21/2026 ===", "DOS: 2026-07-21",
"Spine consult 9/18/2026", an attachment's header with its date) and reads each part as one contact:
its date, whether it was remote, and the neurologic-examination finding it records, with the span.

Worked examples (``tests/test_criteria_contacts.py`` holds them one per row):

* "Office visit 08/01/2026 ... Strength 5/5, reflexes 2+ ..." and "Telehealth 09/15/2026: no better":
  an in-person evaluation, and a re-evaluation 6.4 weeks later.
* One visit whose note says "PT x 6 weeks, no better. Strength 5/5": an evaluation, no re-evaluation.
* "Video visit 08/01/2026 ... strength 5/5 by self-report": remote, so not an in-person evaluation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from agent.cases.model import Case
from agent.facts.durations import find_durations, parse_date, section_dates
from agent.facts.model import Evidence

REMOTE = re.compile(
    r"\b(tele-?health|telemedicine|video\s+visit|virtual\s+visit|tele-?phone|phone\s+(?:call|visit|f/?u|follow)|"
    r"called\s+(?:the\s+)?patient|patient\s+called|portal\s+message|e-?visit|mychart\s+message)\b",
    re.IGNORECASE,
)
NEURO_EXAM = re.compile(
    r"\b(strength\b[^.\n]{0,40}?\d(?:\+|-)?/5|\d(?:\+|-)?/5\b|reflex(?:es)?\b|DTRs?\b|sensation\b|"
    r"straight[-\s]leg[-\s]raise|SLR\b|neuro(?:logic(?:al)?)?\s+exam\w*|Spurling|Hoffmann?)",
    re.IGNORECASE,
)
_DATE = r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))"
_FULL_DATE = re.compile(rf"\b({_DATE})\b")
_RANGE = re.compile(rf"[ \t]*{_DATE}\s*(?:-|\u2013|\u2014|to|through)\s*{_DATE}", re.IGNORECASE)
# A visit line the reader's section headers do not cover: "Office visit 08/01/2026: ...",
# "Telehealth follow-up 09/15/2026 - ..." (a visit word, then the date and a colon or dash).
_VISIT_LINE = re.compile(
    rf"^[ \t]*[^\n.:]{{0,40}}?\b(?:visit|note|consult\w*|eval\w*|follow[-\s]?up|f/u|telehealth|phone\s+call|"
    rf"portal\s+message|exam|encounter|appointment|seen)\b[^\n.:]{{0,30}}?(?P<d>{_DATE})\s*[:\-\u2013\u2014]",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Contact:
    """One dated part of the documentation: [start, end) in ``Request.documentation``."""

    on: date
    start: int
    end: int
    remote: bool
    exam: Evidence | None  # the first neurologic-examination finding, if any


def _evidence(text: str, start: int, end: int) -> Evidence:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    quote = text[line_start:line_end].strip()
    offset = line_start + (len(text[line_start:line_end]) - len(text[line_start:line_end].lstrip()))
    return Evidence(quote=quote, start=offset, end=offset + len(quote), term="contact")


def contacts(case: Case) -> list[Contact]:
    """The dated contacts of a case, in document order. Text before the first dated header is the note
    itself, dated ``note_date`` (no contact when the note has no date)."""
    text = case.request.documentation
    note_date = case.request.note_date
    # a date that opens a range ("08/10/2026-10/05/2026 (8 weeks) of PT", wrapped to a line start) is a
    # course of treatment, not a visit header
    headers = {pos: when for pos, when in section_dates(text, note_date=note_date) if not _RANGE.match(text, pos)}
    for match in _VISIT_LINE.finditer(text):
        when = parse_date(match.group("d"), note_date=note_date)
        if when is not None and (note_date is None or when <= note_date):
            headers.setdefault(match.start(), when)
    starts = sorted(headers.items())
    if note_date is not None and (not starts or starts[0][0] > 0) and text[: starts[0][0] if starts else len(text)].strip():
        starts.insert(0, (0, note_date))
    found = []
    for n, (start, when) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(text)
        body = text[start:end]
        head = body[:200]
        exam = NEURO_EXAM.search(body)
        found.append(
            Contact(
                on=when,
                start=start,
                end=end,
                remote=bool(REMOTE.search(head)),
                exam=_evidence(text, start + exam.start(), start + exam.end()) if exam else None,
            )
        )
    return found


def contact_evidence(case: Case, contact: Contact) -> Evidence:
    """The contact's header line, as evidence."""
    return _evidence(case.request.documentation, contact.start, contact.start)


def study_weeks_ago(quote: str, reference: date) -> float | None:
    """How long before ``reference`` the study a prior-imaging quote describes was done: "MRI 2 months
    ago" (8.7 weeks), "MRI lumbar spine 03/02/2026"; None when the quote gives no date."""
    ago = [d for d in find_durations(quote, note_date=reference) if d.kind == "ago"]
    if ago:
        return round(ago[0].weeks, 1)
    for match in _FULL_DATE.finditer(quote):
        when = parse_date(match.group(1), note_date=reference)
        if when is not None and when <= reference:
            return round((reference - when).days / 7, 1)
    return None
