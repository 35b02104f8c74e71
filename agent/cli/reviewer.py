"""Reviewer commands over the audit store: ``umreview history``, ``umreview audit verify``, ``umreview sign``.

Exit codes: 0 ok; 1 the audit log has problems; 2 bad input (unknown review id, a non-physician
signing, an override without a reason, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent.errors import UmreviewError

if TYPE_CHECKING:
    from agent.cases.determination import Determination
    from agent.cases.model import Case
    from agent.store.reviews import ReviewRecord

out = Console()
err = Console(stderr=True)


class StatusChoice(StrEnum):
    recommendation = "recommendation"
    final = "final"
    overturned = "overturned"


class DecisionChoice(StrEnum):
    approve = "approve"
    deny = "deny"
    refer = "refer"


class SignChoice(StrEnum):
    uphold = "uphold"
    overturn = "overturn"


class OverturnTo(StrEnum):
    approve = "approve"
    refer = "refer"


DECISION_STYLE = {"approve": "green", "deny": "red", "refer": "yellow"}


@contextmanager
def user_errors() -> Iterator[None]:
    """UmreviewError -> a red message and its exit code (also under CliRunner, which bypasses ``main``)."""
    try:
        yield
    except UmreviewError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def when(moment: datetime, *, zone: bool = True) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") + (" UTC" if zone else "")


def decisions_text(rec: ReviewRecord) -> Text:
    """One line per code: the recommendation, and the physician's decision where it differs."""
    text = Text()
    final = rec.final_decisions
    for i, (code, recommended) in enumerate(rec.recommendations.items()):
        if i:
            text.append("\n")
        text.append(f"{code} ")
        text.append(recommended.value, style=DECISION_STYLE[recommended.value])
        if final[code] != recommended:
            text.append(" -> ")
            text.append(final[code].value, style=f"bold {DECISION_STYLE[final[code].value]}")
    return text


def history_table(records: list[ReviewRecord], now: datetime) -> Table:
    table = Table(title=f"Reviews ({len(records)})")
    for col in ("review", "case", "received (UTC)", "due (UTC)", "urgency", "recommendation", "status", "overdue"):
        table.add_column(col, overflow="fold")
    for rec in records:
        status = rec.status.value + (f"\n{rec.signoff.reviewer}" if rec.signoff else "")
        table.add_row(
            rec.id,
            rec.case_id,
            when(rec.received_at, zone=False),
            when(rec.due_at, zone=False),
            rec.urgency.value,
            decisions_text(rec),
            status,
            Text("OVERDUE", style="bold red") if rec.overdue(now) else "",
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def history(
        status: Annotated[StatusChoice | None, typer.Option("--status", help="Only reviews with this status")] = None,
        decision: Annotated[DecisionChoice | None, typer.Option("--decision", help="Only reviews with a code decided so")] = None,
        overdue: Annotated[bool, typer.Option("--overdue", help="Only reviews past their decision clock and unsigned")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the reviews as JSON (no note text)")] = False,
        due: Annotated[bool, typer.Option("--due", help="Soonest due first (default: newest first)")] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many reviews")] = 200,
    ) -> None:
        """List stored reviews with their decision clocks: newest first, or soonest due first with --due."""
        from agent.store.reviews import Store

        now = datetime.now(UTC)
        with user_errors():
            records = Store().list_reviews(
                status=status,
                decision=decision,
                overdue=True if overdue else None,
                now=now,
                order="due" if due else "newest",
                limit=limit,
            )
        if as_json:
            out.print_json(data=[r.summary(now) for r in records])
        elif not records:
            out.print("No reviews match these filters." if status or decision or overdue else "No reviews stored yet.")
        else:  # piped or captured: wide enough that ids and times never fold
            (out if out.is_terminal else Console(width=160)).print(history_table(records, now))

    audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def verify(as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False) -> None:
        """Check the hash chain, every review row and every API token; exit 1 if anything was edited or deleted."""
        from agent.store.reviews import Store

        with user_errors():
            store = Store()
            try:
                problems = store.verify()
                reviews, events = store.counts()
            finally:
                store.close()
        if as_json:
            out.print_json(
                data={"ok": not problems, "reviews": reviews, "events": events, "problems": [p.model_dump() for p in problems]}
            )
        elif problems:
            err.print(f"[red]audit log problems ({len(problems)}):[/]")
            for p in problems:
                err.print(f"  - {p.kind}: {p.message}", highlight=False)
        else:
            out.print(f"audit log OK: {reviews} review(s), {events} event(s), hash chain intact ({store.safe_url})")
        if problems:
            raise typer.Exit(1)

    @app.command()
    def sign(
        review_id: Annotated[str, typer.Argument(help="Review id from `umreview history`")],
        reviewer: Annotated[str, typer.Option("--reviewer", help="The signing physician's name")],
        credentials: Annotated[str, typer.Option("--credentials", help='e.g. "MD, board-certified diagnostic radiology"')],
        decision: Annotated[SignChoice, typer.Option("--decision", help="uphold the recommendation, or overturn its denial(s)")],
        reason: Annotated[str | None, typer.Option("--reason", help="Why (required to overturn)")] = None,
        role: Annotated[str, typer.Option("--role", help="Signer's role; only physician may sign")] = "physician",
        to: Annotated[OverturnTo, typer.Option("--to", help="With overturn: the new decision")] = OverturnTo.approve,
        codes: Annotated[list[str] | None, typer.Option("--code", help="With overturn: only these codes (repeatable)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the signed review as JSON")] = False,
    ) -> None:
        """Physician sign-off: make a recommendation final, or overturn a recommended denial with a reason."""
        from agent.store.reviews import Store

        with user_errors():
            rec = Store().sign(
                review_id,
                reviewer=reviewer,
                credentials=credentials,
                decision=decision.value,
                reason=reason,
                role=role,
                codes=codes or None,
                to=to.value,
            )
        if as_json:
            out.print_json(data=rec.summary())
            return
        verb = "upheld" if rec.status == "final" else "overturned"
        out.print(f"Review {rec.id} {verb} by {reviewer} ({credentials}); status {rec.status.value}.", highlight=False)
        out.print(Text.assemble("Final decisions: ", decisions_text(rec)))


def cli_actor() -> str:
    """Who ran the command, for the audit log: the login name."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown-user"


class ReviewSaver:
    """For ``umreview review``: saves each new determination in the default audit store and prints its
    review id on stderr (stdout stays clean for --json); does nothing with ``--no-store``."""

    def __init__(self, cases: Sequence[Case], *, no_store: bool) -> None:
        from agent.store.reviews import Store

        self.by_id = {c.id: c for c in cases}
        self.actor = cli_actor()
        self.store: Store | None = None
        if not no_store:
            with user_errors():
                self.store = Store()  # opened before any review runs: a bad database URL fails fast

    def __call__(self, det: Determination) -> None:
        if self.store is None:
            return
        with user_errors():
            rec = self.store.save_review(self.by_id[det.case_id], det, actor=self.actor)
        err.print(f"case {det.case_id}: saved as review [bold]{rec.id}[/] (due {when(rec.due_at)})", highlight=False)

    def then(self, after: Callable[[Determination], object]) -> Callable[[Determination], None]:
        """A callback that saves, then calls ``after`` (e.g. advancing a progress bar)."""

        def both(det: Determination) -> None:
            self(det)
            after(det)

        return both
