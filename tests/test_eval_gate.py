"""Regression gate: the eval runner over evals/cases with the offline backend, against evals/baseline.json.

The runner reviews every case blind (labels stripped) and scores it; this test only reads the
summary and the comparison. Accepting a new baseline is a deliberate act:
``umreview eval evals/cases --results evals/baseline.json`` (see evals/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cases.load import load_cases
from agent.evals.compare import DEFAULT_TOLERANCE, Comparison, compare
from agent.evals.results import EvalResults, load_results
from agent.evals.run import run_eval
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import Settings

EVALS = Path(__file__).parent.parent / "evals"


@pytest.fixture(scope="module")
def baseline() -> EvalResults:
    return load_results(EVALS / "baseline.json")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> EvalResults:
    loaded = load_cases([EVALS / "cases"])
    assert not loaded.errors and len(loaded.cases) >= 50
    reviewer = Reviewer(KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("kb"))), retrieve=False)
    return run_eval(loaded.cases, reviewer, sources=loaded.sources)


@pytest.fixture(scope="module")
def comparison(results: EvalResults, baseline: EvalResults) -> Comparison:
    return compare(results, baseline, tolerance=DEFAULT_TOLERANCE)


def test_offline_drafts_pass_the_validator(results: EvalResults) -> None:
    blocking = [(c.id, f.kind) for c in results.cases for f in c.findings if f.severity != "info"]
    assert blocking == [] and results.summary["errors"] == 0


def test_no_unsafe_denials(results: EvalResults) -> None:
    # A deny where the label approves, or where the case has a red flag; a labeled deny is never unsafe.
    assert results.summary["unsafe_denials"] == []


def test_red_flag_recall_is_complete(results: EvalResults) -> None:
    assert results.summary["red_flags"]["misses"] == []
    assert results.summary["red_flags"]["recall"] == 1.0


def test_accuracy_at_least_baseline(results: EvalResults, baseline: EvalResults, comparison: Comparison) -> None:
    assert results.summary["accuracy"] >= baseline.summary["accuracy"] - DEFAULT_TOLERANCE
    assert not comparison.regression, comparison.reasons


@pytest.mark.parametrize("folder", ["holdout", "holdout-2", "holdout-3"])
def test_held_out_sets_stay_safe(folder: str, tmp_path: Path) -> None:
    """The held-out sets, once scored, were used to fix the extractor; they now guard safety: no unsafe
    denial and no missed red flag (accuracy is reported by `umreview eval`, not gated here)."""
    loaded = load_cases([EVALS / folder])
    assert not loaded.errors and len(loaded.cases) >= 35
    reviewer = Reviewer(KnowledgeBase(Settings(data_dir=tmp_path)), retrieve=False)
    summary = run_eval(loaded.cases, reviewer, sources=loaded.sources).summary
    assert summary["unsafe_denials"] == [] and summary["red_flags"]["misses"] == []
