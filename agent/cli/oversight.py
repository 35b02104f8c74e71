"""``umreview oversight``: how often physicians agree with the recommendations, from the audit store.

Exit codes: 0 ok (also when the alert fires, unless ``--fail-on-alert``); 1 the overturn-rate alert
fired and ``--fail-on-alert`` was given (for cron); 2 bad input (a date, threshold or window).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent.errors import UmreviewError

if TYPE_CHECKING:
    from agent.evals.oversight import Agreement, OversightReport

out = Console()
err = Console(stderr=True)


class BucketChoice(StrEnum):
    day = "day"
    week = "week"
    month = "month"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _kappa(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def agreement_table(title: str, rows: list[Agreement], key: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col, justify in ((key, "left"), ("codes", "right"), ("reviews", "right"), ("agreement", "right"), ("kappa", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]  # rich's JustifyMethod literal
    table.add_column("overturned", justify="right")
    table.add_column("deny->approve", justify="right")
    for r in rows:
        unsafe = Text(str(r.deny_to_approve), style="bold red" if r.deny_to_approve else "")
        table.add_row(
            r.key,
            str(r.codes),
            str(r.reviews),
            _pct(r.agreement),
            _kappa(r.kappa),
            f"{r.overturned} ({_pct(r.overturn_rate)})",
            unsafe,
        )
    return table


def print_report(report: OversightReport, console: Console) -> None:
    from agent.evals.oversight import DIMENSIONS

    o = report.overall
    scope = f" since {report.since}" if report.since else ""
    console.print(
        f"[bold]Oversight{scope}[/]: {report.reviews_signed} signed review(s), {o.codes} code(s); "
        f"{report.reviews_pending} review(s) not yet signed (not counted)",
        highlight=False,
    )
    console.print(
        f"agreement {_pct(o.agreement)}, kappa {_kappa(o.kappa)}, overturn rate {_pct(o.overturn_rate)} "
        f"({o.overturned} code(s) in {report.reviews_overturned} review(s)), recommended deny overturned to approve: "
        f"{o.deny_to_approve}",
        highlight=False,
    )
    style = "bold red" if report.alert.triggered else "green"
    console.print(Text(report.alert.message, style=style))
    console.print(agreement_table(f"Over time (by {report.bucket} of sign-off)", report.timeline, report.bucket))
    for dim, heading in DIMENSIONS.items():
        console.print(agreement_table(heading, report.breakdowns[dim], dim))
    if report.unsafe:
        table = Table(title="UNSAFE: recommended deny overturned to approve", title_style="bold red", title_justify="left")
        for col in ("review", "code", "region", "signed (UTC)", "physician", "backend", "reason"):
            table.add_column(col, overflow="fold")
        for u in report.unsafe:
            table.add_row(
                u.review_id, u.code, u.region, u.signed_at.strftime("%Y-%m-%d"), u.signed_by, u.backend, u.reason or "-"
            )
        console.print(table)
    if report.reasons:
        table = Table(title="Reasons physicians gave for overturning", title_justify="left")
        for col, justify in (("reason", "left"), ("codes", "right"), ("reviews", "right"), ("deny->approve", "right")):
            table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]  # rich's JustifyMethod literal
        for reason in report.reasons:
            table.add_row(reason.reason, str(reason.codes), str(reason.reviews), str(reason.deny_to_approve))
        console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def oversight(
        since: Annotated[
            str | None, typer.Option("--since", help="Only sign-offs on or after this date (YYYY-MM-DD, UTC)")
        ] = None,
        bucket: Annotated[BucketChoice, typer.Option("--bucket", help="Time buckets of the trend")] = BucketChoice.week,
        threshold: Annotated[
            float | None,
            typer.Option(
                "--threshold", min=0.0, max=1.0, help="Alert at this overturn rate; env UMREVIEW_OVERSIGHT_OVERTURN_ALERT"
            ),
        ] = None,
        window_days: Annotated[
            int | None, typer.Option("--window-days", min=1, help="Days the alert looks back; env UMREVIEW_OVERSIGHT_WINDOW_DAYS")
        ] = None,
        min_codes: Annotated[
            int | None,
            typer.Option("--min-codes", min=1, help="Signed codes needed in the window; env UMREVIEW_OVERSIGHT_MIN_CODES"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
        fail_on_alert: Annotated[
            bool, typer.Option("--fail-on-alert", help="Exit 1 when the overturn-rate alert fires (cron)")
        ] = False,
    ) -> None:
        """Agreement of physicians' sign-offs with the recommendations: over time, by criterion, region, code,
        backend, prompt and criteria version; overturn reasons, unsafe overturns and the overturn-rate alert."""
        from agent.evals.oversight import oversight_report
        from agent.settings import get_settings
        from agent.store.reviews import Store

        try:
            start = date.fromisoformat(since) if since else None
        except ValueError:
            err.print(
                f"[red]error:[/] --since: {escape(since or '')[:40]!r} is not a date; give YYYY-MM-DD, e.g. 2026-11-01",
                soft_wrap=True,
            )
            raise typer.Exit(2) from None
        settings = get_settings()
        try:
            store = Store()
            try:
                report = oversight_report(
                    store,
                    threshold=settings.oversight_overturn_alert if threshold is None else threshold,
                    window_days=window_days or settings.oversight_window_days,
                    min_codes=min_codes or settings.oversight_min_codes,
                    since=start,
                    bucket=bucket.value,  # type: ignore[arg-type]  # BucketChoice values are the Bucket literals
                )
            finally:
                store.close()
        except UmreviewError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        if as_json:
            data = report.model_dump(mode="json")
            out.print_json(data=data)
        else:
            print_report(report, out if out.is_terminal else Console(width=160))
        if fail_on_alert and report.alert.triggered:
            err.print(f"[bold red]{escape(report.alert.message)}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
