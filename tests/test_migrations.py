"""Schema migrations of the audit store, on SQLite and on a real PostgreSQL server.

A database made before migrations existed (today's tables, built here from a frozen copy of their
definitions, filled with reviews, events, a sign-off and a token) is upgraded and its hash chain still
verifies; the head schema equals the models; start-up upgrades unless told to refuse; a revision
added later applies to a filled database.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pg_server import PgServer
from typer.testing import CliRunner

from agent.cases.determination import CodeDetermination, Determination, Provenance
from agent.cases.model import Case
from agent.cli.main import app
from agent.errors import StoreError
from agent.settings import Settings
from agent.store import migrations
from agent.store.reviews import Store
from agent.store.tables import Base, make_engine
from agent.web.auth import TokenStore

runner = CliRunner()
_db_numbers = itertools.count()


def legacy_metadata() -> sa.MetaData:
    """The tables as ``create_all`` made them before migrations (frozen here: the models may move on)."""
    meta = sa.MetaData()
    sa.Table(
        "reviews",
        meta,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False, index=True),
        *(sa.Column(n, sa.Text(), nullable=False) for n in ("case_json", "determination_json")),
        *(sa.Column(n, sa.String(100), nullable=False) for n in ("kb_version", "backend")),
        sa.Column("model", sa.String(200)),
        sa.Column("prompt_version", sa.String(100)),
        *(sa.Column(n, sa.String(100), nullable=False) for n in ("criteria_set", "criteria_version")),
        sa.Column("urgency", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
    )
    sa.Table(
        "review_events",
        meta,
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("review_id", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    sa.Table(
        "audit_chain_head",
        meta,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    sa.Table(
        "api_tokens",
        meta,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    return meta


def make_review(store: Store, case_id: str, decision: str) -> str:
    case = Case.model_validate(
        {
            "id": case_id,
            "request": {
                "patient": {"age": 61, "sex": "female"},
                "procedures": [{"code": "72148"}],
                "clinical_notes": "Low back pain for 9 weeks despite physical therapy.",
            },
        }
    )
    det = Determination(
        case_id=case_id,
        determinations=[CodeDetermination(code="72148", decision=decision)],
        provenance=Provenance(
            backend="offline",
            backend_kind="rules",
            prompt_version="p1",
            engine_version="e1",
            criteria_set="acr-default",
            criteria_version="2024",
            kb_version="kb-1",
        ),
    )
    return store.save_review(case, det, actor="nurse.kim").id


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legacy.sqlite3'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database(f"umreview_migrate_{next(_db_numbers)}")


def filled_legacy_database(url: str, tmp_path: Path) -> str:
    """Today's tables without a version table, holding three reviews, their events, a sign-off and a token.

    The rows are written by the real store into a scratch database and copied over, so the hash chain
    and review hashes are exactly what the store makes."""
    scratch = Store(f"sqlite:///{tmp_path / 'scratch.sqlite3'}", settings=Settings(data_dir=tmp_path))
    first = make_review(scratch, "case-a", "deny")
    make_review(scratch, "case-b", "approve")
    make_review(scratch, "case-c", "refer")
    scratch.record_event(first, "asked", actor="nurse.kim", payload={"question": "Which criteria are unmet?"})
    scratch.sign(first, reviewer="Dr. Ana Lee", credentials="MD", decision="uphold")
    TokenStore(scratch).create("Dr. Ana Lee", "physician")
    legacy = legacy_metadata()
    target = sa.create_engine(url)
    legacy.create_all(target)
    with scratch.engine.connect() as src, target.begin() as dst:
        for table in legacy.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(sa.select(*table.columns))]
            dst.execute(table.insert(), rows)
    target.dispose()
    scratch.close()
    return url


def cli(url: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("UMREVIEW_DATABASE_URL", url)
    from agent.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_the_revisions_form_one_numbered_line() -> None:
    files = sorted((migrations.HERE / "versions").glob("[0-9]*.py"))
    ids = [f.name[:4] for f in files]
    assert ids == [f"{n:04d}" for n in range(1, len(files) + 1)], "renumber: revision files are 0001_, 0002_, ..."
    scripts = migrations.script()
    assert [scripts.get_revision(i).down_revision for i in ids] == [None, *ids[:-1]]
    assert migrations.head() == ids[-1]


def test_the_head_schema_is_the_models(db_url: str) -> None:
    """A model changed without a migration fails here: add a revision (ARCHITECTURE.md says how)."""
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": migrations.VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_legacy_database_upgrades_and_its_chain_still_verifies(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = filled_legacy_database(db_url, tmp_path)
    code, output = cli(url, "db", "current", "--json", monkeypatch=monkeypatch)
    assert code == 0 and json.loads(output)["current"] is None
    code, output = cli(url, "db", "upgrade", monkeypatch=monkeypatch)
    assert code == 0 and f"upgraded from no revision to {migrations.head()}" in output
    code, output = cli(url, "audit", "verify", "--json", monkeypatch=monkeypatch)
    assert code == 0, output
    report = json.loads(output)
    assert (report["ok"], report["reviews"], report["events"]) == (True, 3, 6)  # 5 review events + token_created
    store = Store(url, settings=Settings(data_dir=tmp_path))
    assert [r.case_id for r in store.list_reviews(status="final")] == ["case-a"]
    assert [t.name for t in TokenStore(store).list()] == ["Dr. Ana Lee"]
    make_review(store, "case-d", "deny")  # the chain goes on from where it was
    assert store.verify() == [] and store.counts() == (4, 7)
    store.close()
    code, output = cli(url, "db", "upgrade", monkeypatch=monkeypatch)
    assert code == 0 and "already at revision" in output


def test_start_up_upgrades_a_legacy_database(db_url: str, tmp_path: Path) -> None:
    url = filled_legacy_database(db_url, tmp_path)
    store = Store(url, settings=Settings(data_dir=tmp_path))
    assert migrations.state(store.engine).up_to_date
    assert store.verify() == [] and store.counts() == (3, 6)
    store.close()


def test_start_up_refuses_an_old_schema_when_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = filled_legacy_database(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path)
    with pytest.raises(StoreError, match=r"run `umreview db upgrade`"):
        Store(url, settings=Settings(data_dir=tmp_path, database_auto_upgrade=False))
    monkeypatch.setenv("UMREVIEW_DATABASE_AUTO_UPGRADE", "false")
    code, output = cli(url, "history", monkeypatch=monkeypatch)
    assert code == 1 and "umreview db upgrade" in output
    assert cli(url, "db", "upgrade", monkeypatch=monkeypatch)[0] == 0
    code, output = cli(url, "history", "--json", monkeypatch=monkeypatch)
    assert code == 0 and len(json.loads(output)) == 3


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    Store(url, settings=Settings(data_dir=tmp_path)).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"revision '9999', which this umreview does not know"):
        Store(url, settings=Settings(data_dir=tmp_path))


def test_an_unreachable_database_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = cli("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "db", "current", monkeypatch=monkeypatch)
    assert code == 1 and "cannot read the schema revision" in output and "secret" not in output


def test_a_new_revision_applies_to_a_filled_database(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a later change does: write the next revision, fill it in, upgrade; the chain still verifies."""
    directory = tmp_path / "migrations"
    shutil.copytree(migrations.HERE, directory, ignore=shutil.ignore_patterns("__pycache__"))
    path = migrations.new_revision("add a review note", directory)
    assert path.name.startswith(f"{int(migrations.head()) + 1:04d}_add_a_review_note")
    body = path.read_text()
    body = re.sub(
        r"def upgrade\(\) -> None:\n(.*\n)*?    raise NotImplementedError\(.*\)\n",
        "def upgrade() -> None:\n"
        '    with op.batch_alter_table("reviews") as batch:\n'
        '        batch.add_column(sa.Column("note", sa.Text(), nullable=True))\n',
        body,
    )
    path.write_text(body)
    url = filled_legacy_database(db_url, tmp_path)
    with pytest.raises(StoreError, match="does not know"):  # this release, meeting the newer schema, refuses
        engine = make_engine(url)
        migrations.upgrade(engine, directory=directory)
        engine.dispose()
        Store(url, settings=Settings(data_dir=tmp_path))
    engine = make_engine(url)
    assert "note" in {c["name"] for c in sa.inspect(engine).get_columns("reviews")}
    engine.dispose()
    # The release that ships the revision starts on it and verifies the chain.
    monkeypatch.setattr(migrations, "ensure", functools.partial(migrations.ensure, directory=directory))
    store = Store(url, settings=Settings(data_dir=tmp_path))
    assert migrations.state(store.engine, directory).current == path.name[:4]
    assert store.verify() == [] and store.counts() == (3, 6)
    store.close()


def test_the_baseline_refuses_a_downgrade_that_would_drop_the_audit_log() -> None:
    import importlib

    from agent.errors import StoreError

    baseline = importlib.import_module("agent.store.migrations.versions.0001_baseline")
    with pytest.raises(StoreError, match="restore a database backup"):
        baseline.downgrade()
