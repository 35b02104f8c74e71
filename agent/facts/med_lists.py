"""Medication lists with start and stop columns, read row by row.

An EHR's medication list often says more than the narrative: "meds and therapy" in the history, while
the list dates each drug::

    | Drug              | Sig          | Start      | Stop       | Status    |
    | meloxicam 15 mg   | 1 PO daily   | 07/27/2026 |            | Active    |
    | medrol dosepak    | taper        | 07/20/2026 | 07/25/2026 | Completed |

Each row with a start date is one course: from its start to its stop date, or, with no stop date and a
status that does not say the drug was stopped, to the date of the document holding the list. A row
whose status says it was stopped, held or never taken, without a stop date, gives no course (its end is
unknown). Rows are read by column, from the header, in Markdown (``|``) or space-aligned layout (cut at
the header's column positions, so a blank stop cell stays blank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from agent.facts.durations import parse_date

__all__ = ["MedRow", "MedTable", "find_med_tables"]

_HEADER_DRUG = re.compile(r"^(?:drug|medications?|meds?|name|medication\s+name|drug\s+name|product|rx)$", re.I)
_HEADER_START = re.compile(r"^(?:start(?:ed)?(?:\s+(?:date|dt))?|date\s+started|begin|began|from|start/?stop)$", re.I)
_HEADER_STOP = re.compile(r"^(?:stop(?:ped)?|end(?:ed)?|d/?c(?:'?d)?|discontinued|(?:stop|end|d/?c)\s+(?:date|dt)|to)$", re.I)
_HEADER_STATUS = re.compile(r"^(?:status|state|active\?)$", re.I)
_DATE_CELL = re.compile(r"^(?:\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}|(?:0?[1-9]|1[0-2])/(?:19|20)\d{2})$")
_STOPPED = re.compile(
    r"\b(?:discontinued|d/c'?d|stopped|held|on\s+hold|not\s+taking|never\s+(?:taken|started|filled)|inactive|cancel+ed)\b", re.I
)
_LINE = re.compile(r"[^\n]*\n?")


@dataclass(frozen=True)
class MedRow:
    """One row: the drug's words, its start, its stop (None: still taken), and where the row is."""

    drug: str
    started: date
    stopped: date | None
    start: int
    end: int


@dataclass(frozen=True)
class MedTable:
    start: int
    end: int
    rows: tuple[MedRow, ...]


def _pipe_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _columns(header: str) -> list[tuple[int, str]]:
    """(position, name) of each header cell of a space-aligned table."""
    return [(m.start(), m.group()) for m in re.finditer(r"\S+(?:\s\S+)*", header)]


def _aligned_cells(line: str, columns: list[tuple[int, str]]) -> list[str]:
    cuts = [pos for pos, _ in columns] + [len(line) + 1]
    return [line[a:b].strip() if a < len(line) else "" for a, b in pairwise(cuts)]


def _header(line: str) -> tuple[list[str], list[tuple[int, str]] | None] | None:
    """The header's cell names (and column positions for a space-aligned table), if it names a drug
    column and a start column."""
    if "|" in line:
        names, columns = _pipe_cells(line), None
    else:
        columns = _columns(line)
        names = [name for _, name in columns]
        if len(names) < 3:
            return None
    if not any(_HEADER_DRUG.match(n) for n in names) or not any(_HEADER_START.match(n) for n in names):
        return None
    return names, columns


def find_med_tables(text: str, note_date: date | None) -> list[MedTable]:
    """Every medication list in ``text`` with a start column, and its dated rows."""
    lines = [(m.start(), m.group().rstrip("\r\n")) for m in _LINE.finditer(text) if m.group()]
    tables: list[MedTable] = []
    i = 0
    while i < len(lines):
        start, line = lines[i]
        found = _header(line)
        if found is None:
            i += 1
            continue
        names, columns = found
        drug_col = next(k for k, n in enumerate(names) if _HEADER_DRUG.match(n))
        start_col = next(k for k, n in enumerate(names) if _HEADER_START.match(n))
        stop_col = next((k for k, n in enumerate(names) if _HEADER_STOP.match(n)), None)
        status_col = next((k for k, n in enumerate(names) if _HEADER_STATUS.match(n)), None)
        rows: list[MedRow] = []
        j = i + 1
        while j < len(lines):
            row_start, row = lines[j]
            if row.strip() and set(row.strip()) <= set("|-:= "):
                j += 1  # a separator row
                continue
            cells = _pipe_cells(row) if columns is None else _aligned_cells(row, columns)
            if not row.strip() or len(cells) != len(names) or not cells[drug_col]:
                break
            j += 1
            started = parse_date(cells[start_col], note_date=note_date) if _DATE_CELL.match(cells[start_col]) else None
            if started is None:
                continue  # a row without a dated start ("2022", blank) gives no course
            stop_cell = cells[stop_col] if stop_col is not None else ""
            stopped = parse_date(stop_cell, note_date=note_date) if _DATE_CELL.match(stop_cell) else None
            status = cells[status_col] if status_col is not None else ""
            if stopped is None and (_STOPPED.search(status) or _STOPPED.search(stop_cell)):
                continue  # stopped on a day the list does not give: the course's end is unknown
            if stopped is not None and stopped < started:
                continue
            rows.append(MedRow(cells[drug_col], started, stopped, row_start, row_start + len(row)))
        if rows:
            tables.append(MedTable(start=start, end=rows[-1].end, rows=tuple(rows)))
        i = max(j, i + 1)
    return tables
