"""Medication lists with start and stop columns (agent/facts/med_lists.py), and the courses they give."""

from __future__ import annotations

from datetime import date

import pytest

from agent.cases.model import Case
from agent.facts.extract import extract_facts
from agent.facts.med_lists import find_med_tables

NOTE_DATE = date(2026, 10, 20)

PIPE = """MEDICATION LIST
| Medication        | Directions     | Start date | End date   | Status       |
|-------------------|----------------|------------|------------|--------------|
| naproxen 500 mg   | 1 PO BID       | 08/25/2026 |            | Active       |
| cyclobenzaprine   | qHS            | 09/01/2026 | 09/15/2026 | Completed    |
| tramadol 50 mg    | q6h            | 09/03/2026 |            | Discontinued |
| lisinopril 10 mg  | daily          | 2019       |            | Active       |
"""

ALIGNED = """Current meds:
Drug                 Sig              Start        Stop         Status
diclofenac 75 mg     1 PO BID         08/25/2026                Active
prednisone 10 mg     taper            09/01/2026   09/10/2026   Completed
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            PIPE,
            [("naproxen 500 mg", date(2026, 8, 25), None), ("cyclobenzaprine", date(2026, 9, 1), date(2026, 9, 15))],
            id="pipe-table-active-completed-stopped-undated",
        ),
        pytest.param(
            ALIGNED,
            [("diclofenac 75 mg", date(2026, 8, 25), None), ("prednisone 10 mg", date(2026, 9, 1), date(2026, 9, 10))],
            id="space-aligned-blank-stop-cell-stays-blank",
        ),
        pytest.param("| Drug | Dose |\n| naproxen | 500 mg |\n", [], id="no-start-column"),
        pytest.param("Medication started 08/25/2026 and naproxen since then.\n", [], id="prose-not-a-table"),
    ],
)
def test_rows_read_by_column(text: str, expected: list[tuple[str, date, date | None]]) -> None:
    rows = [(r.drug, r.started, r.stopped) for t in find_med_tables(text, NOTE_DATE) for r in t.rows]
    assert rows == expected


def _weeks(text: str) -> float | None:
    request = {"patient": {"age": 50}, "procedures": [{"code": "72141"}], "note_date": NOTE_DATE, "clinical_notes": text}
    return extract_facts(Case.model_validate({"id": "t", "request": request})).conservative_care.weeks_for()


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        pytest.param("Neck and arm pain, meds and therapy, not better.\n" + PIPE, 8.1, id="active-row-runs-to-the-note"),
        pytest.param("Neck pain.\n" + ALIGNED, 8.1, id="aligned-active-row"),
        pytest.param(
            "Neck pain.\n| Med | Start | Stop | Status |\n| ibuprofen 600 | 10/01/2026 | | PRN, rarely used |\n", None,
            id="rarely-used-prn-is-no-course",
        ),
    ],
)
def test_listed_courses_count(text: str, weeks: float | None) -> None:
    got = _weeks(text)
    assert (got is None) if weeks is None else got == pytest.approx(weeks, abs=0.3)
