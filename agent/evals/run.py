"""The eval runner: review labeled cases blind, score them, save results, lint case sets.

The system under test never sees the labels: every case is reviewed as a copy with
``expected=None``. A case that raises is recorded as an error (wrong, no predictions), so one
crashing case does not end a long LLM run. Results follow the format in evals/README.md:
``{"summary": {...}, "cases": [...]}``; the summary is built by ``agent.evals.metrics``, the baseline
diff by ``agent.evals.compare``, reports by ``agent.evals.report``; case-set lint is ``agent.evals.lint``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent import ENGINE_VERSION, __version__
from agent.cases.determination import Determination
from agent.cases.model import Case
from agent.errors import CaseFileError
from agent.evals.metrics import summarize
from agent.evals.results import OUT_OF_SCOPE, CaseResult, CodeResult, EvalResults, Finding, Outcome
from agent.settings import price_for

if TYPE_CHECKING:
    from agent.review.reviewer import Reviewer

log = logging.getLogger(__name__)

# --- reading what a determination carries ------------------------------------------------------

_TOKEN_KEYS = {
    "prompt_tokens": "prompt_tokens",
    "input_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "output_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "requests": "requests",
    "cache_hits": "cache_hits",
}


def _numbers(source: Any) -> dict[str, float | int]:
    if source is None:
        return {}
    get = source.get if isinstance(source, dict) else (lambda key: getattr(source, key, None))
    keys = (*_TOKEN_KEYS, "cost_usd", "cost")  # the names OpenAI, the Responses API and agent.cases.determination use
    return {k: v for k in keys if isinstance(v := get(k), int | float) and not isinstance(v, bool)}


def usage_of(det: Determination) -> dict[str, float | int] | None:
    """Tokens and cost if the determination (or its provenance) carries them; read defensively.

    Looks at ``det.usage``, ``det.provenance.usage`` and top-level fields of both, accepting the
    OpenAI (prompt/completion) and the Responses (input/output) names; None for the rules engine.
    """
    found: dict[str, float | int] = {}
    for source in (getattr(det, "usage", None), getattr(det.provenance, "usage", None), det.provenance, det):
        for key, value in _numbers(source).items():
            found.setdefault(_TOKEN_KEYS.get(key, "cost_usd"), value)
    if "total_tokens" not in found and {"prompt_tokens", "completion_tokens"} <= set(found):
        found["total_tokens"] = found["prompt_tokens"] + found["completion_tokens"]
    return found or None


def with_cost(usage: dict[str, float | int] | None, model: str | None, prices: Any) -> dict[str, float | int] | None:
    """Add ``cost_usd`` from the settings' price table when the backend did not report a cost."""
    if not usage or "cost_usd" in usage or not prices:
        return usage
    price = price_for(model, prices)
    if price is None:
        return usage
    cost = (usage.get("prompt_tokens", 0) * price.input + usage.get("completion_tokens", 0) * price.output) / 1_000_000
    return {**usage, "cost_usd": round(cost, 6)}


def _citations_checked(det: Determination) -> int:
    n = 0
    for d in det.determinations:
        n += len(d.citations)
        n += sum(len(f.note_quotes) + (1 if f.citation else 0) for f in d.criteria)
    return n


def _schema_valid(det: Determination, requested: Sequence[str]) -> bool:
    try:
        Determination.model_validate_json(det.model_dump_json())
    except ValidationError:
        return False
    return sorted(det.decisions) == sorted(requested)


def predicted_outcome(det: Determination) -> Outcome:
    return Outcome(
        decisions={d.code: str(d.decision) for d in det.determinations},
        red_flags=sorted(det.red_flags),
        alternatives={d.code: d.alternative_code for d in det.determinations if d.alternative_code},
    )


class _Scorer:
    """What the runner needs from the reviewer's criteria and corpus, looked up once."""

    def __init__(self, reviewer: Reviewer) -> None:
        self.retrieve = reviewer.retrieve
        self.regions = {code: info.region.value for code, info in reviewer.criteria.codes.codes.items()}
        self.documents = {t.id: t.document for t in reviewer.criteria.topics}
        self.corpus = reviewer.kb.corpus
        self.prices = getattr(reviewer.kb.settings, "prices", None)

    def document_of(self, chunk_id: str) -> str:
        chunk = self.corpus.chunk(chunk_id)
        return chunk.document_id if chunk else chunk_id.split("#", 1)[0]

    def code_result(self, code: str, expected: str, det: Determination | None) -> CodeResult:
        d = det.for_code(code) if det else None
        predicted = str(d.decision) if d else None
        region = self.regions.get(code, OUT_OF_SCOPE)
        result = CodeResult(expected=expected, predicted=predicted, correct=predicted == expected, region=region)
        if d is None:
            return result
        result.topic_id, result.variant_id, result.rating = d.topic_id, d.variant_id, d.rating
        document = self.documents.get(d.topic_id or "")
        if self.retrieve and det is not None and document:
            docs = [self.document_of(cid) for cid in det.retrieved.get(code, [])]
            result.retrieval_rank = docs.index(document) + 1 if document in docs else None
            result.retrieval_hit = result.retrieval_rank is not None
        return result


