"""Renderers for determinations: rich terminal view and Markdown. JSON is ``model_dump_json``."""

from __future__ import annotations

import re

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agent.cases.determination import CodeDetermination, CriterionStatus, Determination
from agent.cases.reading import ASSERTION_WORDS, Reading, ReadingCourse, ReadingQuote

DECISION_STYLE = {"approve": "bold green", "deny": "bold red", "refer": "bold yellow"}
STATUS_MARK = {
    CriterionStatus.met: "[green]met[/]",
    CriterionStatus.not_met: "[red]not met[/]",
    CriterionStatus.not_documented: "[yellow]missing[/]",
}


def _decision_label(d: CodeDetermination) -> str:
    return "DENY (recommendation)" if d.decision == "deny" else d.decision.value.upper()


def summary_table(dets: list[Determination]) -> Table:
    table = Table(title="Recommendations", show_lines=False)
    for col in ("case", "code", "recommendation", "scenario", "red flags", "alternative", "notes"):
        table.add_column(col, overflow="fold")
    for det in dets:
        for d in det.determinations:
            notes = "fallback" if det.fallback else ""
            if det.validator_findings:
                notes = (notes + " " if notes else "") + f"{len(det.validator_findings)} validator finding(s)"
            table.add_row(
                det.case_id,
                d.code,
                Text(_decision_label(d), style=DECISION_STYLE[d.decision.value]),
                f"{d.variant_title or '-'} ({d.rating or '-'})",
                ", ".join(d.red_flags_present) or "-",
                d.alternative_code or "-",
                notes,
            )
    return table


def code_panel(d: CodeDetermination) -> Panel:
    crit = Table(show_header=True, header_style="bold", expand=True)
    crit.add_column("criterion", ratio=3)
    crit.add_column("status", no_wrap=True, min_width=7)
    crit.add_column("evidence from the note", ratio=4)
    crit.add_column("guideline", ratio=3)
    for f in d.criteria:
        quote = " | ".join(f'"{q.text}"' for q in f.note_quotes[:2]) or (f.explanation or "-")
        cite = f'{(f.citation.section or "").split(" > ")[-1]}: "{f.citation.quote}"' if f.citation else "-"
        suffix = {"required": "", "supporting": " (supporting)", "info": " (info)"}[f.role]
        crit.add_row(f.label + suffix, STATUS_MARK[f.status], quote, cite)
    parts: list = [Text(d.rationale)]
    parts += [Text(f"Departure from the guideline: {x}", style="italic") for x in d.departures]
    if d.criteria:
        parts.append(crit)
    if d.missing_documentation:
        parts.append(Text("Missing documentation that would support approval:", style="bold"))
        parts += [Text(f"  - {m}") for m in d.missing_documentation]
    if d.decision_changing_red_flags:
        parts.append(Text("Would change the recommendation: " + "; ".join(d.decision_changing_red_flags), style="dim"))
    title = f"{d.code} {d.description or ''} -> {_decision_label(d)}"
    return Panel(Group(*parts), title=title, border_style=DECISION_STYLE[d.decision.value].split()[-1])


def determination_view(det: Determination) -> Group:
    header = Text.assemble(
        (f"Case {det.case_id}", "bold"),
        f"  backend: {det.provenance.backend} ({det.provenance.backend_kind})",
        f"  criteria: {det.provenance.criteria_set} {det.provenance.criteria_version}  kb: {det.provenance.kb_version}",
    )
    parts: list = [header, Text(det.notice, style="italic")]
    if det.red_flags:
        parts.append(Text("Red flags in the note: " + ", ".join(det.red_flags), style="bold red"))
    if det.injection_quotes:
        parts.append(
            Text(
                f"Instructions addressed to the reviewer were found in the note and ignored ({len(det.injection_quotes)}).",
                style="bold magenta",
            )
        )
    if det.fallback:
        parts.append(Text("Fallback to the rules engine: " + "; ".join(det.fallback.reasons), style="yellow"))
    parts += [code_panel(d) for d in det.determinations]
    for v in det.validator_findings:
        parts.append(Text(f"validator [{v.severity.value}] {v.kind.value}: {v.message}", style="yellow"))
    parts.append(Text(det.summary, style="dim"))
    return Group(*parts)


