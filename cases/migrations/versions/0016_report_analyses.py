"""report_analyses: the supervisor's written analysis and suggestions per report and period

Issue #17: 分析…提出合理化建议 — one text per report (kind) and period, last write wins (audited), carried
into the report's XLSX and PDF. A new table: existing rows elsewhere are untouched.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report", sa.String(length=40), nullable=False),
        sa.Column("from_day", sa.Date(), nullable=False),
        sa.Column("until_day", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=64), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_analyses")),
        sa.UniqueConstraint("report", "from_day", "until_day", name=op.f("uq_report_analyses_report")),
    )


def downgrade() -> None:
    op.drop_table("report_analyses")
