"""incidents_sanctions: incidents (突发事件); rewards and penalties from complaints and claims; penalties collected

Issue #17. (Placeholder in the chain; its owner fills upgrade/downgrade.)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
