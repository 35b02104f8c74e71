"""API tokens with roles, kept in the audit database; CSRF for browser forms.

Roles: ``reviewer`` (submit, read, ask, draft letters), ``physician`` (also sign), ``admin``
(also manage tokens). Tokens are stored as SHA-256 hashes; the plain token is shown once.
On first start with no admin token, one is created and written to ``<data_dir>/admin-token``
(mode 0600), and the operator is told where to find it, as Jupyter does.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from agent.errors import NotFoundError
from agent.settings import ConfiguredToken


class Role(StrEnum):
    reviewer = "reviewer"
    physician = "physician"
    admin = "admin"


RANK = {Role.reviewer: 1, Role.physician: 2, Role.admin: 3}


class _Base(DeclarativeBase):
    pass


class TokenRow(_Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


def token_hash(token: str) -> str:
    """The SHA-256 a token is stored (and declared in configuration) as."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "umr_" + secrets.token_urlsafe(32)


class Principal:
    """Who is calling: the token's name and role."""

    def __init__(self, name: str, role: Role) -> None:
        self.name = name
        self.role = role

    def can(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


class TokenStore:
    """Tokens in the database (created with ``umreview token create`` or ``POST /v1/tokens``) plus any
    declared in configuration (``UMREVIEW_API_TOKENS``: name, role and the token's SHA-256 only)."""

    def __init__(self, engine: Engine, configured: Sequence[ConfiguredToken] = ()) -> None:
        self.engine = engine
        self.configured = {t.sha256: t for t in configured}
        _Base.metadata.create_all(engine)

    def create(self, name: str, role: Role | str) -> str:
        """A new token for ``name`` with ``role``; only its hash is stored."""
        return self.issue(name, role)[1]

    def issue(self, name: str, role: Role | str) -> tuple[TokenRow, str]:
        """Like ``create``, also returning the stored row (id, name, role, created)."""
        token = new_token()
        row = TokenRow(
            id=secrets.token_hex(8),
            name=name,
            role=Role(role).value,
            token_hash=token_hash(token),
            created_at=datetime.now(UTC),
            revoked=False,
        )
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            s.add(row)
        return row, token

    def lookup(self, token: str) -> Principal | None:
        if not token:
            return None
        declared = self.configured.get(token_hash(token))
        if declared is not None:
            return Principal(declared.name, Role(declared.role))
        with Session(self.engine) as s:
            row = s.scalars(select(TokenRow).where(TokenRow.token_hash == token_hash(token))).first()
        if row is None or row.revoked:
            return None
        return Principal(row.name, Role(row.role))

    def list(self) -> list[TokenRow]:
        with Session(self.engine) as s:
            return list(s.scalars(select(TokenRow).order_by(TokenRow.created_at)))

    def revoke(self, token_id: str) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.get(TokenRow, token_id)
            if row is None:
                raise NotFoundError(f"no token with id {token_id!r}; list them with `umreview token list`")
            row.revoked = True

    def ensure_admin(self, data_dir: Path) -> Path | None:
        """Create a first admin token if none exists; return the file it was written to."""
        if any(t.role == Role.admin.value for t in self.configured.values()):
            return None  # the operator declared an admin in configuration
        with Session(self.engine) as s:
            exists = s.scalars(select(TokenRow).where(TokenRow.role == Role.admin.value, TokenRow.revoked.is_(False))).first()
        if exists is not None:
            return None
        token = self.create("first-admin", Role.admin)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / "admin-token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        return path


def csrf_ok(cookie_value: str | None, submitted: str | None) -> bool:
    """Double-submit check: the form (or X-CSRF-Token header) must echo the CSRF cookie."""
    return bool(cookie_value and submitted and hmac.compare_digest(cookie_value, submitted))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
