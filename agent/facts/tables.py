"""Yes/No answer tables in forms and questionnaires, read by column.

Intake forms are often pasted as Markdown tables whose header names the answers and whose rows
mark one of them::

    | Symptom             | Yes | No |
    |---------------------|-----|----|
    | Fever or chills     |     | x  |
    | Weakness in legs    | x   |    |

Which answer a row gives depends on the column its mark sits in, which a phrase rule cannot see.
``answered_no`` returns the character spans of the row labels marked in a "No" column; the reader
treats a mention inside one as negated. A row marked in both columns, or in neither, is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

__all__ = ["Cell", "answered_no", "marked_resolved"]

_YES = re.compile(r"^(?:yes|y|present|positive)$", re.IGNORECASE)
_NO = re.compile(r"^(?:no|n|absent|negative|denies)$", re.IGNORECASE)
_MARK = re.compile(r"^\s*[*_]{0,2}\s*(?:x|✓|✔|☒|yes|y)\b", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


@dataclass(frozen=True)
class Cell:
    start: int
    end: int
    text: str


def _cells(line: str, offset: int) -> list[Cell]:
    """The cells of one table line (``| a | b |``), with offsets into the note."""
    bars = [i for i, char in enumerate(line) if char == "|"]
    if len(bars) < 2:
        return []
    return [Cell(offset + a + 1, offset + b, line[a + 1 : b]) for a, b in pairwise(bars)]


def _rows(note: str) -> Iterator[list[Cell] | None]:
    """The cells of each ``|`` table row of the note, in order; None where a table ends (a line that is
    not a row). Divider rows are skipped."""
    offset = 0
    for line in note.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        text = line.rstrip("\r\n")
        if not text.lstrip().startswith("|"):
            yield None
        elif not _DIVIDER.match(text):
            yield _cells(text, start)


def _labels(cells: list[Cell]) -> list[str]:
    return [cell.text.strip().strip("*_ ") for cell in cells]


def answered_no(note: str) -> list[tuple[int, int]]:
    """Spans of the first cell of every row marked only in a "No" column of a Yes/No table."""
    spans: list[tuple[int, int]] = []
    yes_col: int | None = None
    no_col: int | None = None
    for cells in _rows(note):
        if cells is None:
            yes_col = no_col = None  # the table ended
            continue
        labels = _labels(cells)
        if any(_NO.match(label) for label in labels[1:]):  # a header row naming the answers
            no_col = next(i for i, label in enumerate(labels) if i and _NO.match(label))
            yes_col = next((i for i, label in enumerate(labels) if i and _YES.match(label)), None)
            continue
        if no_col is None or no_col >= len(cells) or not cells:
            continue
        marked_no = bool(_MARK.match(cells[no_col].text))
        marked_yes = yes_col is not None and yes_col < len(cells) and bool(_MARK.match(cells[yes_col].text))
        if marked_no and not marked_yes:
            spans.append((cells[0].start, cells[0].end))
    return spans


_STATUS_HEADER = re.compile(r"^(?:status|state|problem\s+status|clinical\s+status)$", re.IGNORECASE)
_RESOLVED_STATUS = re.compile(
    r"^(?:resolved|inactive|historical|history\s+of|past|remote|healed|in\s+remission|remission)\b", re.IGNORECASE
)


def marked_resolved(note: str) -> list[tuple[int, int]]:
    """Spans of the rows of a problem list (a ``|`` table with a Status column) whose status says the
    problem is over: "| Acute pyelonephritis | Resolved | 11/2025 |". A mention in such a row is
    resolved whatever its words; rows marked Active (or with no status) are left alone."""
    spans: list[tuple[int, int]] = []
    status_col: int | None = None
    for cells in _rows(note):
        if cells is None:
            status_col = None  # the table ended
            continue
        labels = _labels(cells)
        header = next((i for i, label in enumerate(labels) if _STATUS_HEADER.match(label)), None)
        if header is not None:
            status_col = header
            continue
        if status_col is not None and status_col < len(cells) and _RESOLVED_STATUS.match(labels[status_col]):
            spans.append((cells[0].start, cells[-1].end))
    return spans
