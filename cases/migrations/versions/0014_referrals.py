"""referrals: referrals to departments, the centre's verification, the follow-up call (回访)

Issue #17. Users get a department (existing branch users: "branch"); a complaint's referral goes to a
department and, for a branch or market area, one unit of it (existing referrals to a branch or market
area: the branch typed on the complaint, which the branch desk routed by until now); the department's
answer is verified by the centre (stage verified; an old "rectified" complaint now waits for that
verification); the follow-up calls to the customer are kept in complaint_follow_ups (stage followed_up).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEPARTMENTS = ("department IS NULL OR department IN ('branch', 'market_area', 'trunk_vehicle', 'warehouse', "
               "'settlement', 'payment', 'invoicing', 'key_account')")
OLD_STAGES = "stage IN ('recorded', 'analysed', 'referred', 'rectified', 'customer_told', 'closed')"
NEW_STAGES = ("stage IN ('recorded', 'analysed', 'referred', 'rectified', 'verified', 'customer_told', "
              "'followed_up', 'closed')")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("department", sa.String(length=20), nullable=True))
        batch.create_check_constraint("department", DEPARTMENTS)
    op.execute("UPDATE users SET department = 'branch' WHERE role = 'branch'")

    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("responsible_unit", sa.String(length=100), nullable=False, server_default=""))
        batch.add_column(sa.Column("referred_unit", sa.String(length=100), nullable=False, server_default=""))
        batch.add_column(sa.Column("rectified_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("verified_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("verification_note", sa.Text(), nullable=False, server_default=""))
        batch.drop_constraint(op.f("ck_complaints_stage"), type_="check")
        batch.create_check_constraint("stage", NEW_STAGES)
        batch.create_index("ix_complaints_referred", ["referred_to", "referred_unit"], unique=False)
    op.execute("UPDATE complaints SET referred_unit = branch WHERE referred_to IN ('branch', 'market_area')")
    op.execute("UPDATE complaints SET responsible_unit = branch "
               "WHERE responsible_department IN ('branch', 'market_area')")

    op.create_table(
        "complaint_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("called_by", sa.String(length=64), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('satisfied', 'unsatisfied', 'unreachable')",
                           name=op.f("ck_complaint_follow_ups_outcome")),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"],
                                name=op.f("fk_complaint_follow_ups_complaint_id_complaints"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_follow_ups")),
    )
    with op.batch_alter_table("complaint_follow_ups") as batch:
        batch.create_index(batch.f("ix_complaint_follow_ups_complaint_id"), ["complaint_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaint_follow_ups") as batch:
        batch.drop_index(batch.f("ix_complaint_follow_ups_complaint_id"))
    op.drop_table("complaint_follow_ups")
    op.execute("UPDATE complaints SET stage = 'rectified' WHERE stage = 'verified'")
    op.execute("UPDATE complaints SET stage = 'customer_told' WHERE stage = 'followed_up'")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_index("ix_complaints_referred")
        batch.drop_constraint(op.f("ck_complaints_stage"), type_="check")
        batch.create_check_constraint("stage", OLD_STAGES)
        batch.drop_column("verification_note")
        batch.drop_column("verified_at")
        batch.drop_column("verified_by")
        batch.drop_column("rectified_by")
        batch.drop_column("referred_unit")
        batch.drop_column("responsible_unit")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_department"), type_="check")
        batch.drop_column("department")
