"""``umreview eval --lint``: problems in a labeled case set, found without reviewing anything.

Load errors are sorted by kind (schema, duplicate id, unknown red flag); then each case's labels are
checked against its request (a decision for a code not requested, a requested code without one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from agent.cases.load import load_cases
from agent.cases.model import Case
from agent.errors import CaseFileError

if TYPE_CHECKING:
    from agent.criteria.model import CriteriaSet


class LintProblem(BaseModel):
    source: str
    case_id: str | None = None
    kind: str
    severity: Literal["error", "warning"] = "error"
    message: str


def _load_error_kind(exc: CaseFileError) -> str:
    if exc.field == "id" and exc.problem.startswith("duplicate case id"):
        return "duplicate_id"
    if exc.field.startswith("expected.red_flags"):
        return "unknown_red_flag"
    return "schema"


def label_problems(case: Case, source: str, criteria: CriteriaSet | None) -> Iterator[LintProblem]:
    def problem(kind: str, message: str, severity: Literal["error", "warning"] = "error") -> LintProblem:
        return LintProblem(source=source, case_id=case.id, kind=kind, severity=severity, message=message)

    if case.expected is None:
        yield problem("unlabeled_case", "no `expected` block: the case cannot be scored")
        return
    requested, labels = case.request.codes, case.expected
    for code in labels.decisions:
        if code not in requested:
            yield problem("label_for_unrequested_code", f"decision labeled for code {code}, which the request does not name")
    for code in requested:
        if code not in labels.decisions:
            yield problem("unlabeled_code", f"requested code {code} has no labeled decision")
    for code, alt in labels.alternatives.items():
        if code not in requested:
            yield problem("alternative_for_unrequested_code", f"alternative {alt} for code {code}, which is not requested")
        elif labels.decisions.get(code) not in (None, "deny"):
            label = labels.decisions[code].value
            message = f"alternative {alt} for code {code} labeled {label} (only denied codes take one)"
            yield problem("alternative_not_denied", message, "warning")
        if criteria is not None and alt not in criteria.codes.codes:
            yield problem("unknown_alternative_code", f"alternative code {alt} is not in the code table", "warning")
    if Path(source).suffix.lower() in (".yaml", ".yml", ".json") and Path(source).stem != case.id:
        yield problem("id_not_file_stem", f"case id {case.id!r} differs from the file name {Path(source).stem!r}", "warning")


def lint_cases(paths: Iterable[Path | str], criteria: CriteriaSet | None = None) -> list[LintProblem]:
    """Problems in a labeled case set: schema errors, duplicate ids, unknown red flags, label/request mismatches."""
    paths = list(paths)
    loaded = load_cases(paths)
    problems = [
        LintProblem(source=e.path, kind=_load_error_kind(e), message=f"{e.field}: {e.problem}" if e.field else e.problem)
        for e in loaded.errors
    ]
    for case in loaded.cases:
        problems += label_problems(case, loaded.sources[case.id], criteria)
    if not loaded.cases and not loaded.errors:
        problems.append(LintProblem(source=", ".join(map(str, paths)), kind="no_cases", message="no case files found"))
    return problems