def to_markdown(det: Determination) -> str:
    lines = [f"# Utilization review: case `{det.case_id}`", "", f"> {det.notice}", ""]
    p = det.provenance
    lines += [
        f"Backend: {p.backend} ({p.backend_kind}); criteria set {p.criteria_set} {p.criteria_version}; "
        f"knowledge base {p.kb_version}; engine {p.engine_version}.",
        "",
    ]
    if det.red_flags:
        lines += [f"**Red flags in the note:** {', '.join(det.red_flags)}", ""]
    if det.injection_quotes:
        lines += [f"**Note contains {len(det.injection_quotes)} instruction(s) addressed to the reviewer; ignored.**", ""]
    for d in det.determinations:
        lines += [f"## {d.code}: {d.description or ''} - **{_decision_label(d)}**", "", d.rationale, ""]
        if d.topic_title:
            lines += [f"Guideline: {d.topic_title}; scenario: {d.variant_title} (rating {d.rating or 'n/a'}).", ""]
        if d.departures:
            lines += ["Criteria-set departures from the guideline that decided this code:", *[f"- {x}" for x in d.departures], ""]
        if d.criteria:
            lines += ["| criterion | status | note evidence | guideline citation |", "| --- | --- | --- | --- |"]
            for f in d.criteria:
                quote = (
                    "; ".join(f'"{q.text}"' for q in f.note_quotes[:2]).replace("\n", " ").replace("|", "/")
                    or f.explanation
                    or "-"
                )
                cite = f'`{f.citation.chunk_id}`: "{f.citation.quote}"' if f.citation else "-"
                lines.append(f"| {f.label} | {f.status.value.replace('_', ' ')} | {quote} | {cite} |")
            lines.append("")
        if d.missing_documentation:
            lines += ["Missing documentation that would support approval:", *[f"- {m}" for m in d.missing_documentation], ""]
        if d.alternative_code:
            lines += [f"Alternative: {d.alternative_code} ({d.alternative_reason}).", ""]
    if det.reading is not None:
        lines += reading_markdown(det.reading)
    if det.validator_findings:
        lines += [
            "## Validator findings",
            *[f"- [{v.severity.value}] {v.kind.value}: {v.message}" for v in det.validator_findings],
            "",
        ]
    lines.append(det.summary)
    return "\n".join(lines) + "\n"


DOC_TITLE_SHORT = 32
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_text(text: str) -> str:
    """Documentation text inside a Markdown line or table cell: one line, Markdown and HTML characters
    escaped (notes are untrusted: their words must not become a heading, a link or markup)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _quote_md(q: ReadingQuote) -> str:
    return f'"{md_text(q.text)}"'


def _when(c: ReadingCourse) -> str:
    length = f"{c.weeks:g} weeks" if c.weeks is not None else "length not stated"
    if c.started and c.ended:
        return f"{c.started.isoformat()} to {c.ended.isoformat()} ({length})"
    if c.ended and c.status != "planned":
        return f"{length}, ending {c.ended.isoformat()}"
    return length


def _doc_md(reading: Reading, number: int | None) -> str:
    """'2 (PT PROGRESS NOTE...)': the document's number in the documents table, and its title shortened."""
    doc = reading.document(number)
    if doc is None:
        return "-"
    title = doc.title if len(doc.title) <= DOC_TITLE_SHORT else doc.title[: DOC_TITLE_SHORT - 3].rstrip() + "..."
    return f"{doc.number} ({md_text(title)})"


def reading_markdown(reading: Reading) -> list[str]:
    """The Reading part of a determination in Markdown: documents and sections, the care timeline per
    region, and the red-flag findings with their quotes and assertions."""
    when = f"; note date {reading.note_date.isoformat()}" if reading.note_date else ""
    lines = [
        "## Reading of the documentation",
        "",
        f"As read by the rules reader ({reading.reader}{when}). Quotes are verbatim (line breaks shown as spaces).",
        "",
        "### Documents",
        "",
        "| # | date | kind | title | sections |",
        "| --- | --- | --- | --- | --- |",
    ]
    for d in reading.documents:
        sections = ", ".join(md_text(s.heading) for s in d.sections) or "-"
        date = d.date.isoformat() if d.date else "undated"
        lines.append(f"| {d.number} | {date} | {d.kind or '-'} | {md_text(d.title)} | {sections} |")
    lines += ["", "### Conservative care timeline", ""]
    if not reading.care:
        lines += ["No conservative care is documented.", ""]
    for region in reading.care:
        if region.weeks is None:
            counted = "no course of completed or ongoing care with a length."
        else:
            counted = f"{region.weeks:g} weeks of completed or ongoing care counted."
        lines += [f"**{region.region.capitalize()}**: {counted}", ""]
        if not region.courses:
            continue
        lines += [
            "| modality | status | dates or length | region named | document | quote |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in region.courses:
            quote = "; ".join(_quote_md(q) for q in c.quotes[:2]) or "-"
            named = ", ".join(c.regions) or "not said"
            lines.append(f"| {c.label} | {c.status} | {_when(c)} | {named} | {_doc_md(reading, c.document)} | {quote} |")
        lines.append("")
    lines += ["### Red flags", ""]
    present = ", ".join(reading.red_flags_present) or "none"
    lines += [f"Present: {present}."]
    for flag, codes in reading.red_flag_codes.items():
        lines.append(f"{flag}: supported by diagnosis code(s) {', '.join(codes)}.")
    lines.append("")
    if reading.red_flags:
        lines += ["| red flag | counted | assertion | document | section | quote |", "| --- | --- | --- | --- | --- | --- |"]
        for f in reading.red_flags:
            assertion = ASSERTION_WORDS[f.assertion] + (f": {md_text(f.why)}" if f.why else "")
            section = md_text(f.quote.section) if f.quote.section else "-"
            lines.append(
                f"| {f.flag} | {'yes' if f.counted else 'no'} | {assertion} | {_doc_md(reading, f.quote.document)} | "
                f"{section} | {_quote_md(f.quote)} |"
            )
        lines.append("")
    return lines
