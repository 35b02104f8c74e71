"""API tokens with roles, kept in the audit database; CSRF for browser forms.

Roles: ``reviewer`` (submit, read, ask, draft letters), ``physician`` (also sign), ``admin``
(manage tokens, and everything a reviewer may do). Only the physician role signs: an admin outranks
a reviewer but is not a physician. Tokens are stored as SHA-256 hashes; the plain token is shown
once. Creating and revoking a token are events in the audit hash chain, so ``umreview audit verify``
reports a role raised by editing the table. On first start with no admin token, one is created and
written to ``<data_dir>/admin-token`` (mode 0600 in a 0700 directory), and the operator is told where
to find it, as Jupyter does.
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

from agent.settings import ConfiguredToken
from agent.store.files import private_dir, private_file
from agent.store.reviews import Store
from agent.store.tables import TokenRow

__all__ = ["Principal", "Role", "TokenRow", "TokenStore", "csrf_ok", "new_csrf_token", "new_token", "token_hash"]


class Role(StrEnum):
    reviewer = "reviewer"
    physician = "physician"
    admin = "admin"


RANK = {Role.reviewer: 1, Role.physician: 2, Role.admin: 3}


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
        """Reviewer work needs any role, token management the admin role, signing exactly the physician role."""
        if role == Role.physician:
            return self.role == Role.physician
        return RANK[self.role] >= RANK[role]


class TokenStore:
    """Tokens in the database (created with ``umreview token create`` or ``POST /v1/tokens``) plus any
    declared in configuration (``UMREVIEW_API_TOKENS``: name, role and the token's SHA-256 only).
    Database errors become ``StoreError`` (503 on the web), never a bare 500."""

    def __init__(self, store: Store, configured: Sequence[ConfiguredToken] = ()) -> None:
        self.store = store
        self.engine = store.engine
        self.configured = {t.sha256: t for t in configured}

    def create(self, name: str, role: Role | str, *, actor: str = "cli") -> str:
        """A new token for ``name`` with ``role``; only its hash is stored."""
        return self.issue(name, role, actor=actor)[1]

    def issue(self, name: str, role: Role | str, *, actor: str = "cli") -> tuple[TokenRow, str]:
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
        self.store.add_token(row, actor=actor)
        return row, token

    def lookup(self, token: str) -> Principal | None:
        if not token:
            return None
        declared = self.configured.get(token_hash(token))
        if declared is not None:
            return Principal(declared.name, Role(declared.role))
        rows = self.store.tokens(token_hash=token_hash(token))
        if not rows or rows[0].revoked:
            return None
        return Principal(rows[0].name, Role(rows[0].role))

    def list(self) -> list[TokenRow]:
        return self.store.tokens()

    def revoke(self, token_id: str, *, actor: str = "cli") -> None:
        self.store.revoke_token(token_id, actor=actor)

    def ensure_admin(self, data_dir: Path) -> Path | None:
        """Create a first admin token if none exists; return the file it was written to. An existing
        token file is made private again (0600 in a 0700 directory)."""
        path = data_dir / "admin-token"
        private_dir(data_dir)
        private_file(path)
        if any(t.role == Role.admin.value for t in self.configured.values()):
            return None  # the operator declared an admin in configuration
        if any(r.role == Role.admin.value and not r.revoked for r in self.store.tokens()):
            return None
        token = self.create("first-admin", Role.admin, actor="first-start")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o600)  # O_CREAT's mode does not apply to a file that already existed
            fh.write(token + "\n")
        return path


def csrf_ok(cookie_value: str | None, submitted: str | None) -> bool:
    """Double-submit check: the form (or X-CSRF-Token header) must echo the CSRF cookie."""
    return bool(cookie_value and submitted and hmac.compare_digest(cookie_value, submitted))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
