"""``umreview eval``: run labeled cases, compare with a baseline, write results and reports; ``--lint``.

Exit codes: 0 ok; 1 regression (with ``--fail-on-regression``); 2 bad input (case, baseline or
option); 130 interrupted with Ctrl-C (finished cases are still written).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from agent.errors import UmreviewError

if TYPE_CHECKING:
    from agent.cases.model import Case
    from agent.evals.compare import Comparison
    from agent.evals.export import ExportResult
    from agent.evals.lint import LintProblem
    from agent.evals.results import CaseResult, EvalResults
    from agent.knowledge.base import KnowledgeBase
    from agent.review.reviewer import Reviewer
    from agent.settings import Settings

out = Console()
err = Console(stderr=True)

DEFAULT_CASES = Path("evals/cases")
RUN = "run"  # the default command of the eval group: `umreview eval PATHS` is `umreview eval run PATHS`
DECISION_STYLE = {"approve": "green", "deny": "red", "refer": "yellow"}
STATUS_STYLE = {"fixed": "bold green", "broken": "bold red", "changed": "cyan", "new": "blue", "removed": "dim"}
EXIT_INTERRUPTED = 130
UNSCORED = ("label_for_unrequested_code", "unlabeled_code")  # label problems that leave a code out of the score


def eval_settings(no_cache: bool) -> Settings:
    """The settings for an eval run; with ``no_cache`` the on-disk LLM reply cache is switched off.

    Repeats always run without it: a cached reply would hide exactly the flips they measure.
    """
    from agent.settings import get_settings

    settings = get_settings()
    return settings.model_copy(update={"llm_cache": False}) if no_cache else settings


def knowledge_base(settings: Settings) -> KnowledgeBase:
    """The knowledge base the eval reviews against (a seam for tests: swap the embedder)."""
    from agent.knowledge.base import KnowledgeBase

    return KnowledgeBase(settings)


def _lint(paths: list[Path], policy: str | None) -> None:
    from agent.evals.lint import lint_cases

    problems = lint_cases(paths, knowledge_base(eval_settings(False)).criteria(policy))
    _print_lint(problems)
    errors = [p for p in problems if p.severity == "error"]
    out.print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    raise typer.Exit(2 if errors else 0)


def _print_lint(problems: list[LintProblem]) -> None:
    """One line per problem (file, kind, message): readable in a CI log and easy to grep."""
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        where = p.source + (f" ({p.case_id})" if p.case_id and p.case_id not in p.source else "")
        out.print(f"[{style}]{p.severity}[/] {where}: [bold]{p.kind}[/]: {p.message}", highlight=False, soft_wrap=True)


def _decision(value: str | None) -> Text:
    return Text(value or "–", style=DECISION_STYLE.get(value or "", "dim"))


def summary_table(results: EvalResults, comparison: Comparison | None) -> Table:
    from agent.evals.metrics import HEADLINE, fmt, headline

    now = headline(results.summary)
    base = comparison.baseline_headline if comparison else {}
    table = Table(title=f"Eval: {results.summary['cases']} cases, {results.summary['codes']} labeled codes")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if base:
        table.add_column("baseline", justify="right")
    for key, label, _path, kind in HEADLINE:
        if now.get(key) is None and key in ("flip_rate", "total_tokens", "cost_usd"):
            continue
        bad = (key == "unsafe_denials" and bool(now[key])) or (key == "red_flag_recall" and now[key] not in (None, 1, 1.0))
        cells: list[str | Text] = [label, Text(fmt(now.get(key), kind), style="bold red" if bad else "")]
        table.add_row(*cells, *([fmt(base.get(key), kind)] if base else []))
    return table


def diff_table(comparison: Comparison) -> Table:
    counts = ", ".join(f"{n} {k}" for k, n in comparison.counts.items())
    table = Table(title=f"Changes against the baseline ({counts})")
    for col in ("case", "status", "code", "label", "baseline", "now", "red flags (baseline -> now)"):
        table.add_column(col, overflow="fold")
    for r in comparison.rows:
        status = Text(r.status + (" (label changed)" if r.label_changed else ""), style=STATUS_STYLE[r.status])
        flags = f"{', '.join(r.flags_baseline) or '-'} -> {', '.join(r.flags_current) or '-'}"
        for i, c in enumerate(r.codes or [None]):
            first = i == 0
            table.add_row(
                r.case if first else "",
                status if first else "",
                c.code if c else "",
                _decision(c.expected if c else None),
                _decision(c.baseline if c else None),
                _decision(c.current if c else None),
                flags if first else "",
            )
    return table


def _load_labeled(targets: list[Path]) -> tuple[list[Case], dict[str, str], bool]:
    """Labeled cases, their sources, and whether any input was bad (the rest still runs)."""
    from agent.cases.load import load_cases

    loaded = load_cases(targets)
    for problem in loaded.errors:
        err.print(f"[red]error:[/] {escape(str(problem))}")
    unlabeled = [c for c in loaded.cases if c.expected is None]
    for case in unlabeled:
        err.print(f"[red]error:[/] {loaded.sources[case.id]}: expected: case {case.id!r} has no labels")
    cases = [c for c in loaded.cases if c.expected is not None]
    if not cases:
        err.print("[red]error:[/] no labeled cases to evaluate")
        raise typer.Exit(2)
    return cases, loaded.sources, bool(loaded.errors or unlabeled)


def _warn_unscored(cases: list[Case], sources: dict[str, str], reviewer: Reviewer) -> None:
    from agent.evals.lint import label_problems

    for case in cases:
        for p in label_problems(case, sources[case.id], reviewer.criteria):
            if p.kind in UNSCORED:
                err.print(f"[yellow]warning:[/] {p.source}: {p.message} (not scored)")


def _run(cases: list[Case], sources: dict[str, str], reviewer: Reviewer, repeat: int) -> tuple[list[CaseResult], bool]:
    from agent.evals.run import iter_eval, warm_up

    if cases:
        with err.status("loading the knowledge base and language pipeline"):
            warm_up(reviewer, cases[0])
    finished: list[CaseResult] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("evaluating", total=len(cases))
            for result in iter_eval(cases, reviewer, repeat=repeat, sources=sources):
                finished.append(result)
                progress.update(task, advance=1, description=f"evaluating [dim]{result.id[:40]}[/]")
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted:[/] keeping the {len(finished)} finished case(s) of {len(cases)}")
        return finished, True
    return finished, False


def _write_outputs(
    results: EvalResults,
    comparison: Comparison | None,
    notes: dict[str, str],
    results_path: Path | None,
    reports: list[Path],
    junit: Path | None,
) -> None:
    from agent.evals.report import to_junit, write_report
    from agent.evals.results import write_results

    if results_path:
        write_results(results, results_path)
        err.print(f"results: {results_path}")
    for report in reports:
        write_report(report, results, comparison, notes)
        err.print(f"report: {report}")
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(to_junit(results, comparison), encoding="utf-8")
        err.print(f"junit: {junit}")


class EvalGroup(TyperGroup):
    """``umreview eval [PATHS]...`` runs the eval (the ``run`` command, also its ``--help``);
    ``umreview eval export ...`` exports signed decisions as labeled cases."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's vendored click Context
        if not args or args[0] not in self.commands:
            args = [RUN, *args]
        return super().parse_args(ctx, args)


