"""prompt_faults: prompts the PBX could not play

A prompt missing from Asterisk's sounds folder made the IVR hang up on every caller; it now carries on and
counts the fault here, so /status and the supervisors' wallboard show it until the prompts are fixed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prompt_faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.String(length=200), nullable=False),
        sa.Column("hotline", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_faults")),
        sa.UniqueConstraint("prompt", name=op.f("uq_prompt_faults_prompt")),
    )
    op.create_index("ix_prompt_faults_last_at", "prompt_faults", ["last_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_prompt_faults_last_at", table_name="prompt_faults")
    op.drop_table("prompt_faults")
