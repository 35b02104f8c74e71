"""Eval statistics, implemented here without scipy/sklearn: kappa, McNemar, percentiles, P/R.

Everything is a pure function over plain values, so the tests can check each on a hand-made table.
``summarize`` turns a list of per-case results (``agent.evals.results.CaseResult``) into the ``summary``
block of the results JSON (format: evals/README.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.evals.results import CaseResult

DECISIONS = ("approve", "deny", "refer")


def ratio(num: float, den: float) -> float | None:
    """num/den rounded to 4 places, or None when the denominator is 0 (undefined, not zero)."""
    return round(num / den, 4) if den else None


def confusion_matrix(pairs: Iterable[tuple[str, str | None]], labels: Sequence[str] = DECISIONS) -> list[list[int]]:
    """Rows: expected label; columns: predicted label. Pairs with an unknown prediction are dropped."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for expected, predicted in pairs:
        if expected in index and predicted in index:
            matrix[index[expected]][index[predicted]] += 1
    return matrix


def cohen_kappa(matrix: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa of a square confusion matrix; None if it is empty.

    kappa = (p_o - p_e) / (1 - p_e) with p_o the observed agreement and p_e the agreement expected
    by chance from the row and column marginals. When chance agreement is total (one class only on
    both sides) the raters agree perfectly and kappa is 1.
    """
    n = sum(sum(row) for row in matrix)
    if n == 0:
        return None
    observed = sum(matrix[i][i] for i in range(len(matrix))) / n
    rows = [sum(row) / n for row in matrix]
    cols = [sum(matrix[r][c] for r in range(len(matrix))) / n for c in range(len(matrix))]
    chance = sum(r * c for r, c in zip(rows, cols, strict=True))
    if math.isclose(chance, 1.0):
        return 1.0
    return round((observed - chance) / (1 - chance), 4)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for the discordant counts b and c.

    Under the null each discordant pair goes either way with probability 1/2, so min(b, c) is
    Binomial(b + c, 1/2); the two-sided p is twice the lower tail, capped at 1.
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return round(min(1.0, 2 * tail), 6)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 3)


def precision_recall(tp: int, fp: int, fn: int) -> dict[str, Any]:
    return {"tp": tp, "fp": fp, "fn": fn, "support": tp + fn, "recall": ratio(tp, tp + fn), "precision": ratio(tp, tp + fp)}


def flag_counts(cases: Iterable[tuple[Iterable[str], Iterable[str]]]) -> dict[str, dict[str, Any]]:
    """Per flag id: tp/fp/fn/recall/precision over (expected flags, predicted flags) per case."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected, predicted in cases:
        exp, got = set(expected), set(predicted)
        tp.update(exp & got)
        fn.update(exp - got)
        fp.update(got - exp)
    flags = sorted(set(tp) | set(fp) | set(fn))
    return {f: precision_recall(tp[f], fp[f], fn[f]) for f in flags}


# --- the summary block -------------------------------------------------------------------------


def _accuracy_table(rows: list[tuple[str, bool]]) -> dict[str, dict[str, Any]]:
    total: Counter[str] = Counter(key for key, _ in rows)
    good: Counter[str] = Counter(key for key, ok in rows if ok)
    return {key: {"n": total[key], "correct": good[key], "accuracy": ratio(good[key], total[key])} for key in sorted(total)}


def safety_errors(cases: Sequence[CaseResult]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(unsafe denials, unnecessary approvals) as {case, code, expected, predicted} rows.

    Unsafe denial: predicted deny, label not deny, and the label approves or the case has a
    labeled red flag. Unnecessary approval: predicted approve where the label denies.
    """
    unsafe, unnecessary = [], []
    for case in cases:
        for code, r in case.codes.items():
            row = {"case": case.id, "code": code, "expected": r.expected or "", "predicted": r.predicted or ""}
            if r.predicted == "deny" and r.expected != "deny" and (r.expected == "approve" or case.expected.red_flags):
                unsafe.append(row)
            if r.predicted == "approve" and r.expected == "deny":
                unnecessary.append(row)
    return unsafe, unnecessary


def red_flag_misses(cases: Sequence[CaseResult]) -> list[dict[str, str]]:
    return [{"case": c.id, "flag": f} for c in cases for f in sorted(set(c.expected.red_flags) - set(c.predicted.red_flags))]


def _red_flags(cases: Sequence[CaseResult]) -> dict[str, Any]:
    per_flag = flag_counts((c.expected.red_flags, c.predicted.red_flags) for c in cases)
    tp = sum(v["tp"] for v in per_flag.values())
    fp = sum(v["fp"] for v in per_flag.values())
    fn = sum(v["fn"] for v in per_flag.values())
    extra = [{"case": c.id, "flag": f} for c in cases for f in sorted(set(c.predicted.red_flags) - set(c.expected.red_flags))]
    return {**precision_recall(tp, fp, fn), "per_flag": per_flag, "misses": red_flag_misses(cases), "false_alarms": extra}


def _alternatives(cases: Sequence[CaseResult]) -> dict[str, Any]:
    labeled = [
        (c.id, code, alt, c.predicted.alternatives.get(code)) for c in cases for code, alt in c.expected.alternatives.items()
    ]
    matched = sum(1 for _, _, want, got in labeled if want == got)
    unlabeled = [
        {"case": c.id, "code": code, "predicted": alt}
        for c in cases
        for code, alt in c.predicted.alternatives.items()
        if code not in c.expected.alternatives and c.codes.get(code) is not None and c.codes[code].expected == "deny"
    ]
    return {
        "labeled": len(labeled),
        "matched": matched,
        "match_rate": ratio(matched, len(labeled)),
        "mismatches": [
            {"case": cid, "code": code, "expected": want, "predicted": got} for cid, code, want, got in labeled if want != got
        ],
        "unlabeled_predicted": unlabeled,
    }


def _retrieval(cases: Sequence[CaseResult]) -> dict[str, Any] | None:
    scored = [(c.id, code, r) for c in cases for code, r in c.codes.items() if r.retrieval_hit is not None]
    if not scored:
        return None
    hits = sum(1 for *_, r in scored if r.retrieval_hit)
    first = sum(1 for *_, r in scored if r.retrieval_rank == 1)
    return {
        "scored_codes": len(scored),
        "hits": hits,
        "hit_rate": ratio(hits, len(scored)),
        "hit_at_1": ratio(first, len(scored)),
        "mrr": ratio(sum(1 / r.retrieval_rank for *_, r in scored if r.retrieval_rank), len(scored)),
        "misses": [{"case": cid, "code": code, "topic": r.topic_id} for cid, code, r in scored if not r.retrieval_hit],
    }


def _usage(cases: Sequence[CaseResult]) -> dict[str, Any] | None:
    with_usage = [c.usage for c in cases if c.usage]
    if not with_usage:
        return None
    totals: Counter[str] = Counter()
    for usage in with_usage:
        totals.update({k: v for k, v in usage.items() if isinstance(v, int | float)})
    out: dict[str, Any] = {"cases_with_usage": len(with_usage)}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "requests", "cache_hits"):
        if key in totals:
            out[key] = int(totals[key])
    if "cost_usd" in totals:
        out["cost_usd"] = round(totals["cost_usd"], 6)
    return out


def _flips(cases: Sequence[CaseResult], repeat: int) -> dict[str, Any]:
    pairs = [(c.id, code) for c in cases if c.repeat_decisions for code in c.codes]
    flipped = [
        {"case": c.id, "code": code, "decisions": [run.get(code, "") for run in c.repeat_decisions]}
        for c in cases
        if c.repeat_decisions
        for code in c.codes
        if len({run.get(code) for run in c.repeat_decisions}) > 1
    ]
    rate = ratio(len(flipped), len(pairs)) if repeat > 1 else None
    return {"repeat": repeat, "pairs": len(pairs), "flipped": len(flipped), "rate": rate, "cases": flipped}


def summarize(cases: Sequence[CaseResult], run: dict[str, Any], *, repeat: int = 1) -> dict[str, Any]:
    """The ``summary`` block of the results JSON for ``cases``."""
    pairs = [(code, r) for c in cases for code, r in c.codes.items()]
    matrix = confusion_matrix((r.expected or "", r.predicted) for _, r in pairs)
    correct = sum(1 for _, r in pairs if r.correct)
    unsafe, unnecessary = safety_errors(cases)
    predicted_refer = sum(1 for _, r in pairs if r.predicted == "refer")
    citation_findings = [f for c in cases for f in c.findings if f.severity == "citation"]
    checked = sum(c.citations_checked for c in cases)
    latencies = [ms for c in cases for ms in (c.repeat_latencies_ms or [c.latency_ms])]
    fallbacks = sum(1 for c in cases if c.fallback)
    per_decision = _accuracy_table([(r.expected or "?", r.correct) for _, r in pairs])
    for i, label in enumerate(DECISIONS):
        if label in per_decision:
            column = sum(matrix[r][i] for r in range(len(DECISIONS)))
            per_decision[label]["precision"] = ratio(matrix[i][i], column)
            per_decision[label]["recall"] = ratio(matrix[i][i], sum(matrix[i]))
    return {
        "format": "umreview-eval/1",
        "run": run,
        "cases": len(cases),
        "codes": len(pairs),
        "errors": sum(1 for c in cases if c.error),
        "correct_codes": correct,
        "accuracy": ratio(correct, len(pairs)),
        "case_accuracy": ratio(sum(1 for c in cases if c.correct), len(cases)),
        "kappa": cohen_kappa(matrix),
        "confusion": {"labels": list(DECISIONS), "rows": "expected", "columns": "predicted", "matrix": matrix},
        "per_decision": per_decision,
        "per_region": _accuracy_table([(r.region, r.correct) for _, r in pairs]),
        "red_flags": _red_flags(cases),
        "unsafe_denials": unsafe,
        "unnecessary_approvals": unnecessary,
        "refer_rate": ratio(predicted_refer, len(pairs)),
        "expected_refer_rate": ratio(sum(1 for _, r in pairs if r.expected == "refer"), len(pairs)),
        "alternatives": _alternatives(cases),
        "citations": {
            "checked": checked,
            "findings": len(citation_findings),
            "validity": ratio(max(checked - len(citation_findings), 0), checked),
            "cases_with_findings": sorted({c.id for c in cases if any(f.severity == "citation" for f in c.findings)}),
        },
        "retrieval": _retrieval(cases),
        "schema": {
            "valid": sum(1 for c in cases if c.schema_valid),
            "invalid": sum(1 for c in cases if not c.schema_valid),
            "validity": ratio(sum(1 for c in cases if c.schema_valid), len(cases)),
        },
        "flips": _flips(cases, repeat),
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": round(sum(latencies) / len(latencies), 3) if latencies else None,
            "max": max(latencies) if latencies else None,
        },
        "usage": _usage(cases),
        "fallback": {"count": fallbacks, "rate": ratio(fallbacks, len(cases))},
        "paths": dict(sorted(Counter(c.path for c in cases if c.path).items())),
    }


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)  # type: ignore[assignment]  # walks nested dicts
    return data


# (key, label, path in the summary, kind): the numbers a person looks at first, in this order.
HEADLINE: tuple[tuple[str, str, str, str], ...] = (
    ("accuracy", "Accuracy (per code)", "accuracy", "rate"),
    ("kappa", "Cohen's kappa", "kappa", "number"),
    ("red_flag_recall", "Red-flag recall", "red_flags.recall", "rate"),
    ("red_flag_precision", "Red-flag precision", "red_flags.precision", "rate"),
    ("unsafe_denials", "Unsafe denials", "unsafe_denials", "count"),
    ("unnecessary_approvals", "Unnecessary approvals", "unnecessary_approvals", "count"),
    ("refer_rate", "Refer rate", "refer_rate", "rate"),
    ("alternative_match", "Alternative-code match", "alternatives.match_rate", "rate"),
    ("citation_validity", "Citation validity", "citations.validity", "rate"),
    ("retrieval_hit_rate", "Retrieval hit rate", "retrieval.hit_rate", "rate"),
    ("schema_validity", "Schema validity", "schema.validity", "rate"),
    ("fallback_rate", "Fallback rate", "fallback.rate", "rate"),
    ("flip_rate", "Decision flip rate", "flips.rate", "rate"),
    ("latency_p50", "Latency p50 (ms)", "latency_ms.p50", "ms"),
    ("latency_p95", "Latency p95 (ms)", "latency_ms.p95", "ms"),
    ("total_tokens", "Tokens", "usage.total_tokens", "count"),
    ("cost_usd", "Cost (USD)", "usage.cost_usd", "usd"),
)


def headline(summary: dict[str, Any]) -> dict[str, float | int | None]:
    """The headline numbers of a summary (lists are counted); None where not measured."""
    out: dict[str, float | int | None] = {}
    for key, _label, path, _kind in HEADLINE:
        value = _get(summary, path)
        out[key] = len(value) if isinstance(value, list) else value
    return out


def fmt(value: float | int | None, kind: str) -> str:
    """A headline value for people: rates as percentages, None as a dash."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "number":
        return f"{value:.3f}"
    if kind == "ms":
        return f"{value:,.1f}"
    if kind == "usd":
        return f"${value:,.4f}"
    return f"{value:,}"
