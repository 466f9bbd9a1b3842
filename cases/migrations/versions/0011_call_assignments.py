"""call_assignments: calls a supervisor gave an agent to work on

Issue #16 (finding 2): an agent may link to a case, and see the recording and transcripts of, only the
calls it was on (the call's agent, agents, rang) and the calls assigned to it here.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_assignments_call_id_calls"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_assignments")),
        sa.UniqueConstraint("call_id", "agent", name=op.f("uq_call_assignments_call_id")),
    )


def downgrade() -> None:
    op.drop_table("call_assignments")
