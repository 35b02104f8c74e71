"""``umreview policy``: lint a criteria set, test it on labeled cases, draft one from a plan's policy with a
language model, accept a draft.

Exit codes: 0 ok; 1 ``test`` found an unsafe denial, a case that could not be judged or accuracy under
``--min-accuracy``, or ``draft`` was refused (schema or citations); 2 bad input: a lint error, an
unknown set, no model configured for ``draft``, a proposal that fails lint at ``accept``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.cli.reviewer import user_errors

if TYPE_CHECKING:
    from agent.criteria.lint import PolicyProblem
    from agent.evals.policy import PolicyTestReport

out = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
NEEDS_MODEL = (
    "policy draft needs a language model: it drafts criteria from the policy text, and the offline rules backend "
    "cannot read a policy. Set UMREVIEW_BACKEND=openai with UMREVIEW_OPENAI_API_KEY (or UMREVIEW_OPENAI_BASE_URL "
    "for a local OpenAI-compatible server), or pass --backend openai."
)


def print_problems(problems: list[PolicyProblem]) -> None:
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        out.print(f"[{style}]{p.severity}[/] {escape(p.where)}: [bold]{p.kind}[/]: {escape(p.message)}", soft_wrap=True)
    errors = sum(p.severity == "error" for p in problems)
    out.print(f"{errors} error(s), {len(problems) - errors} warning(s)")


def test_table(report: PolicyTestReport) -> Table:
    right, total = report.codes
    table = Table(title=f"policy test {report.policy}: {right}/{total} codes as labeled")
    for col in ("case", "version", "expected", "got", "rules exercised"):
        table.add_column(col, overflow="fold")
    for c in report.cases:
        got = c.error or ", ".join(f"{k} {v}" for k, v in c.predicted.items())
        style = "" if c.correct else "bold red" if c.unsafe or c.error else "yellow"
        expected = ", ".join(f"{k} {v}" for k, v in c.expected.items())
        rules = ", ".join(r.split("/", 1)[-1] for r in c.rules)  # the topic is the code's region
        table.add_row(c.id, c.version or "-", expected, f"[{style}]{escape(got)}[/]" if style else got, rules)
    return table


def register(app: typer.Typer) -> None:
    policy_app = typer.Typer(help="Author criteria sets: lint, test, draft from a policy document, accept.", no_args_is_help=True)
    app.add_typer(policy_app, name="policy")

    @policy_app.command("lint")
    def lint(
        target: Annotated[str, typer.Argument(help="Criteria set id, proposal id, or proposal directory")],
        as_json: JsonOpt = False,
    ) -> None:
        """Schema and citations of every version, unreachable variants, conditions never used, codes without a rule."""
        from agent.evals.policy import knowledge_for, lint_set
        from agent.settings import get_settings

        with user_errors():
            kb, policy_id = knowledge_for(target, get_settings())
            problems = lint_set(kb, policy_id)
        if as_json:
            out.print_json(data=[p.model_dump() for p in problems])
        else:
            print_problems(problems)
        raise typer.Exit(2 if any(p.severity == "error" for p in problems) else 0)

    @policy_app.command("test")
    def test(
        target: Annotated[str, typer.Argument(help="Criteria set id, proposal id, or proposal directory")],
        cases: Annotated[list[Path], typer.Argument(help="Labeled case files or folders")],
        min_accuracy: Annotated[
            float, typer.Option("--min-accuracy", min=0.0, max=1.0, help="Fail under this share of codes")
        ] = 0.8,
        as_json: JsonOpt = False,
    ) -> None:
        """The eval restricted to one set: each case's decisions, the rules it exercised, and rules no case exercises."""
        from agent.cases.load import load_cases
        from agent.evals.policy import knowledge_for, run_policy_test
        from agent.settings import get_settings

        loaded = load_cases(cases)
        for problem in loaded.errors:
            err.print(f"[red]error:[/] {escape(str(problem))}")
        labeled = [c for c in loaded.cases if c.expected is not None]
        if not labeled:
            err.print("[red]error:[/] no labeled cases")
            raise typer.Exit(2)
        with user_errors():
            kb, policy_id = knowledge_for(target, get_settings())
            report = run_policy_test(kb, policy_id, labeled)
        right, total = report.codes
        if as_json:
            out.print_json(data={**report.model_dump(), "unexercised": report.unexercised, "codes_right": right, "codes": total})
        else:
            out.print(test_table(report))
            out.print(
                f"rules no case exercises ({len(report.unexercised)} of {len(report.rules)}): "
                + (", ".join(report.unexercised) or "none")
            )
        failed = [c.id for c in report.cases if c.unsafe or c.error]
        if failed or (total and right / total < min_accuracy):
            err.print(f"[red]failed:[/] {right}/{total} codes; unsafe or not judged: {', '.join(failed) or 'none'}")
            raise typer.Exit(1)
        if loaded.errors:
            raise typer.Exit(2)

    @policy_app.command("draft")
    def draft(
        document: Annotated[Path, typer.Argument(help="The plan's policy: .pdf, .md or .txt")],
        backend: Annotated[str | None, typer.Option("--backend", "-b", help="openai (needed); env UMREVIEW_BACKEND")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Draft a criteria set from a policy document with the language model; written as a proposal to accept."""
        from agent.settings import get_settings

        settings = get_settings()
        if (backend or settings.backend) != "openai":
            err.print(f"[red]error:[/] {NEEDS_MODEL}")
            raise typer.Exit(2)
        from agent.evals.policy_draft import draft_policy

        with user_errors():
            proposal = draft_policy(document, settings)
        if as_json:
            out.print_json(data=proposal.model_dump())
            return
        pid = proposal.policy_id
        out.print(f"proposed criteria set [bold]{pid}[/] in {escape(proposal.directory)} ({proposal.attempts} attempt(s))")
        print_problems(proposal.problems)
        out.print(f"not active yet: check it with umreview policy test {pid} CASES/, then umreview policy accept {pid}")

    @policy_app.command("accept")
    def accept(
        policy_id: Annotated[str, typer.Argument(help="The proposed set's id")],
        reviewer: Annotated[str, typer.Option("--reviewer", help="Who accepts it (recorded)")],
    ) -> None:
        """Make a proposed criteria set active, after linting it again (errors refuse it)."""
        from agent.evals.policy_draft import accept_proposal
        from agent.settings import get_settings

        with user_errors():
            moved = accept_proposal(get_settings(), policy_id, actor=reviewer)
        out.print(f"criteria set [bold]{policy_id}[/] is active: " + ", ".join(p.name for p in moved))
