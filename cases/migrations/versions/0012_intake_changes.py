"""intake_changes: change requests for consignee name, phone and address; the callback after a decision

Issue #17. `shipments.consignee_address` (existing rows: empty); change requests may change it
(`change_requests.field` gains 'consignee_address', old/new values up to 200 characters for an address);
`change_callbacks`: the callback (回电) an agent owes the customer once their change request is approved
or refused.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FIELDS = "field IN ('consignee_name', 'consignee_phone')"
NEW_FIELDS = "field IN ('consignee_name', 'consignee_phone', 'consignee_address')"


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("consignee_address", sa.String(length=200), nullable=False, server_default=""))
    with op.batch_alter_table("change_requests") as batch:
        batch.drop_constraint(op.f("ck_change_requests_field"), type_="check")
        batch.create_check_constraint("field", NEW_FIELDS)
        batch.alter_column("old_value", existing_type=sa.String(length=100), type_=sa.String(length=200),
                           existing_nullable=False)
        batch.alter_column("new_value", existing_type=sa.String(length=100), type_=sa.String(length=200),
                           existing_nullable=False)
    op.create_table(
        "change_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("done_note", sa.Text(), nullable=False),
        sa.CheckConstraint("outcome IN ('applied', 'rejected')", name=op.f("ck_change_callbacks_outcome")),
        sa.ForeignKeyConstraint(["change_request_id"], ["change_requests.id"],
                                name=op.f("fk_change_callbacks_change_request_id_change_requests"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_change_callbacks_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_callbacks")),
        sa.UniqueConstraint("change_request_id", name=op.f("uq_change_callbacks_change_request_id")),
    )
    with op.batch_alter_table("change_callbacks") as batch:
        batch.create_index(batch.f("ix_change_callbacks_agent"), ["agent"], unique=False)
        batch.create_index(batch.f("ix_change_callbacks_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("change_callbacks")
    op.execute("DELETE FROM change_requests WHERE field = 'consignee_address'")
    # values longer than the old columns are cut to fit (a name or phone is never that long)
    op.execute("UPDATE change_requests SET old_value = SUBSTR(old_value, 1, 100),"
               " new_value = SUBSTR(new_value, 1, 100)")
    with op.batch_alter_table("change_requests") as batch:
        batch.alter_column("old_value", existing_type=sa.String(length=200), type_=sa.String(length=100),
                           existing_nullable=False)
        batch.alter_column("new_value", existing_type=sa.String(length=200), type_=sa.String(length=100),
                           existing_nullable=False)
        batch.drop_constraint(op.f("ck_change_requests_field"), type_="check")
        batch.create_check_constraint("field", OLD_FIELDS)
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("consignee_address")
