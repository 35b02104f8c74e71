"""Compare an eval run with a baseline: per-case diff, McNemar per category, the regression verdict.

Regression (exit code 1 with ``--fail-on-regression``) is any of:

* an unsafe denial (case, code) the baseline did not have;
* a red-flag miss (case, flag) the baseline did not have;
* accuracy on the (case, code) pairs both runs scored lower than the baseline's by more than
  ``tolerance`` (default 0.02, about 1.4 of the 69 labeled codes in evals/cases).

Without a baseline the comparison is against an empty one: every unsafe denial and every red-flag
miss counts as new, and accuracy is not compared.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.evals.metrics import headline, ratio, red_flag_misses, safety_errors
from agent.evals.metrics import mcnemar_exact as mcnemar
from agent.evals.results import CaseResult, EvalResults

DEFAULT_TOLERANCE = 0.02
Status = Literal["fixed", "broken", "changed", "new", "removed"]


class CodeChange(BaseModel):
    code: str
    expected: str | None
    expected_baseline: str | None = Field(default=None, description="the baseline's label, if it differs")
    baseline: str | None
    current: str | None


class DiffRow(BaseModel):
    """One case whose result differs from the baseline."""

    case: str
    status: Status
    codes: list[CodeChange] = Field(default_factory=list)
    flags_baseline: list[str] = Field(default_factory=list)
    flags_current: list[str] = Field(default_factory=list)
    label_changed: bool = False
    label_flags_baseline: list[str] = Field(default_factory=list)
    label_flags_current: list[str] = Field(default_factory=list)


class PairedTest(BaseModel):
    """McNemar's exact test on (case, code) pairs of one category."""

    category: str
    n: int
    baseline_accuracy: float | None
    current_accuracy: float | None
    only_baseline_correct: int = Field(description="b: right in the baseline, wrong now")
    only_current_correct: int = Field(description="c: wrong in the baseline, right now")
    p_value: float


class Comparison(BaseModel):
    baseline: str
    baseline_created_at: str | None = None
    baseline_headline: dict[str, float | int | None] = Field(default_factory=dict)
    tolerance: float
    shared_pairs: int
    baseline_accuracy: float | None
    current_accuracy: float | None
    new_unsafe_denials: list[dict[str, str]]
    new_red_flag_misses: list[dict[str, str]]
    rows: list[DiffRow]
    counts: dict[str, int]
    paired: list[PairedTest]
    reasons: list[str]

    @property
    def regression(self) -> bool:
        return bool(self.reasons)

    def summary(self) -> dict[str, Any]:
        """The block stored as ``summary.comparison`` in the results JSON."""
        return {**self.model_dump(mode="json"), "regression": self.regression}


def _status(base: CaseResult, cur: CaseResult) -> Status | None:
    if base.correct != cur.correct:
        return "fixed" if cur.correct else "broken"
    same = (
        base.predicted.decisions == cur.predicted.decisions
        and sorted(base.predicted.red_flags) == sorted(cur.predicted.red_flags)
        and base.expected.decisions == cur.expected.decisions
        and sorted(base.expected.red_flags) == sorted(cur.expected.red_flags)
    )
    return None if same else "changed"


def _row(status: Status, base: CaseResult | None, cur: CaseResult | None) -> DiffRow:
    ref = cur or base
    assert ref is not None
    codes = sorted(set(base.codes if base else {}) | set(cur.codes if cur else {}))
    changes = []
    for code in codes:
        now = cur.codes[code].expected if cur and code in cur.codes else None
        was = base.codes[code].expected if base and code in base.codes else None
        changes.append(
            CodeChange(
                code=code,
                expected=now if cur else was,
                expected_baseline=was if cur and base and was != now else None,
                baseline=base.predicted.decisions.get(code) if base else None,
                current=cur.predicted.decisions.get(code) if cur else None,
            )
        )
    label_changed = bool(
        base
        and cur
        and (
            base.expected.decisions != cur.expected.decisions or sorted(base.expected.red_flags) != sorted(cur.expected.red_flags)
        )
    )
    return DiffRow(
        case=ref.id,
        status=status,
        codes=changes,
        flags_baseline=sorted(base.predicted.red_flags) if base else [],
        flags_current=sorted(cur.predicted.red_flags) if cur else [],
        label_changed=label_changed,
        label_flags_baseline=sorted(base.expected.red_flags) if base and label_changed else [],
        label_flags_current=sorted(cur.expected.red_flags) if cur and label_changed else [],
    )


