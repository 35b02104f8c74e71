"""``umreview serve`` and ``umreview token``: run the web service and manage API tokens."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


class RoleChoice(StrEnum):
    reviewer = "reviewer"
    physician = "physician"
    admin = "admin"


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
        from agent.store.reviews import Store

        path = TokenStore(Store(settings=settings), settings.api_tokens).ensure_admin(settings.data_dir)
        if path:
            token = path.read_text().strip()
            url = f"http://{host}:{port}/login"
            err.print(f"[bold]First start:[/] an admin token was created. Sign in at {url} with:\n\n    {token}\n")
            err.print(f"It is also saved in {path} (readable by you only). Create more with `umreview token create`.")
        if "embedder" not in settings.model_fields_set:
            # A server starts once and then embeds every query: sentence-transformers' slower import
            # does not matter there, its faster forward pass does (same vectors as the numpy default).
            os.environ["UMREVIEW_EMBEDDER"] = "minilm-torch"
            get_settings.cache_clear()
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
        role: Annotated[RoleChoice, typer.Option(help="What the token may do")] = RoleChoice.reviewer,
    ) -> None:
        """Create a token; it is printed once and stored only as a hash."""
        from agent.store.reviews import Store
        from agent.web.auth import Role, TokenStore

        token = TokenStore(Store()).create(name, Role(role.value), actor="cli")
        out.print(token)

    @token_app.command("hash")
    def hash_token(
        name: Annotated[str, typer.Option(help="Who the token is for, e.g. ci-bot")],
        role: Annotated[RoleChoice, typer.Option(help="What the token may do")] = RoleChoice.reviewer,
    ) -> None:
        """Make a token for configuration: prints the token once, and the entry (with its SHA-256 only)
        to put in UMREVIEW_API_TOKENS or the config file. Nothing is stored."""
        import json

        from agent.settings import ConfiguredToken
        from agent.web.auth import new_token, token_hash

        token = new_token()
        entry = ConfiguredToken(name=name, role=role.value, sha256=token_hash(token))
        out.print(token)
        err.print("Add to the configuration (only the hash is needed):", highlight=False)
        err.print(f"  UMREVIEW_API_TOKENS='{json.dumps([entry.model_dump()])}'", highlight=False, markup=False)
        err.print(
            f'  or in config.toml:  [[api_tokens]]  name = "{name}"  role = "{role.value}"  sha256 = "{entry.sha256}"',
            highlight=False,
            markup=False,
        )

    @token_app.command("list")
    def list_tokens() -> None:
        """List tokens (ids, names, roles; never the tokens)."""
        from agent.settings import get_settings
        from agent.store.reviews import Store
        from agent.web.auth import TokenStore

        store = TokenStore(Store(), get_settings().api_tokens)
        table = Table("id", "name", "role", "created", "revoked")
        for row in store.list():
            table.add_row(row.id, row.name, row.role, row.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if row.revoked else "")
        for declared in store.configured.values():
            table.add_row("(config)", declared.name, declared.role, "", "")
        out.print(table)

    @token_app.command("revoke")
    def revoke(token_id: Annotated[str, typer.Argument(help="Token id from `umreview token list`")]) -> None:
        """Revoke a token."""
        from agent.store.reviews import Store
        from agent.web.auth import TokenStore

        TokenStore(Store()).revoke(token_id, actor="cli")
        out.print(f"revoked {token_id}")
