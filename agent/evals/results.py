"""The eval results file (``umreview-eval/1``): its models, and reading and writing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import CaseFileError

RESULTS_FORMAT = "umreview-eval/1"
OUT_OF_SCOPE = "out_of_scope"


class Outcome(BaseModel):
    """Decisions per code, red flags and alternatives: what was predicted, or what the label says."""

    model_config = ConfigDict(extra="ignore")
    decisions: dict[str, str] = Field(default_factory=dict)
    red_flags: list[str] = Field(default_factory=list)
    alternatives: dict[str, str] = Field(default_factory=dict)
    notes: str | None = Field(default=None, description="the label's rationale (expected only)")


class CodeResult(BaseModel):
    """One labeled, requested code."""

    model_config = ConfigDict(extra="ignore")
    expected: str | None
    predicted: str | None
    correct: bool
    region: str = OUT_OF_SCOPE
    topic_id: str | None = None
    variant_id: str | None = None
    rating: str | None = None
    retrieval_hit: bool | None = Field(default=None, description="None when retrieval was off or no topic applied")
    retrieval_rank: int | None = Field(default=None, description="1-based rank of the first chunk of the topic's document")


class Finding(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: str
    severity: str
    code: str | None = None
    message: str


class CaseResult(BaseModel):
    """One case's entry in ``cases`` of the results JSON."""

    model_config = ConfigDict(extra="ignore")
    id: str
    source: str | None = None
    predicted: Outcome
    expected: Outcome
    correct: bool = Field(description="every labeled requested code got the labeled decision")
    codes: dict[str, CodeResult] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    latency_ms: float = 0.0
    fallback: bool = False
    path: str | None = Field(default=None, description="accepted, repaired or fallback (how the draft became final)")
    fallback_reasons: list[str] = Field(default_factory=list)
    schema_valid: bool = True
    citations_checked: int = 0
    error: str | None = None
    usage: dict[str, float | int] | None = None
    repeat_decisions: list[dict[str, str]] | None = None
    repeat_latencies_ms: list[float] | None = None


class EvalResults(BaseModel):
    model_config = ConfigDict(extra="ignore")
    summary: dict[str, Any]
    cases: list[CaseResult]

    def case(self, case_id: str) -> CaseResult | None:
        return next((c for c in self.cases if c.id == case_id), None)


def write_results(results: EvalResults, path: Path) -> None:
    """Write the results JSON atomically (an interrupted write never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(results.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_results(path: Path | str) -> EvalResults:
    """Read a results (or baseline) JSON file; a bad file is a ``CaseFileError`` (exit 2)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseFileError(path, "", f"cannot read results file: {exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise CaseFileError(path, "", f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    try:
        results = EvalResults.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise CaseFileError(path, field, f"{err['msg']} (not an umreview eval results file?)") from None
    fmt = results.summary.get("format")
    if fmt != RESULTS_FORMAT:
        raise CaseFileError(path, "summary.format", f"unsupported results format {fmt!r}; expected {RESULTS_FORMAT!r}")
    return results