def _export_table(result: ExportResult) -> Table:
    table = Table(title=f"Exported {len(result.written)} signed review(s) to {result.out_dir}")
    for col in ("case file", "signed (UTC)", "sign-off", "labels"):
        table.add_column(col, overflow="fold")
    for case in result.written:
        labels = Text()
        for i, (code, dec) in enumerate(case.decisions.items()):
            labels.append(("\n" if i else "") + f"{code} ")
            labels.append(dec.value + (" (overturned)" if code in case.overturned_codes else ""), style=DECISION_STYLE[dec.value])
        table.add_row(case.file, case.signed_at.strftime("%Y-%m-%d %H:%M"), case.sign_decision, labels)
    return table


def _since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(
            f"[red]error:[/] --since: {escape(value[:40])!r} is not a date; give YYYY-MM-DD, e.g. 2026-11-01", soft_wrap=True
        )
        raise typer.Exit(2) from None


def export_command(
    out_dir: Annotated[Path, typer.Argument(help="Directory for the labeled cases (created if missing; holds note text)")],
    from_audit: Annotated[
        bool, typer.Option("--from-audit", help="Export the physicians' signed decisions in the audit store")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Only reviews signed on or after this date (YYYY-MM-DD, UTC)")
    ] = None,
    policy: Annotated[str | None, typer.Option("--policy", "-p", help="Only reviews made under this criteria set")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON (no note text)")] = False,
) -> None:
    """Write every physician-signed review as a labeled case (the final decision per code is the label);
    evaluate them with `umreview eval OUT/`. Unsigned reviews are never exported."""
    from agent.evals.export import export_signed
    from agent.store.reviews import Store

    if not from_audit:
        err.print("[red]error:[/] say where the labels come from: `umreview eval export --from-audit OUT/`")
        raise typer.Exit(2)
    start = _since(since)
    try:
        store = Store()
        try:
            result = export_signed(store, out_dir, since=start, policy=policy)
        finally:
            store.close()
    except UmreviewError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        out.print_json(data=result.model_dump(mode="json"))
    else:
        (out if out.is_terminal else Console(width=160)).print(_export_table(result))
    skipped = f"{result.skipped_unsigned} unsigned review(s) left out (a recommendation is not a label)"
    if result.skipped_before_since:
        skipped += f", {result.skipped_before_since} signed before {start}"
    if result.skipped_other_policy:
        skipped += f", {result.skipped_other_policy} made under another criteria set"
    err.print(skipped, highlight=False, soft_wrap=True)
    if len(result.criteria_sets) > 1:
        err.print(
            f"[yellow]note:[/] the cases were reviewed under {len(result.criteria_sets)} criteria sets "
            f"({', '.join(result.criteria_sets)}); export each with --policy and evaluate it with the same --policy",
            highlight=False,
            soft_wrap=True,
        )
    elif result.criteria_sets:
        err.print(f"evaluate with: umreview eval {out_dir} --policy {result.criteria_sets[0]}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    eval_app = typer.Typer(
        cls=EvalGroup,
        help="Evaluate labeled cases (umreview eval [PATHS]); export signed decisions as cases (umreview eval export).",
    )
    app.add_typer(eval_app, name="eval")
    eval_app.command("export")(export_command)

    @eval_app.command(RUN)
    def eval_command(
        paths: Annotated[list[Path] | None, typer.Argument(help="Labeled case files or folders (default: evals/cases)")] = None,
        backend: Annotated[str | None, typer.Option("--backend", "-b", help="offline or openai; env UMREVIEW_BACKEND")] = None,
        policy: Annotated[str | None, typer.Option("--policy", "-p", help="Criteria set id; env UMREVIEW_POLICY")] = None,
        results_path: Annotated[Path | None, typer.Option("--results", help="Write the results JSON here")] = None,
        baseline_path: Annotated[Path | None, typer.Option("--baseline", help="Results JSON to compare with")] = None,
        reports: Annotated[list[Path] | None, typer.Option("--report", help="Report file: .html or .md (repeatable)")] = None,
        junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here")] = None,
        fail_on_regression: Annotated[bool, typer.Option("--fail-on-regression", help="Exit 1 on a regression")] = False,
        tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, max=1.0, help="Allowed accuracy drop")] = 0.02,
        repeat: Annotated[int, typer.Option("--repeat", min=1, help="Review each case N times (flip rate)")] = 1,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the LLM reply cache (repeats always do)")] = False,
        lint: Annotated[bool, typer.Option("--lint", help="Only check the case set; review nothing")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON instead of tables")] = False,
    ) -> None:
        """Evaluate labeled cases: metrics, per-case diff against a baseline, reports; or --lint a case set.

        `umreview eval export --from-audit OUT/` writes the physicians' signed decisions as labeled cases."""
        from agent.evals.compare import compare
        from agent.evals.results import load_results
        from agent.evals.run import build_results, run_info
        from agent.review.reviewer import Reviewer

        targets = paths or [DEFAULT_CASES]
        if lint:
            _lint(targets, policy)
        cases, sources, bad_input = _load_labeled(targets)
        try:
            baseline = load_results(baseline_path) if baseline_path else None
            kb = knowledge_base(eval_settings(no_cache or repeat > 1))
            reviewer = Reviewer(kb, backend=backend, policy=policy, retrieve=True)
        except UmreviewError as exc:  # a bad baseline, backend or criteria set: say so before any case runs
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
        _warn_unscored(cases, sources, reviewer)
        finished, interrupted = _run(cases, sources, reviewer, repeat)
        results = build_results(finished, run_info(reviewer, repeat=repeat, planned=len(cases), interrupted=interrupted))
        comparison = None
        if baseline is not None or fail_on_regression:
            comparison = compare(results, baseline, tolerance=tolerance, label=str(baseline_path or ""))
            if baseline is not None:
                results.summary["comparison"] = comparison.summary()
        shown = comparison if baseline is not None else None
        notes = {c.id: c.request.documentation for c in cases}
        _write_outputs(results, shown, notes, results_path, reports or [], junit)
        if as_json:
            out.print_json(data=results.model_dump(mode="json"))
        else:
            out.print(summary_table(results, shown))
            if shown is not None and shown.rows:
                out.print(diff_table(shown))
        if interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        if comparison is not None:
            for reason in comparison.reasons:
                err.print(f"[bold red]regression:[/] {reason}")
            if not comparison.reasons:
                scope = "" if baseline is not None else " (no baseline: absolute safety checks only)"
                err.print(f"[green]no regression[/]{scope}")
        if bad_input:
            raise typer.Exit(2)
        if fail_on_regression and comparison is not None and comparison.regression:
            raise typer.Exit(1)
