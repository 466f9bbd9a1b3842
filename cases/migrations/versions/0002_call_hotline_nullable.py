"""calls.hotline may be NULL: telephony's CallRecord.hotline became `str | None` (None: not a
hotline call).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.alter_column("hotline", existing_type=sa.String(length=16), nullable=True)
    op.execute("UPDATE calls SET hotline = NULL WHERE hotline = ''")


def downgrade() -> None:
    op.execute("UPDATE calls SET hotline = '' WHERE hotline IS NULL")
    with op.batch_alter_table("calls") as batch:
        batch.alter_column("hotline", existing_type=sa.String(length=16), nullable=False)
