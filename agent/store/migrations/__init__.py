"""Schema migrations of the audit store (Alembic), shipped inside the package.

    state(engine)      # SchemaState(current="0001", head="0001"): where the database is, where the code is
    ensure(engine)     # what ``Store()`` does at start-up: upgrade to the head, or refuse (a setting)
    upgrade(engine)    # what ``umreview db upgrade`` does: upgrade to the head, whatever the setting

Revisions are ``versions/NNNN_<slug>.py``, numbered in order, each naming the one before it in
``down_revision``; ``python -m agent.store.migrations revision "add X"`` writes the next one from
``script.py.mako``. The revision id is kept in the table ``umreview_schema_version``. An upgrade runs
in one transaction that holds the store's write lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock
on PostgreSQL), so web workers starting together upgrade once and never see half a schema. A database
made before migrations existed (the tables, no version table) is adopted by the baseline revision,
which creates only the tables that are missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import StoreError

HERE = Path(__file__).parent
VERSION_TABLE = "umreview_schema_version"
# pg_advisory_xact_lock key taken by every upgrade (any constant, unique to this application).
PG_UPGRADE_LOCK = 0x756D72657631  # "umrev1"


@dataclass(frozen=True)
class SchemaState:
    """The database's schema revision (None: no version table yet) and the newest this code knows."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        at = f"revision {self.current}" if self.current else "no schema revision (new, or made before migrations)"
        return f"{at}; newest {self.head}" + ("" if self.up_to_date else " (upgrade needed)")


@cache
def script(directory: Path = HERE) -> ScriptDirectory:
    """The revisions in ``directory/versions`` (the shipped ones by default; read once per process)."""
    return ScriptDirectory(str(directory))


def head(directory: Path = HERE) -> str:
    """The newest revision; exactly one head, or the revisions were merged badly."""
    heads = script(directory).get_heads()
    if len(heads) != 1:
        raise StoreError(f"the audit-store migrations have {len(heads)} heads {sorted(heads)}; renumber the newest revision")
    return heads[0]


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _where(engine: Engine) -> str:
    return make_url(engine.url).render_as_string(hide_password=True)


@contextmanager
def _errors(engine: Engine, doing: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise StoreError(
            f"cannot {doing} of the audit store {_where(engine)}: {exc.__class__.__name__}: {detail}"
            " (check UMREVIEW_DATABASE_URL)"
        ) from exc


def state(engine: Engine, directory: Path = HERE) -> SchemaState:
    """Read the database's revision (changes nothing)."""
    with _errors(engine, "read the schema revision"), engine.connect() as conn:
        return SchemaState(current=_current(conn), head=head(directory))


def ensure(engine: Engine, *, auto_upgrade: bool = True, directory: Path = HERE) -> SchemaState:
    """Bring the schema to the head at start-up, or with ``auto_upgrade`` off refuse to run on an old one."""
    now = state(engine, directory)
    if now.up_to_date:
        return now
    if not auto_upgrade:
        raise StoreError(
            f"the audit store {_where(engine)} has {now.describe()}; this umreview needs revision {now.head}: "
            "run `umreview db upgrade` (UMREVIEW_DATABASE_AUTO_UPGRADE=false keeps start-up from doing it)"
        )
    return upgrade(engine, directory=directory)[1]


def upgrade(engine: Engine, target: str = "head", *, directory: Path = HERE) -> tuple[SchemaState, SchemaState]:
    """Run every revision after the database's own up to ``target``, in one locked transaction; (before, after)."""
    scripts = script(directory)
    newest = head(directory)
    goal = newest if target == "head" else target
    writer = engine.execution_options(umreview_write=True)  # BEGIN IMMEDIATE on SQLite (tables.make_engine)
    with _errors(engine, "upgrade the schema"), writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_UPGRADE_LOCK})
        before = _current(conn)
        _check_known(scripts, before, engine, newest)

        def steps(rev: Any, _context: Any) -> Any:
            return scripts._upgrade_revs(goal, rev)

        config = Config()
        config.set_main_option("script_location", str(directory))
        with EnvironmentContext(config, scripts, fn=steps, destination_rev=goal) as env:
            env.configure(connection=conn, version_table=VERSION_TABLE)
            with env.begin_transaction():  # inside our transaction: a no-op, the commit is ours
                env.run_migrations()
        after = _current(conn)
    return SchemaState(before, newest), SchemaState(after, newest)


def _check_known(scripts: ScriptDirectory, revision: str | None, engine: Engine, newest: str) -> None:
    if revision is None:
        return
    try:
        scripts.get_revision(revision)
    except CommandError:
        raise StoreError(
            f"the audit store {_where(engine)} is at schema revision {revision!r}, which this umreview does not know "
            f"(newest: {newest}); it was upgraded by a newer release: install that release"
        ) from None


def next_revision_id(directory: Path = HERE) -> str:
    """The next free four-digit revision id."""
    numbers = [int(m.group(1)) for f in (directory / "versions").glob("*.py") if (m := re.match(r"(\d{4})_", f.name))]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(message: str, directory: Path = HERE) -> Path:
    """Write ``versions/NNNN_<slug>.py`` after the current head, to be filled in by hand."""
    from alembic import command

    config = Config()
    config.set_main_option("script_location", str(directory))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    written = command.revision(config, message=message, rev_id=next_revision_id(directory))
    paths = [Path(s.path) for s in (written if isinstance(written, list) else [written]) if s is not None]
    return paths[0]
