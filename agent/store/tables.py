"""Audit-store tables (SQLAlchemy 2.0 typed ORM) and engine set-up for SQLite and PostgreSQL.

``reviews``: one row per stored review, immutable except ``status``. ``review_events``: the append-only,
hash-chained log, ``seq`` 1, 2, 3... with no gaps. ``audit_chain_head``: one row holding the last
``seq`` and hash; every append locks it, which serialises writers across processes.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Engine, Integer, String, Text, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from agent.store import audit
from agent.store.files import private_dir, private_file


def utc(moment: datetime) -> datetime:
    """Aware UTC, microseconds; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (same on SQLite and PostgreSQL), returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class ReviewRow(Base):
    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    case_json: Mapped[str] = mapped_column(Text)
    determination_json: Mapped[str] = mapped_column(Text)
    kb_version: Mapped[str] = mapped_column(String(100))
    backend: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(100))
    criteria_set: Mapped[str] = mapped_column(String(100))
    criteria_version: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)

    IMMUTABLE = (
        "id",
        "case_id",
        "case_json",
        "determination_json",
        "kb_version",
        "backend",
        "model",
        "prompt_version",
        "criteria_set",
        "criteria_version",
        "urgency",
        "received_at",
        "due_at",
        "created_at",
        "reviewed_by",
    )

    def content_hash(self) -> str:
        """Hash of every column except ``status`` (which sign-off changes and verify checks separately)."""
        values = {name: getattr(self, name) for name in self.IMMUTABLE}
        return audit.review_hash({k: audit.iso(v) if isinstance(v, datetime) else v for k, v in values.items()})


class EventRow(Base):
    __tablename__ = "review_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    review_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def chain_event(self) -> audit.ChainEvent:
        return audit.ChainEvent(
            self.seq,
            self.review_id,
            self.kind,
            self.actor,
            self.at,
            audit.json_loads(self.payload_json),
            self.prev_hash,
            self.hash,
        )


class TokenRow(Base):
    """An API token: only its SHA-256 is stored. Every create and revoke is also a hash-chained event
    (``token_created`` / ``token_revoked``), so ``verify`` catches a role or name edited in the table."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    def audited(self) -> dict[str, Any]:
        """What the audit log records of this token, and ``verify`` compares."""
        return {
            "token_id": self.id,
            "name": self.name,
            "role": self.role,
            "token_hash": self.token_hash,
            "revoked": bool(self.revoked),
        }


class ChainHead(Base):
    """One row: the last event's sequence number and hash. Locked by every append."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
    # Readers do not wait for a writer (a no-op in memory). Switching a new file to WAL takes an exclusive
    # lock that SQLite's busy timeout does not wait for: workers opening a new database together retry.
    for attempt in range(_WAL_ATTEMPTS):
        try:
            mode = dbapi_conn.execute("PRAGMA journal_mode").fetchone()
            if mode is None or str(mode[0]).lower() not in ("wal", "memory"):
                dbapi_conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(min(0.02 * (attempt + 1), 0.25))


_WAL_ATTEMPTS = 40


def _sqlite_begin(conn: Any) -> None:
    # Writers take the database write lock up front, so two processes cannot both read the same chain tail.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("umreview_write") else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a 30 s busy timeout and BEGIN IMMEDIATE for writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path = Path(parsed.database or "").expanduser()
        if not path.parent.exists():
            private_dir(path.parent)
        for part in ("", "-wal", "-shm", "-journal"):  # the note text lives here: owner only
            private_file(path.with_name(path.name + part), create=not part)
        engine = create_engine(parsed, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine
