"""claims_on_time: claim stage clocks, refused/withdrawn endings, the supervisor's 重大事故 decision

Issue #17. (Placeholder in the chain; its owner fills upgrade/downgrade.)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
