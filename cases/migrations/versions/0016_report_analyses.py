"""report_analyses: the supervisor's written analysis and suggestions per report and period

Issue #17. (Placeholder in the chain; its owner fills upgrade/downgrade.)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
