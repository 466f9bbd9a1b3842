"""calls.ivr_path (the IVR's path of every call) and probe_runs (each `hotline probe` result).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("ivr_path", sa.Text(), nullable=True))
    op.create_table(
        "probe_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hotline", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("pbx", sa.String(length=200), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("register_s", sa.Float(), nullable=True),
        sa.Column("setup_s", sa.Float(), nullable=True),
        sa.Column("first_audio_s", sa.Float(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("queue_s", sa.Float(), nullable=True),
        sa.Column("detail", JSON_TYPE, nullable=False),
        sa.CheckConstraint(
            "stage IN ('register', 'invite', 'prompt', 'key', 'queue', 'done', 'error')",
            name=op.f("ck_probe_runs_stage"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_runs")),
    )
    op.create_index("ix_probe_runs_hotline_started_at", "probe_runs", ["hotline", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_probe_runs_hotline_started_at", table_name="probe_runs")
    op.drop_table("probe_runs")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("ivr_path")
