"""Yes/No answer tables in forms: the column a row's mark sits in gives the answer."""

from __future__ import annotations

import pytest

from agent.facts.tables import answered_no
from tests.test_reader_context import flags

FORM = """Intake
| Question | Yes | No |
|---|:---:|---|
| Chills or night fevers | | X |
| Leg weakness getting worse | ✓ | |
| Known cancer | x | x |
| Trouble passing urine | | |

Back pain for 3 weeks."""


def test_only_rows_marked_no_are_answered_no() -> None:
    labels = [FORM[start:end].strip() for start, end in answered_no(FORM)]
    assert labels == ["Chills or night fevers"]


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("| Symptom | Yes | No |\n|---|---|---|\n| Fevers | | x |\n| Weight loss without trying | | x |", set()),
        ("| Symptom | Yes | No |\n|---|---|---|\n| Fevers | x | |", {"infection"}),
        ("| Symptom | No | Yes |\n|---|---|---|\n| Saddle numbness | | x |", {"cauda_equina"}),
        ('| Symptom | Yes | No |\n|---|---|---|\n| Fevers | | x ("had flu in May") |', set()),
        ("| Symptom | Answer |\n|---|---|\n| Fevers | x |", {"infection"}),
        (
            "| Symptom | Yes | No |\n|---|---|---|\n| Fevers | | x |\n\n| Note | Text |\n|---|---|\n| Fevers | 39.1 today |",
            {"infection"},
        ),
    ],
    ids=["marked-no", "marked-yes", "columns-swapped", "mark-with-comment", "no-answer-columns", "table-ends"],
)
def test_answer_table_rows(note: str, expected: set[str]) -> None:
    assert flags(note) == expected
