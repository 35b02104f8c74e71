"""${message}

Revision ${up_revision} (after ${down_revision | comma,n}), written ${create_date}.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite alters tables only through batch mode: with op.batch_alter_table("reviews") as batch: batch.add_column(...)
    ${upgrades if upgrades else "raise NotImplementedError(\"write this revision's upgrade\")"}


def downgrade() -> None:
    ${downgrades if downgrades else "raise NotImplementedError(\"this revision cannot be undone\")"}
