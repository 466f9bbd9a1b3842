"""intake_changes: change requests for consignee name, phone and address; the callback after a decision

Issue #17. (Placeholder in the chain; its owner fills upgrade/downgrade.)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
