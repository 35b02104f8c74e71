"""Pharmacy fill histories: a table of fills (fill date, drug, quantity, days supply) read row by row.

A claims or dispensing table says more than its words: each fill covers the days of its supply, so a
drug's course runs from its first fill to the end of its last supply, and a fill months before the
others is a separate course. Rows are read by column, from the table's header (``Fill date``, ``Drug``,
``Days``/``Days supply``), in Markdown (``|``) or space-aligned layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from agent.facts.durations import parse_date

__all__ = ["Fill", "FillTable", "courses_of", "find_fill_tables"]

_HEADER_DATE = re.compile(r"\b(?:fill(?:ed)?\s+date|date\s+(?:filled|dispensed)|dispens\w*\s+date|date\s+of\s+fill)\b", re.I)
_HEADER_DAYS = re.compile(r"^(?:days?(?:\s+supply)?|DS|day\s+supply|supply)$", re.I)
_HEADER_DRUG = re.compile(r"^(?:drug|medication|med|product|item|description)(?:\s+name)?$", re.I)
_DATE_CELL = re.compile(r"^(?:\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})$")
_LINE = re.compile(r"[^\n]*\n?")
_GAP_DAYS = 14  # a refill later than this after the supply ran out starts a new course


@dataclass(frozen=True)
class Fill:
    """One row: the drug's words, when it was filled, for how many days, and where the row is."""

    drug: str
    filled: date
    days: int
    start: int
    end: int


@dataclass(frozen=True)
class FillTable:
    start: int
    end: int
    fills: tuple[Fill, ...]


def _cells(line: str) -> list[str]:
    if "|" in line:
        return [c.strip() for c in line.strip().strip("|").split("|")]
    return [c.strip() for c in re.split(r"\s{2,}|\t", line.strip())]


def find_fill_tables(text: str, note_date: date | None) -> list[FillTable]:
    """Every fill table in ``text``: a header naming a fill date and a days-supply column, then its rows."""
    tables = []
    lines = []
    for m in _LINE.finditer(text):
        line = m.group().rstrip("\r\n")
        if m.group():
            lines.append((m.start(), m.start() + len(line), line))
    i = 0
    while i < len(lines):
        start, _, line = lines[i]
        header = _cells(line)
        days_col = next((k for k, c in enumerate(header) if _HEADER_DAYS.match(c)), None)
        date_col = next((k for k, c in enumerate(header) if _HEADER_DATE.search(c)), None)
        if not _HEADER_DATE.search(line) or days_col is None or date_col is None:
            i += 1
            continue
        drug_col = next((k for k, c in enumerate(header) if _HEADER_DRUG.match(c)), None)
        fills: list[Fill] = []
        end = lines[i][1]
        j = i + 1
        while j < len(lines):
            row_start, row_end, row = lines[j]
            cells = _cells(row)
            if row.strip() and set(row.strip()) <= set("|-: "):
                j += 1  # a Markdown separator row
                continue
            if len(cells) != len(header) or not _DATE_CELL.match(cells[date_col]):
                break
            filled = parse_date(cells[date_col], note_date=note_date)
            days = re.match(r"\d{1,3}", cells[days_col])
            if filled is not None and days is not None:
                drug = cells[drug_col] if drug_col is not None else row
                fills.append(Fill(drug=drug, filled=filled, days=int(days.group()), start=row_start, end=row_end))
            end = row_end
            j += 1
        if fills:
            tables.append(FillTable(start=start, end=end, fills=tuple(fills)))
        i = j
    return tables


def courses_of(fills: list[Fill], until: date | None) -> list[tuple[date, date, list[Fill]]]:
    """One drug's fills as courses: (first day, last day of supply, the fills), a refill more than
    ``_GAP_DAYS`` after the supply ran out starting a new course; no course runs past ``until``."""
    courses: list[tuple[date, date, list[Fill]]] = []
    for fill in sorted(fills, key=lambda f: f.filled):
        last = fill.filled + timedelta(days=max(fill.days, 1) - 1)
        if until is not None:
            last = max(min(last, until), fill.filled)
        if courses and fill.filled <= courses[-1][1] + timedelta(days=_GAP_DAYS):
            first, end, rows = courses[-1]
            courses[-1] = (first, max(end, last), [*rows, fill])
        else:
            courses.append((fill.filled, last, [fill]))
    return courses
