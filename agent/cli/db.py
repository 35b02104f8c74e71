"""``umreview db``: the audit store's schema revision (Alembic migrations shipped in agent/store/migrations).

Exit codes: 0 ok; 1 the database cannot be reached or is at a revision this release does not know.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from agent.cli.reviewer import user_errors

out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(
        help="The audit store's schema: show its revision, or upgrade it (start-up upgrades too, unless "
        "UMREVIEW_DATABASE_AUTO_UPGRADE=false).",
        no_args_is_help=True,
    )
    app.add_typer(db_app, name="db")

    @db_app.command("current")
    def current(as_json: JsonOpt = False) -> None:
        """Show the database's schema revision and the newest this release knows (changes nothing)."""
        from agent.settings import get_settings
        from agent.store import migrations
        from agent.store.tables import make_engine

        url = get_settings().sqlalchemy_url
        with user_errors():
            engine = make_engine(url)
            try:
                now = migrations.state(engine)
            finally:
                engine.dispose()
        where = _safe(url)
        if as_json:
            out.print_json(data={"database": where, "current": now.current, "head": now.head, "up_to_date": now.up_to_date})
        else:
            out.print(f"audit store {where}: {now.describe()}", highlight=False)

    @db_app.command("upgrade")
    def upgrade(as_json: JsonOpt = False) -> None:
        """Upgrade the audit store's schema to the newest revision (one transaction; safe to re-run)."""
        from agent.settings import get_settings
        from agent.store import migrations
        from agent.store.tables import make_engine

        url = get_settings().sqlalchemy_url
        with user_errors():
            engine = make_engine(url)
            try:
                before, after = migrations.upgrade(engine)
            finally:
                engine.dispose()
        where = _safe(url)
        if as_json:
            out.print_json(data={"database": where, "from": before.current, "to": after.current, "head": after.head})
        elif before.current == after.current:
            out.print(f"audit store {where}: already at revision {after.current}", highlight=False)
        else:
            out.print(f"audit store {where}: upgraded from {before.current or 'no revision'} to {after.current}", highlight=False)


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
