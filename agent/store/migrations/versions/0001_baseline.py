"""Baseline: the audit store as it stood when migrations began (reviews, hash-chained events, chain head, API tokens).

Creates only the tables that are missing, so a database made before migrations existed (by
``create_all``, which made these same tables) is adopted as it is, rows and hash chain untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from agent.errors import StoreError

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _reviews() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("case_json", sa.Text(), nullable=False),
        sa.Column("determination_json", sa.Text(), nullable=False),
        sa.Column("kb_version", sa.String(100), nullable=False),
        sa.Column("backend", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("prompt_version", sa.String(100), nullable=True),
        sa.Column("criteria_set", sa.String(100), nullable=False),
        sa.Column("criteria_version", sa.String(100), nullable=False),
        sa.Column("urgency", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_index("ix_reviews_case_id", "reviews", ["case_id"])
    op.create_index("ix_reviews_due_at", "reviews", ["due_at"])
    op.create_index("ix_reviews_status", "reviews", ["status"])


def _review_events() -> None:
    op.create_table(
        "review_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("review_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("hash"),
    )
    op.create_index("ix_review_events_review_id", "review_events", ["review_id"])


def _audit_chain_head() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def _api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)


TABLES = {"reviews": _reviews, "review_events": _review_events, "audit_chain_head": _audit_chain_head, "api_tokens": _api_tokens}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    """Refused on purpose: below the baseline there is no audit log to keep."""
    raise StoreError(
        "the baseline revision cannot be downgraded: that would drop the audit log (reviews, events, tokens); "
        "restore a database backup taken before the upgrade instead"
    )