def _paired(current: EvalResults, baseline: EvalResults) -> tuple[list[PairedTest], list[tuple[bool, bool]]]:
    base = {(c.id, code): r.correct for c in baseline.cases for code, r in c.codes.items()}
    groups: dict[str, list[tuple[bool, bool]]] = {"all": []}
    for case in current.cases:
        for code, r in case.codes.items():
            if (case.id, code) not in base:
                continue
            pair = (base[(case.id, code)], r.correct)
            for category in ("all", f"region: {r.region}", f"label: {r.expected}"):
                groups.setdefault(category, []).append(pair)
    tests = []
    for category in sorted(groups, key=lambda g: (g != "all", g)):
        pairs = groups[category]
        b = sum(1 for was, now in pairs if was and not now)
        c = sum(1 for was, now in pairs if now and not was)
        tests.append(
            PairedTest(
                category=category,
                n=len(pairs),
                baseline_accuracy=ratio(sum(was for was, _ in pairs), len(pairs)),
                current_accuracy=ratio(sum(now for _, now in pairs), len(pairs)),
                only_baseline_correct=b,
                only_current_correct=c,
                p_value=mcnemar(b, c),
            )
        )
    return tests, groups["all"]


def compare(
    current: EvalResults, baseline: EvalResults | None, *, tolerance: float = DEFAULT_TOLERANCE, label: str = ""
) -> Comparison:
    """Diff ``current`` against ``baseline`` (None: an empty baseline) and decide on regression."""
    base = baseline or EvalResults(summary={}, cases=[])
    base_by_id = {c.id: c for c in base.cases}
    cur_by_id = {c.id: c for c in current.cases}
    rows: list[DiffRow] = []
    for case in current.cases:
        old = base_by_id.get(case.id)
        status: Status | None = "new" if old is None else _status(old, case)
        if status and (status != "new" or baseline is not None):
            rows.append(_row(status, old, case))
    interrupted = bool(current.summary.get("run", {}).get("interrupted"))
    if not interrupted:  # a partial run did not "remove" the cases it never reached
        rows += [_row("removed", c, None) for c in base.cases if c.id not in cur_by_id]
    old_unsafe = {(r["case"], r["code"]) for r in safety_errors(base.cases)[0]}
    new_unsafe = [r for r in safety_errors(current.cases)[0] if (r["case"], r["code"]) not in old_unsafe]
    old_misses = {(r["case"], r["flag"]) for r in red_flag_misses(base.cases)}
    new_misses = [r for r in red_flag_misses(current.cases) if (r["case"], r["flag"]) not in old_misses]
    paired, shared = _paired(current, base)
    base_acc = ratio(sum(was for was, _ in shared), len(shared))
    cur_acc = ratio(sum(now for _, now in shared), len(shared))
    reasons = []
    if new_unsafe:
        reasons.append(f"{len(new_unsafe)} new unsafe denial(s): " + ", ".join(f"{r['case']} {r['code']}" for r in new_unsafe))
    if new_misses:
        reasons.append(f"{len(new_misses)} new red-flag miss(es): " + ", ".join(f"{r['case']} {r['flag']}" for r in new_misses))
    if baseline is not None and base_acc is not None and cur_acc is not None and cur_acc < base_acc - tolerance - 1e-9:
        reasons.append(
            f"accuracy {cur_acc:.4f} is below the baseline's {base_acc:.4f} by more than {tolerance:g} "
            f"({len(shared)} shared case/code pairs)"
        )
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("fixed", "broken", "changed", "new", "removed")}
    return Comparison(
        baseline=label or ("(none)" if baseline is None else "baseline"),
        baseline_created_at=base.summary.get("run", {}).get("created_at"),
        baseline_headline=headline(base.summary) if baseline is not None else {},
        tolerance=tolerance,
        shared_pairs=len(shared),
        baseline_accuracy=base_acc,
        current_accuracy=cur_acc,
        new_unsafe_denials=new_unsafe,
        new_red_flag_misses=new_misses,
        rows=sorted(rows, key=lambda r: (["broken", "fixed", "changed", "new", "removed"].index(r.status), r.case)),
        counts=counts,
        paired=paired if baseline is not None else [],
        reasons=reasons,
    )
