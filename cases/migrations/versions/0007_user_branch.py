"""users.branch and the role branch (branch and market-area staff of the branch console).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('agent', 'supervisor', 'claims', 'inspector', 'admin')"
NEW_ROLES = "role IN ('agent', 'supervisor', 'claims', 'inspector', 'admin', 'branch')"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("branch", sa.String(length=100), nullable=False, server_default=""))
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", NEW_ROLES)


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'branch'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", OLD_ROLES)
        batch.drop_column("branch")