def _review_timed(reviewer: Reviewer, case: Case) -> tuple[Determination | None, float, str | None]:
    start = time.perf_counter()
    try:
        det: Determination | None = reviewer.review(case)
        error = None
    except Exception as exc:  # one failing case is recorded, the run goes on
        log.debug("case %s raised", case.id, exc_info=True)
        det, error = None, f"{type(exc).__name__}: {str(exc)[:200]}"
    return det, round((time.perf_counter() - start) * 1000, 3), error


def evaluate_case(
    case: Case, reviewer: Reviewer, *, repeat: int = 1, source: str | None = None, scorer: _Scorer | None = None
) -> CaseResult:
    """Review ``case`` (labels stripped) ``repeat`` times and score the first run against its labels."""
    if case.expected is None:
        raise CaseFileError(source or case.id, "expected", "the case has no labels; an eval case needs `expected`")
    scorer = scorer or _Scorer(reviewer)
    blind = case.model_copy(update={"expected": None})
    runs = [_review_timed(reviewer, blind) for _ in range(max(repeat, 1))]
    det, latency, error = runs[0]
    labels = case.expected
    requested = case.request.codes
    codes = {code: scorer.code_result(code, dec.value, det) for code, dec in labels.decisions.items() if code in requested}
    result = CaseResult(
        id=case.id,
        source=source,
        predicted=predicted_outcome(det) if det else Outcome(),
        expected=Outcome(
            decisions={k: v.value for k, v in labels.decisions.items()},
            red_flags=sorted(labels.red_flags),
            alternatives=dict(labels.alternatives),
            notes=labels.notes,
        ),
        correct=bool(codes) and error is None and all(r.correct for r in codes.values()),
        codes=codes,
        latency_ms=latency,
        error=error,
        schema_valid=det is not None and _schema_valid(det, requested),
    )
    if det is not None:
        result.findings = [
            Finding(kind=v.kind.value, severity=v.severity.value, code=v.code, message=v.message) for v in det.validator_findings
        ]
        result.fallback = det.fallback is not None
        result.fallback_reasons = list(det.fallback.reasons) if det.fallback else []
        result.citations_checked = _citations_checked(det)
        result.usage = with_cost(usage_of(det), det.provenance.model, scorer.prices)
        result.path = getattr(det, "path", None)
    if repeat > 1:
        result.repeat_decisions = [({d.code: str(d.decision) for d in r[0].determinations} if r[0] else {}) for r in runs]
        result.repeat_latencies_ms = [r[1] for r in runs]
    return result


def warm_up(reviewer: Reviewer, case: Case) -> None:
    """Load what loads lazily (NLP pipeline, embedder, vector index) so latencies measure reviews only.

    Runs extraction, the engine and retrieval for one case, but never calls the backend.
    """
    reviewer.request_for(case.model_copy(update={"expected": None}))


def iter_eval(
    cases: Sequence[Case], reviewer: Reviewer, *, repeat: int = 1, sources: dict[str, str] | None = None
) -> Iterator[CaseResult]:
    """Evaluate cases one at a time (so a caller can show progress and keep partial results)."""
    scorer = _Scorer(reviewer)
    for case in cases:
        yield evaluate_case(case, reviewer, repeat=repeat, source=(sources or {}).get(case.id), scorer=scorer)


def run_info(reviewer: Reviewer, *, repeat: int = 1, planned: int | None = None, interrupted: bool = False) -> dict[str, Any]:
    backend = reviewer.backend
    return {
        "umreview_version": __version__,
        "engine_version": ENGINE_VERSION,
        "backend": backend.name,
        "backend_kind": backend.kind,
        "model": backend.model,
        "prompt_version": backend.prompt_version,
        "criteria_set": reviewer.criteria.policy.id,
        "criteria_version": reviewer.criteria.policy.version,
        "kb_version": reviewer.kb.version,
        "retrieval": reviewer.retrieve,
        "retrieval_k": reviewer.kb.settings.retrieval_k if reviewer.retrieve else None,
        "repeat": repeat,
        "planned_cases": planned,
        "interrupted": interrupted,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def build_results(results: Sequence[CaseResult], run: dict[str, Any]) -> EvalResults:
    return EvalResults(summary=summarize(results, run, repeat=run.get("repeat", 1)), cases=list(results))


def run_eval(cases: Sequence[Case], reviewer: Reviewer, *, repeat: int = 1, sources: dict[str, str] | None = None) -> EvalResults:
    """Evaluate every case and summarize (no progress, no interrupt handling: see the CLI for those)."""
    results = list(iter_eval(cases, reviewer, repeat=repeat, sources=sources))
    return build_results(results, run_info(reviewer, repeat=repeat, planned=len(cases)))
