"""Regression gate over evals/cases with the offline backend (labels are read only here, to score)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cases import Decision, load_cases
from agent.knowledge import KnowledgeBase
from agent.review import Reviewer
from agent.settings import Settings

CASES = Path(__file__).parent.parent / "evals" / "cases"
MIN_ACCURACY = 0.95  # measured 67/69 = 0.971 on 2026-11-28


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, Decision, Decision, list[str], list[str]]]:
    loaded = load_cases([CASES])
    assert not loaded.errors and len(loaded.cases) >= 50
    reviewer = Reviewer(KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("kb"))), retrieve=False)
    rows = []
    for case in loaded.cases:
        assert case.expected is not None
        det = reviewer.review(case)
        assert not [v for v in det.validator_findings if v.severity != "info"], case.id
        for code, expected in case.expected.decisions.items():
            rows.append((case.id, code, expected, det.decisions[code], case.expected.red_flags, det.red_flags))
    return rows


def test_no_unsafe_denials(scored) -> None:
    # A deny where the label approves, or refers because of a red flag; a labeled deny is never unsafe.
    unsafe = [
        (cid, code)
        for cid, code, exp, got, flags, _ in scored
        if got == Decision.deny and exp != Decision.deny and (exp == Decision.approve or flags)
    ]
    assert unsafe == []


def test_red_flag_recall_is_complete(scored) -> None:
    misses = {(cid, f) for cid, _, _, _, expected, got in scored for f in expected if f not in got}
    assert misses == set()


def test_accuracy_at_least_baseline(scored) -> None:
    correct = sum(1 for _cid, _code, exp, got, _flags, _found in scored if exp == got)
    assert correct / len(scored) >= MIN_ACCURACY
