"""Eval reports: one self-contained HTML page (inline CSS and SVG, no external assets) and Markdown.

The HTML is for a person reading a run: headline numbers, the confusion matrix, per-flag and
per-category tables, the diff against the baseline and every failing case with an excerpt of its
note. The Markdown is short enough for a pull-request comment and carries no note text.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from jinja2 import Environment

from agent.evals.compare import CodeChange, Comparison
from agent.evals.metrics import HEADLINE, fmt, headline
from agent.evals.results import CaseResult, EvalResults

EXCERPT_CHARS = 900
DECISION_COLOR = {"approve": "#1a7f37", "deny": "#cf222e", "refer": "#9a6700"}
# +1: higher is better; -1: lower is better; metrics not listed (refer rate, tokens) have no direction.
POLARITY = {
    "accuracy": 1,
    "kappa": 1,
    "red_flag_recall": 1,
    "red_flag_precision": 1,
    "alternative_match": 1,
    "citation_validity": 1,
    "retrieval_hit_rate": 1,
    "schema_validity": 1,
    "unsafe_denials": -1,
    "unnecessary_approvals": -1,
    "fallback_rate": -1,
    "flip_rate": -1,
    "latency_p50": -1,
    "latency_p95": -1,
}


def is_failing(case: CaseResult) -> bool:
    """Wrong decision on any labeled code, a missed or extra red flag, or an error."""
    return not case.correct or set(case.expected.red_flags) != set(case.predicted.red_flags) or case.error is not None


def case_problems(case: CaseResult) -> list[tuple[str, str]]:
    """Why a case fails, most severe first, as (text, css class) tags."""
    tags = []
    if case.error:
        tags.append(("error", "bad"))
    for code, r in case.codes.items():
        if r.predicted == "deny" and r.expected != "deny" and (r.expected == "approve" or case.expected.red_flags):
            tags.append((f"unsafe denial {code}", "bad"))
    expected, predicted = set(case.expected.red_flags), set(case.predicted.red_flags)
    tags += [(f"missed {f.replace('_', ' ')}", "bad") for f in sorted(expected - predicted)]
    for code, r in case.codes.items():
        if not r.correct and not any(t[0] == f"unsafe denial {code}" for t in tags):
            tags.append((f"{code}: {r.expected} → {r.predicted or 'none'}", "warn"))
    tags += [(f"unlabeled {f.replace('_', ' ')}", "warn") for f in sorted(predicted - expected)]
    return tags


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a note, cut at a word boundary."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind(" ")] if " " in cut[-40:] else cut


def confusion_svg(matrix: list[list[int]], labels: list[str]) -> str:
    """The confusion matrix as an inline SVG heat map: rows are labels, columns predictions."""
    cell, gap, left, top = 92, 4, 112, 70
    n = len(labels)
    width, height = left + n * cell + 76, top + n * cell + 16
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-labelledby="cm-title" class="cm" font-family="inherit">',
        '<title id="cm-title">Confusion matrix: rows are the labeled decision, columns the predicted one</title>',
        f'<text x="{left + n * cell / 2}" y="18" text-anchor="middle" class="axis">Predicted</text>',
        f'<text transform="translate(18 {top + n * cell / 2}) rotate(-90)" text-anchor="middle" class="axis">Label</text>',
        f'<text x="{left + n * cell + 38}" y="{top - 14}" text-anchor="middle" class="tick muted">total</text>',
    ]
    for j, label in enumerate(labels):
        out.append(
            f'<text x="{left + j * cell + cell / 2}" y="{top - 14}" text-anchor="middle" class="tick" '
            f'fill="{DECISION_COLOR.get(label, "#333")}">{label}</text>'
        )
    for i, row in enumerate(matrix):
        total = sum(row)
        y = top + i * cell
        out.append(
            f'<text x="{left - 12}" y="{y + cell / 2 + 5}" text-anchor="end" class="tick" '
            f'fill="{DECISION_COLOR.get(labels[i], "#333")}">{labels[i]}</text>'
        )
        for j, value in enumerate(row):
            share = value / total if total else 0.0
            base = "#1a7f37" if i == j else "#cf222e"
            fill, opacity = (base, 0.14 + 0.8 * share) if value else ("#eef0f3", 1.0)
            ink = "#ffffff" if value and share > 0.5 else "#1d2330"
            x = left + j * cell
            out.append(
                f'<rect x="{x + gap / 2}" y="{y + gap / 2}" width="{cell - gap}" height="{cell - gap}" rx="8" '
                f'fill="{fill}" fill-opacity="{opacity:.2f}"><title>label {labels[i]}, predicted {labels[j]}: '
                f"{value}</title></rect>"
            )
            out.append(
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" class="count" fill="{ink}">{value}</text>'
            )
            if total:
                out.append(
                    f'<text x="{x + cell / 2}" y="{y + cell / 2 + 24}" text-anchor="middle" class="share" '
                    f'fill="{ink}">{share * 100:.0f}%</text>'
                )
        out.append(
            f'<text x="{left + n * cell + 38}" y="{y + cell / 2 + 5}" text-anchor="middle" class="tick muted">{total}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _cards(results: EvalResults, comparison: Comparison | None) -> list[dict[str, Any]]:
    s = results.summary
    now = headline(s)
    base = comparison.baseline_headline if comparison else {}
    subs = {
        "accuracy": f"{s['correct_codes']} of {s['codes']} codes",
        "kappa": "agreement beyond chance",
        "red_flag_recall": f"{s['red_flags']['tp']} of {s['red_flags']['support']} labeled flags",
        "red_flag_precision": f"{s['red_flags']['fp']} false alarm(s)",
        "unsafe_denials": "deny where label approves or has a red flag",
        "unnecessary_approvals": "approve where label denies",
        "refer_rate": f"labels: {fmt(s['expected_refer_rate'], 'rate')}",
        "alternative_match": f"{s['alternatives']['matched']} of {s['alternatives']['labeled']} labeled",
        "citation_validity": f"{s['citations']['findings']} finding(s) in {s['citations']['checked']} checked",
        "retrieval_hit_rate": "topic's guideline retrieved" if s.get("retrieval") else "retrieval off",
        "fallback_rate": f"{s['fallback']['count']} case(s) fell back to the rules engine",
        "flip_rate": f"over {s['flips']['repeat']} repeats",
    }
    cards = []
    for key, label, _path, kind in HEADLINE:
        value = now.get(key)
        if value is None and key in ("flip_rate", "total_tokens", "cost_usd", "retrieval_hit_rate"):
            continue
        state = "neutral"
        if key in ("unsafe_denials", "unnecessary_approvals"):
            state = "bad" if value else "good"
        elif key == "red_flag_recall" and value is not None:
            state = "good" if value == 1 else "bad"
        delta = None
        old = base.get(key) if base else None
        if old is not None and value is not None:
            diff = value - old
            text = {"rate": f"{diff * 100:+.1f} pt", "number": f"{diff:+.3f}", "ms": f"{diff:+,.0f}"}.get(kind, f"{diff:+g}")
            text = "±0" if abs(diff) < 1e-9 else text
            better = diff * POLARITY.get(key, 0)
            tone = "same" if abs(diff) < 1e-9 or key not in POLARITY or kind == "ms" else "better" if better > 0 else "worse"
            delta = {"text": text, "base": fmt(old, kind), "tone": tone}
        cards.append(
            {"key": key, "label": label, "value": fmt(value, kind), "sub": subs.get(key, ""), "state": state, "delta": delta}
        )
    return cards


def _bar(rate: float | None) -> int:
    return round((rate or 0) * 100)


def report_context(
    results: EvalResults, comparison: Comparison | None = None, notes: dict[str, str] | None = None
) -> dict[str, Any]:
    s = results.summary
    failing = [c for c in results.cases if is_failing(c)]
    tags = {c.id: case_problems(c) for c in failing}
    failing.sort(key=lambda c: (not any(cls == "bad" for _, cls in tags[c.id]), c.id))
    return {
        "tags": tags,
        "s": s,
        "run": s.get("run", {}),
        "cards": _cards(results, comparison),
        "svg": confusion_svg(s["confusion"]["matrix"], s["confusion"]["labels"]),
        "failing": failing,
        "notes": {c.id: excerpt(notes[c.id]) for c in failing if notes and c.id in notes},
        "full_len": {c.id: len(notes[c.id]) for c in failing if notes and c.id in notes},
        "cases": results.cases,
        "comparison": comparison,
        "is_failing": is_failing,
        "fmt": fmt,
        "bar": _bar,
        "colors": DECISION_COLOR,
    }


def _env() -> Environment:
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env


def to_html(results: EvalResults, comparison: Comparison | None = None, notes: dict[str, str] | None = None) -> str:
    template = importlib.resources.files("agent.evals").joinpath("templates/eval_report.html.j2").read_text(encoding="utf-8")
    return _env().from_string(template).render(**report_context(results, comparison, notes))


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(results: EvalResults, comparison: Comparison | None = None) -> str:
    """A pull-request comment: verdict, headline table, confusion matrix, changes, failing cases."""
    s, run = results.summary, results.summary.get("run", {})
    verdict = ""
    if comparison is not None:
        verdict = " — :x: regression" if comparison.regression else " — :white_check_mark: no regression"
    lines = [f"## umreview eval{verdict}", ""]
    lines.append(
        f"`{run.get('backend', '?')}` backend · criteria `{run.get('criteria_set')}` {run.get('criteria_version')} · "
        f"KB `{run.get('kb_version')}` · {s['cases']} cases / {s['codes']} codes"
        + (" · **interrupted (partial)**" if run.get("interrupted") else "")
    )
    lines.append("")
    if comparison is not None and comparison.reasons:
        lines += [f"- **{_md_cell(r)}**" for r in comparison.reasons] + [""]
    now = headline(s)
    base = comparison.baseline_headline if comparison else {}
    lines += ["| metric | value | baseline |" if base else "| metric | value |", "|---|---:|---:|" if base else "|---|---:|"]
    for key, label, _path, kind in HEADLINE:
        if now.get(key) is None and key in ("flip_rate", "total_tokens", "cost_usd"):
            continue
        row = f"| {label} | {fmt(now.get(key), kind)} |"
        lines.append(row + (f" {fmt(base.get(key), kind)} |" if base else ""))
    labels = s["confusion"]["labels"]
    lines += [
        "",
        "<details><summary>Confusion matrix (rows: label, columns: predicted)</summary>",
        "",
        "| label \\ predicted | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for label, row in zip(labels, s["confusion"]["matrix"], strict=True):
        lines.append(f"| **{label}** | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "</details>", ""]
    if comparison is not None and comparison.rows:
        counts = ", ".join(f"{n} {k}" for k, n in comparison.counts.items() if n)
        lines += [f"### Changes vs baseline ({counts})", "", "| case | status | code | label | baseline | now |"]
        lines.append("|" + "---|" * 6)
        for diff in comparison.rows:
            changes: list[CodeChange | None] = [*diff.codes] or [None]
            for ch in changes:
                status = diff.status + (" (label changed)" if diff.label_changed else "")
                cells = [ch.code, ch.expected or "", ch.baseline or "–", ch.current or "–"] if ch else ["", "", "–", "–"]
                lines.append(f"| `{diff.case}` | {status} | " + " | ".join(cells) + " |")
        lines.append("")
    failing = [c for c in results.cases if is_failing(c)]
    lines.append(f"### Failing cases ({len(failing)})")
    lines.append("")
    if not failing:
        lines.append("None.")
    for c in failing:
        wrong = [f"{code}: label {r.expected}, got {r.predicted or '–'}" for code, r in c.codes.items() if not r.correct]
        missed = sorted(set(c.expected.red_flags) - set(c.predicted.red_flags))
        extra = sorted(set(c.predicted.red_flags) - set(c.expected.red_flags))
        parts = wrong + [f"missed flag {f}" for f in missed] + [f"unlabeled flag {f}" for f in extra]
        if c.error:
            parts.append(f"error: {c.error}")
        lines.append(f"- `{c.id}` — " + _md_cell("; ".join(parts)))
    return "\n".join(lines) + "\n"


def write_report(
    path: Path, results: EvalResults, comparison: Comparison | None = None, notes: dict[str, str] | None = None
) -> None:
    """HTML for .html/.htm, Markdown for .md/.markdown (the suffix chooses)."""
    suffix = path.suffix.lower()
    text = to_markdown(results, comparison) if suffix in (".md", ".markdown") else to_html(results, comparison, notes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def to_junit(results: EvalResults, comparison: Comparison | None = None) -> str:
    """JUnit XML for CI: one testcase per eval case, plus the regression gate when compared."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="umreview-eval")
    cases = ET.SubElement(root, "testsuite", name="umreview-eval.cases")
    failures = 0
    for c in results.cases:
        region = next(iter(c.codes.values())).region if c.codes else "unscored"
        tc = ET.SubElement(cases, "testcase", classname=f"evals.{region}", name=c.id, time=f"{c.latency_ms / 1000:.3f}")
        if is_failing(c):
            failures += 1
            wrong = [f"{code}: label {r.expected}, got {r.predicted or 'none'}" for code, r in c.codes.items() if not r.correct]
            missed = sorted(set(c.expected.red_flags) - set(c.predicted.red_flags))
            extra = sorted(set(c.predicted.red_flags) - set(c.expected.red_flags))
            message = "; ".join(wrong + [f"missed red flag {f}" for f in missed] + [f"unlabeled red flag {f}" for f in extra])
            failure = ET.SubElement(tc, "failure", message=message or (c.error or "failed"))
            failure.text = "\n".join(f"[{f.severity}] {f.code or ''} {f.kind}: {f.message}" for f in c.findings) or None
    cases.set("tests", str(len(results.cases)))
    cases.set("failures", str(failures))
    total_tests, total_failures = len(results.cases), failures
    if comparison is not None:
        gate = ET.SubElement(root, "testsuite", name="umreview-eval.gate")
        checks = {
            "no_new_unsafe_denials": [r for r in comparison.reasons if "unsafe denial" in r],
            "no_new_red_flag_misses": [r for r in comparison.reasons if "red-flag miss" in r],
            "accuracy_within_tolerance": [r for r in comparison.reasons if r.startswith("accuracy")],
        }
        for name, problems in checks.items():
            tc = ET.SubElement(gate, "testcase", classname="evals.gate", name=name)
            if problems:
                ET.SubElement(tc, "failure", message=problems[0])
        gate_failures = sum(1 for p in checks.values() if p)
        gate.set("tests", str(len(checks)))
        gate.set("failures", str(gate_failures))
        total_tests += len(checks)
        total_failures += gate_failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
