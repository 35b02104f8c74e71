"""Durations in clinical text: "6 weeks", "since 8/1", "from 7/14 to 8/25", "2 months ago".

``find_durations`` returns one ``DurationMention`` per expression, with exact offsets and the
length in weeks (days / 7, months x 4.345, years x 52.18). Four kinds:

* ``length``: a stated quantity ("10 weeks", "x6 wks", "six-week", "6+ weeks", "a month");
  "3-4 weeks" gives the lower bound. Vague quantities ("a few weeks", "several months") give
  nothing;
* ``range``: two dates ("from 7/14/2026 to 8/25/2026", "7/14 - 8/25", "7/1 through 9/1");
* ``since``: a start date up to ``note_date`` ("since 8/1", "since early August",
  "began in July", "started meloxicam on 2026-07-20");
* ``ago``: a quantity before ``note_date`` ("started 2 months ago").

Dates without a year take the year of ``note_date`` (the previous year if that would fall after
``note_date``). ``since`` and ``ago`` forms, and dates without a year, need ``note_date``;
without it they give no mention. A mention with a date after ``note_date`` is discarded.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import yaml

__all__ = ["DurationMention", "date_spans", "find_dates", "find_durations", "parse_date", "section_dates", "timeline_vocabulary"]

WEEKS_PER_UNIT = {"day": 1 / 7, "week": 1.0, "month": 4.345, "year": 52.18}

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
}  # fmt: skip
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_PART_OF_MONTH = {"early": 5, "mid": 15, "late": 25}

# --- regex building blocks ----------------------------------------------------------------------

_WORD_NUM = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_NUM = rf"(?:\d+(?:\.\d+)?|(?:{_WORD_NUM})(?=[\s-]))"
_UNIT = r"(?:days?|wks?|weeks?|mos?|months?|yrs?|years?)"
_UNIT_BY_LETTER = {"d": "day", "w": "week", "m": "month", "y": "year"}
_QUANTITY = (
    rf"(?P<num>{_NUM})(?:\s*(?:-|–|to)\s*(?P<num2>{_NUM}))?"
    rf"\s*\+?\s*-?\s*(?P<unit>{_UNIT})\.?(?!\w)(?!\s*-?\s*olds?\b)(?!\s+of\s+age\b)"
)
_NO_WORD_BEFORE = r"(?<![\w./-])"
_MONTH_NAMES = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?"
    r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH = rf"(?:{_MONTH_NAMES}|(?-i:May|MAY))\.?"  # "may" the verb is not a month
_ISO = r"\d{4}-\d{1,2}-\d{1,2}"
_US = r"\d{1,2}/\d{1,2}(?:/(?:\d{4}|\d{2}))?"
_US_MONTH_YEAR = r"(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}"  # "02/2025": the month, read as its first day like "February 2025"
_NAMED = (
    rf"(?:(?:early|mid|late)[\s-]+|mid-?)?{_MONTH}"
    r"(?:\s+\d{1,2}(?:st|nd|rd|th)?(?!\d))?(?:,?\s+\d{4})?"
)
_DATE = rf"(?:{_ISO}|{_US}|{_US_MONTH_YEAR}|{_NAMED}|yesterday|today)(?![\w/])"
# The open end of a range: "celecoxib 02/2025-present", "PT 9/2 to date".
_PRESENT = r"(?:present|now|current|ongoing|date)(?![\w/])"
_SEPARATOR = r"(?:-|–|—|to|through|thru|until|till|and)"
_SINCE_TRIGGER = (
    r"(?:(?:ongoing\s+)?since|from|(?:start(?:ed|ing)?|began|begin(?:ning)?|onset)"
    r"(?:\s+(?!(?:on|in)\b)[a-z0-9][\w'/.-]*){0,4}?(?:\s+(?:on|in))?)"
)

_RANGE_RE = re.compile(
    rf"(?<![\w/])(?:(?P<lead>from|between|since)\s+)?(?P<d1>{_DATE})\s*(?P<sep>{_SEPARATOR})"
    rf"\s*(?P<d2>{_DATE}|{_PRESENT})",
    re.IGNORECASE,
)
# A dated section header: a line that opens a visit or document within a longer note. The date must
# carry a year, and the line must look like a header (decorated, labelled, or a short visit title).
_FULL_DATE = r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))"
_VISIT_WORDS = (
    r"note|visit|eval\w*|consult\w*|summary|progress|f/?u|follow[-\s]?up|H&P|PCP|ED|ER|urgent\s+care|clinic|office"
    r"|telehealth|PT|therapy|discharge|encounter|exam|addendum|history"
)
_HEADER_RE = re.compile(
    rf"^[ \t]*(?:"
    rf"[=#*\[_-]{{2,}}[^\n]*?(?P<d1>{_FULL_DATE})"
    rf"|(?:DOS|date\s+of\s+(?:service|visit)|visit\s+date|note\s+date|encounter\s+date|date)\s*[:#-]?\s*(?P<d2>{_FULL_DATE})"
    rf"|(?P<d3>{_FULL_DATE})\s*(?:[:\-–—]|\s+(?:{_VISIT_WORDS})\b)"
    rf"|[^\n.]{{0,40}}?\b(?:{_VISIT_WORDS})\b[^\n.]{{0,30}}?(?P<d4>{_FULL_DATE})\s*[:)\]]?[ \t]*(?:\([^\n()]{{0,80}}\)[ \t]*)?$"
    # an inline header, its text after a colon: "PCP note 08/03/2026 (Dr. Ferrante): 7 days of ..."
    rf"|[^\n.:]{{0,40}}?\b(?:{_VISIT_WORDS})\b[^\n.:]{{0,30}}?(?P<d6>{_FULL_DATE})[ \t]*(?:\([^\n()]{{0,80}}\)[ \t]*)?:(?!\d)"
    rf")",
    re.MULTILINE | re.IGNORECASE,
)

# "since around the New Year": an approximate start, and the holiday as a date (January 1st).
_APPROX = r"(?:(?:around|about|approximately|approx\.?|roughly|circa|ca\.|~)\s*)?"
_NEW_YEAR = r"(?:the\s+)?new\s+year(?:'s)?(?:\s+day)?(?![\w/])"
_SINCE_RE = re.compile(rf"\b{_SINCE_TRIGGER}\s+{_APPROX}(?P<d1>{_DATE}|{_NEW_YEAR})", re.IGNORECASE)
# The date first, then the start: "09/23/2026: started ibuprofen", "On 9/2 she began PT".
_DATED_START_RE = re.compile(
    rf"(?<![\w/])(?:(?:on|in)\s+)?(?P<d1>{_DATE})\s*[:,\u2013\u2014-]?\s*"
    r"(?:(?:she|he|they|the\s+patient|patient|pt)\s+)?(?:was\s+|were\s+)?"
    r"(?:start(?:ed)?|began|begun|initiated|commenced)\b",
    re.IGNORECASE,
)
# A dated entry naming what was started: "09/23/2026: ibuprofen 600 mg TID started".
_DATED_ENTRY_START_RE = re.compile(
    rf"(?<![\w/])(?P<d1>{_DATE})\s*:\s*(?:[\w/.-]+\s+){{1,6}}?(?:was\s+|were\s+)?(?:started|begun|initiated|commenced)\b",
    re.IGNORECASE,
)
# A form that asks for start dates ("Conservative treatment (type / start date): naproxen - 01/16/2026;
# PT 2x/wk - 01/20/2026, still attending"): a date written after a dash or colon is a start.
_START_LABEL_RE = re.compile(r"\bstart(?:ed|ing)?\s+date|\bdate\s+(?:started|begun)|\(\s*(?:type|treatment)\s*/\s*start", re.I)
_FORM_START_RE = re.compile(rf"(?<=[-–—:])\s*(?P<d1>{_DATE})(?=\s*(?:[;,)]|$|still|ongoing|continu|current))", re.IGNORECASE)
_AGO_RE = re.compile(rf"{_NO_WORD_BEFORE}{_QUANTITY}\s+ago\b", re.IGNORECASE)
_LENGTH_RE = re.compile(rf"{_NO_WORD_BEFORE}(?:x\s*)?{_QUANTITY}", re.IGNORECASE)

_STRENGTH_GRADE = re.compile(r"[0-5]/5")
_PAIN_SCORE = re.compile(r"\d{1,2}/10")  # "pain 6/10": a score, not June 10
_ISO_RE = re.compile(rf"({_ISO})", re.IGNORECASE)
_US_RE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?")
_US_MONTH_YEAR_RE = re.compile(_US_MONTH_YEAR)
_NAMED_RE = re.compile(
    rf"(?:(?P<part>early|mid|late)[\s-]*)?(?P<month>{_MONTH_NAMES}|may)\.?"
    r"(?:\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?)?(?:,?\s+(?P<year>\d{4}))?",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def timeline_vocabulary() -> dict[str, re.Pattern[str]]:
    """The compiled patterns of ``data/timeline.yaml`` (frequencies, follow-up intervals, planned
    starts, "since then" anchors, sequence words)."""
    text = importlib.resources.files("agent.facts").joinpath("data/timeline.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {key: re.compile(value, re.IGNORECASE) for key, value in data.items() if isinstance(value, str)}


@dataclass(frozen=True)
class DurationMention:
    """A duration expression: offsets into the text given (plus ``offset``) and its length."""

    start: int
    end: int
    text: str
    weeks: float
    kind: str  # "length" | "range" | "since" | "ago"
    start_date: date | None = None
    end_date: date | None = None
    prescribed: bool = False  # "PT 2x/wk x 6 wks": the length of an ordered course, not a completed one


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    mention: DurationMention | None  # None: recognised but not computable; still claims its span


def find_durations(text: str, *, note_date: date | None, offset: int = 0, anchor: date | None = None) -> list[DurationMention]:
    """Find duration expressions in ``text`` (see the module docstring), in text order.

    Where expressions overlap, the longest wins ("2 months ago" over "2 months"). ``anchor`` is the
    date "since then" refers to (the caller knows the documents); without it such a phrase gives
    nothing. Frequencies ("2x a week") and follow-up intervals ("f/u 4-6 wks") are not durations.
    """
    anchored = timeline_vocabulary()["since_anchor"]
    candidates = [
        *_candidates(anchored, text, offset, lambda m: _anchored(m, text, note_date, offset, anchor)),
        *_candidates(_RANGE_RE, text, offset, lambda m: _range(m, text, note_date, offset)),
        *_candidates(_SINCE_RE, text, offset, lambda m: _since(m, text, note_date, offset)),
        *_candidates(_DATED_START_RE, text, offset, lambda m: _since(m, text, note_date, offset)),
        *_candidates(_DATED_ENTRY_START_RE, text, offset, lambda m: _since(m, text, note_date, offset)),
        *(
            _candidates(_FORM_START_RE, text, offset, lambda m: _since(m, text, note_date, offset))
            if _START_LABEL_RE.search(text)
            else ()
        ),
        *_candidates(_AGO_RE, text, offset, lambda m: _ago(m, text, note_date, offset)),
        *_candidates(_LENGTH_RE, text, offset, lambda m: _length(m, text, offset)),
    ]
    kept: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c.start - c.end, c.start)):
        if all(candidate.end <= other.start or other.end <= candidate.start for other in kept):
            kept.append(candidate)
    mentions = [candidate.mention for candidate in kept if candidate.mention is not None]
    return sorted(mentions, key=lambda mention: mention.start)


_DATE_TOKEN_RE = re.compile(rf"(?<![\w/]){_DATE}", re.IGNORECASE)


def find_dates(text: str, *, note_date: date | None, offset: int = 0) -> list[tuple[int, date]]:
    """(offset, date) of every date written in ``text`` that is not after ``note_date``; strength
    grades and pain scores that look like dates ("4/5", "6/10") are skipped."""
    return [(start, when) for start, _, when in date_spans(text, note_date=note_date, offset=offset)]


_MONTH_YEAR = re.compile(r"(?<![\w/])(?:(\d{1,2})/)?((?:19|20)\d{2})(?![\w/])")


def dated_long_before(text: str, note_date: date | None, days: int, *, year_written: bool = False) -> bool:
    """Every date written in ``text`` is at least ``days`` before the note (and there is one). "01/2020"
    and "2019" count as the latest day they can mean; ``year_written``: a day and month without a year
    (which take the note's year) are left out."""
    if note_date is None:
        return False
    dates = [when for _, when in find_dates(text, note_date=note_date) if not year_written or _has_year(text, when)]
    for match in _MONTH_YEAR.finditer(text):
        month, year = int(match.group(1) or 12), int(match.group(2))
        if 1 <= month <= 12:
            dates.append(date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
    return bool(dates) and all((note_date - when).days >= days for when in dates)


def _has_year(text: str, when: date) -> bool:
    """The text writes the year of ``when``."""
    return str(when.year) in text or f"/{when.year % 100:02d}" in text


def date_spans(text: str, *, note_date: date | None, offset: int = 0) -> list[tuple[int, int, date]]:
    """(start, end, date) of every date written in ``text``, as ``find_dates`` finds them."""
    found = []
    for match in _DATE_TOKEN_RE.finditer(text):
        token = match.group(0)
        if _STRENGTH_GRADE.fullmatch(token) or _PAIN_SCORE.fullmatch(token) or token.lower() in ("today", "yesterday"):
            continue
        when = parse_date(token, note_date=note_date)
        if when is not None and not _after(when, note_date):
            found.append((offset + match.start(), offset + match.end(), when))
    return found


# A document title in capitals with its date, then anything (an author): "ST. LUKE'S EMERGENCY
# DEPARTMENT - 02/02/2026", "CORNERSTONE HEALTH PARTNERS - OFFICE VISIT 03/09/2026 - Derek Lowry, DO".
_CAPS_TITLE_RE = re.compile(
    rf"^[ \t]*(?P<title>[A-Z0-9][A-Z0-9 .,'&/()#+-]{{3,90}}?)[ \t]*(?:[-–—:|][ \t]*)?(?:\((?:[a-z]+\s+)?)?"
    rf"(?P<d5>{_FULL_DATE})(?![\d/])[^\n]{{0,80}}$",
    re.MULTILINE,
)
# A capital title, then a few words before its date: "CEDAR HOLLOW FAMILY PRACTICE   Encounter 04/20/2026
# 10:15", "OPERATIVE REPORT - date of surgery 06/14/2018 (copy)", "MEDICATION LIST (reconciled 04/20/2026)".
_CAPS_TITLE_WORDS_RE = re.compile(
    rf"^[ \t]*(?P<title>[A-Z][A-Z0-9.,'&/#+-]*(?:[ \t]+[A-Z0-9][A-Z0-9.,'&/#+-]*){{1,8}})\b[ \t]*[-–—:(|]?[ \t]*"
    rf"(?:(?!(?i:since|from|until|till|after|before|starting|started|began|begun|on|x)\b)[A-Za-z]+[ \t]+){{0,4}}"
    rf"(?P<d5>{_FULL_DATE})(?![\d/])[^\n]{{0,60}}$",
    re.MULTILINE,
)
_DOCUMENT_WORDS = re.compile(
    rf"\b(?:{_VISIT_WORDS}|EMERGENCY|DEPARTMENT|HOSPITAL|RECORD|REPORT|CENTER|CENTRE|PRACTICE|PARTNERS|"
    r"PHYSIOTHERAPY|CHIROPRACTIC|ORTHOPA?EDICS?|NEUROLOGY|NEUROSURGERY|RADIOLOGY|IMAGING|LETTER|REFERRAL|"
    r"QUESTIONNAIRE|INTAKE|LIST|FORM|LOG|RECORDS?|OPERATIVE|PROCEDURE|LABORATORY|LABS?|PHARMACY)\b",
    re.IGNORECASE,
)


# An attached old record dated only by its year: "[Attached: impairment rating report (2004), verbatim]",
# "=== OUTSIDE OPERATIVE REPORT (2011) ===". The line is decorated or opens with "attached", names a
# record, and writes the year in brackets; it dates its section at the year's last day (the latest it can
# mean), and only when that is two years or more before the note, where the day cannot matter.
_YEAR_TITLE_RE = re.compile(
    r"^[ \t]*(?:(?:\[|[=#*_-]{2,})[ \t]*|(?=attach))[^\n]{0,80}?\b(?:report|dictation|record|records|note|letter|summary|consult"
    r"|consultation|evaluation|H&P)\b[^\n]{0,60}?\(\s*(?P<year>(?:19|20)\d{2})\s*\)[^\n]{0,60}$",
    re.MULTILINE | re.IGNORECASE,
)
_PROSE_BEFORE_DATE = re.compile(r"\b(?:since|from|until|till|after|before|starting|started|began|begun|on|x)\s*$", re.I)


def section_dates(text: str, *, note_date: date | None) -> list[tuple[int, date]]:
    """(offset, date) of each dated section header in ``text``, in order: "=== PCP 07/21/2026 ===",
    "DOS: 2026-07-21", "07/21/2026 - PT progress note", "Spine consult 9/18/2026". A statement in that
    section ("pain x 2 wks") was true on that date. Dates after ``note_date`` are ignored."""
    found = {}
    for match in _HEADER_RE.finditer(text):
        token = next(g for g in match.group("d1", "d2", "d3", "d4", "d6") if g)
        when = parse_date(token, note_date=note_date)
        if when is not None and not _after(when, note_date):
            found[match.start()] = when
    for match in [*_CAPS_TITLE_RE.finditer(text), *_CAPS_TITLE_WORDS_RE.finditer(text)]:
        if match.start() in found or not _DOCUMENT_WORDS.search(text[match.start() : match.start("d5")]):
            continue
        if _PROSE_BEFORE_DATE.search(text[match.start() : match.start("d5")]):
            continue  # "PT SEEN 2X A WEEK SINCE 01/02/2026": a dictated sentence, not a title
        when = parse_date(match.group("d5"), note_date=note_date)
        if when is not None and not _after(when, note_date):
            found[match.start()] = when
    for match in _YEAR_TITLE_RE.finditer(text):
        year = int(match.group("year"))
        if match.start() not in found and note_date is not None and year <= note_date.year - 2:
            found[match.start()] = date(year, 12, 31)
    return sorted(found.items())


def parse_date(token: str, *, note_date: date | None) -> date | None:
    """Parse one date: ISO, US (m/d, m/d/yy, m/d/yyyy), month names, "yesterday"/"today".

    Month names without a day give the 1st ("August"), 5th ("early August"), 15th ("mid
    August") or 25th ("late August"). A date without a year takes ``note_date``'s year, or the
    previous year if it would fall after ``note_date``; without ``note_date`` it is None. Returns
    None for anything unparseable or impossible (2/30).
    """
    token = token.strip()
    lower = token.lower()
    if re.fullmatch(_NEW_YEAR, lower):
        return None if note_date is None else date(note_date.year, 1, 1)
    if lower in ("today", "yesterday"):
        if note_date is None:
            return None
        return note_date - timedelta(days=1) if lower == "yesterday" else note_date
    if _ISO_RE.fullmatch(token):
        year, month, day = (int(part) for part in token.split("-"))
        return _make_date(year, month, day)
    if _US_MONTH_YEAR_RE.fullmatch(token):
        month_text, year_text = token.split("/")
        return _make_date(int(year_text), int(month_text), 1)
    us = _US_RE.fullmatch(token)
    if us:
        us_year = _full_year(us.group(3)) if us.group(3) else None
        return _dated(us_year, int(us.group(1)), int(us.group(2)), note_date)
    return _parse_named(token, note_date)


# --- candidates ---------------------------------------------------------------------------------


def _candidates(
    regex: re.Pattern[str],
    text: str,
    offset: int,
    build: Callable[[re.Match[str]], DurationMention | None],
) -> Iterator[_Candidate]:
    for match in regex.finditer(text):
        yield _Candidate(offset + match.start(), offset + match.end(), build(match))


def _mention(
    match: re.Match[str], text: str, offset: int, weeks: float, kind: str,
    start_date: date | None = None, end_date: date | None = None,
) -> DurationMention:  # fmt: skip
    return DurationMention(
        start=offset + match.start(),
        end=offset + match.end(),
        text=text[match.start() : match.end()],
        weeks=weeks,
        kind=kind,
        start_date=start_date,
        end_date=end_date,
    )


def _range(match: re.Match[str], text: str, note_date: date | None, offset: int) -> DurationMention | None:
    lead = (match.group("lead") or "").lower()
    if match.group("sep").lower() == "and" and lead != "between":
        return None
    if not lead and all(_STRENGTH_GRADE.fullmatch(match.group(g)) for g in ("d1", "d2")):
        return None  # "strength 5/5 - 4/5" is a motor grade, not a date range
    first = parse_date(match.group("d1"), note_date=note_date)
    present = re.fullmatch(_PRESENT, match.group("d2"), re.IGNORECASE) is not None
    last = note_date if present else parse_date(match.group("d2"), note_date=note_date)
    if first is None or last is None:
        return None
    if first > last and _has_no_year(match.group("d1")):
        first = _previous_year(first)
    if first is None or first > last or _after(last, note_date):
        return None
    return _mention(match, text, offset, (last - first).days / 7, "range", first, last)


def _since(match: re.Match[str], text: str, note_date: date | None, offset: int) -> DurationMention | None:
    if note_date is None:
        return None
    token = match.group("d1")
    trigger = text[match.start() : match.start("d1")]
    if timeline_vocabulary()["planned_start"].search(text[max(0, match.start() - 20) : match.start("d1")]):
        return None  # "PT to start 11/10": a start still to come
    if re.search(r"\b(?:start|begin|began|onset)", trigger, re.IGNORECASE) and _has_no_year(token):
        this_year = _make_date(note_date.year, *(_month_day(token) or (0, 0)))
        if this_year is not None and this_year > note_date:
            return None  # "starting 12/1" on 11/1 is next month, not last year
    first = parse_date(token, note_date=note_date)
    if first is None or first > note_date:
        return None
    return _mention(match, text, offset, (note_date - first).days / 7, "since", first, note_date)


def _anchored(
    match: re.Match[str], text: str, note_date: date | None, offset: int, anchor: date | None
) -> DurationMention | None:
    if note_date is None or anchor is None or anchor > note_date:
        return None
    return _mention(match, text, offset, (note_date - anchor).days / 7, "since", anchor, note_date)


def _month_day(token: str) -> tuple[int, int] | None:
    """Month and day of a date written without a year (None where it has none to give)."""
    us = _US_RE.fullmatch(token.strip())
    if us:
        return int(us.group(1)), int(us.group(2))
    named = _NAMED_RE.fullmatch(token.strip())
    if named:
        month = _MONTHS.get(named.group("month")[:3].lower())
        part = (named.group("part") or "").lower()
        day = int(named.group("day")) if named.group("day") else _PART_OF_MONTH.get(part, 1)
        return (month, day) if month else None
    return None


def _ago(match: re.Match[str], text: str, note_date: date | None, offset: int) -> DurationMention | None:
    weeks = _quantity_weeks(match)
    if note_date is None or weeks is None:
        return None
    first = note_date - timedelta(days=round(weeks * 7))
    return _mention(match, text, offset, weeks, "ago", first, note_date)


def _length(match: re.Match[str], text: str, offset: int) -> DurationMention | None:
    weeks = _quantity_weeks(match)
    if weeks is None:
        return None
    vocabulary = timeline_vocabulary()
    before = text[max(0, match.start("num") - 60) : match.start("num")]
    if vocabulary["frequency_before"].search(before) or vocabulary["follow_up_before"].search(before):
        return None  # "2x a week", "f/u 4-6 wks": not a length of anything
    mention = _mention(match, text, offset, weeks, "length")
    if vocabulary["prescription_before"].search(before):
        return DurationMention(**{**mention.__dict__, "prescribed": True})
    return mention


def _quantity_weeks(match: re.Match[str]) -> float | None:
    """Weeks for a quantity match; a range of quantities gives its lower bound."""
    value = _number(match.group("num"))
    if match.group("num2"):
        value = min(value, _number(match.group("num2")))
    if value <= 0:
        return None
    return value * WEEKS_PER_UNIT[_UNIT_BY_LETTER[match.group("unit")[0].lower()]]


def _number(token: str) -> float:
    lower = token.lower()
    return float(_NUMBER_WORDS[lower]) if lower in _NUMBER_WORDS else float(lower)


# --- dates --------------------------------------------------------------------------------------


def _parse_named(token: str, note_date: date | None) -> date | None:
    match = _NAMED_RE.fullmatch(token)
    if match is None:
        return None
    month = _MONTHS.get(match.group("month")[:3].lower())
    if month is None:
        return None
    part = (match.group("part") or "").lower()
    day = int(match.group("day")) if match.group("day") else _PART_OF_MONTH.get(part, 1)
    year = int(match.group("year")) if match.group("year") else None
    return _dated(year, month, day, note_date)


def _dated(year: int | None, month: int, day: int, note_date: date | None) -> date | None:
    """Build a date, inferring a missing year from ``note_date``."""
    if year is not None:
        return _make_date(year, month, day)
    if note_date is None:
        return None
    candidate = _make_date(note_date.year, month, day)
    if candidate is not None and candidate <= note_date:
        return candidate
    return _make_date(note_date.year - 1, month, day)


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _full_year(token: str) -> int:
    return int(token) if len(token) == 4 else 2000 + int(token)


def _has_no_year(token: str) -> bool:
    token = token.strip().lower()
    return token not in ("today", "yesterday") and not re.search(r"\d{4}|\d+/\d+/\d+", token)


def _previous_year(day: date) -> date | None:
    return _make_date(day.year - 1, day.month, day.day)


def _after(day: date, note_date: date | None) -> bool:
    return note_date is not None and day > note_date
