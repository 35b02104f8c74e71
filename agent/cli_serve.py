"""``umreview serve`` and ``umreview token``: run the web service and manage API tokens."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers: Annotated[int, typer.Option(help="Worker processes (use PostgreSQL and a Chroma server for > 1)")] = 1,
    ) -> None:
        """Run the web workbench, REST API (/v1, docs at /docs) and FHIR endpoint (/fhir/Claim/$submit)."""
        import uvicorn

        from agent.settings import get_settings
        from agent.web.auth import TokenStore

        settings = get_settings()
        from agent.store import Store

        path = TokenStore(Store(settings=settings).engine).ensure_admin(settings.data_dir)
        if path:
            token = path.read_text().strip()
            url = f"http://{host}:{port}/login"
            err.print(f"[bold]First start:[/] an admin token was created. Sign in at {url} with:\n\n    {token}\n")
            err.print(f"It is also saved in {path} (readable by you only). Create more with `umreview token create`.")
        if workers > 1:
            # Each worker embeds queries with torch; split the cores instead of every worker using all of them.
            os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
        uvicorn.run(
            "agent.web.factory:app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # our own access log has no query strings or bodies
            log_level="info",
        )

    token_app = typer.Typer(help="Manage API tokens (roles: reviewer, physician, admin).", no_args_is_help=True)
    app.add_typer(token_app, name="token")

    @token_app.command("create")
    def create(
        name: Annotated[str, typer.Option(help="Who the token is for, e.g. dr.lee")],
        role: Annotated[str, typer.Option(help="reviewer, physician or admin")] = "reviewer",
    ) -> None:
        """Create a token; it is printed once and stored only as a hash."""
        from agent.store import Store
        from agent.web.auth import Role, TokenStore

        token = TokenStore(Store().engine).create(name, Role(role))
        out.print(token)

    @token_app.command("list")
    def list_tokens() -> None:
        """List tokens (ids, names, roles; never the tokens)."""
        from agent.store import Store
        from agent.web.auth import TokenStore

        table = Table("id", "name", "role", "created", "revoked")
        for row in TokenStore(Store().engine).list():
            table.add_row(row.id, row.name, row.role, row.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if row.revoked else "")
        out.print(table)

    @token_app.command("revoke")
    def revoke(token_id: Annotated[str, typer.Argument(help="Token id from `umreview token list`")]) -> None:
        """Revoke a token."""
        from agent.store import Store
        from agent.web.auth import TokenStore

        TokenStore(Store().engine).revoke(token_id)
        out.print(f"revoked {token_id}")
