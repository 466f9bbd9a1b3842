"""incidents_sanctions: incidents (突发事件); rewards and penalties from complaints and claims; penalties collected

Issue #17. The inspection supervisor's incidents (监察主管9: 能够及时处理各种突发事件) get their own table;
a reward or penalty (奖罚) may come from a complaint, a claim or an incident as well as an inspection
(at most one source), and a penalty's collection (已收缴) is recorded. Existing sanctions keep their
inspection (or none) and are not marked collected.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('traffic_accident', 'fire', 'theft_robbery', 'mass_incident', 'system_failure', 'other')"
STAGES = "stage IN ('reported', 'handling', 'closed')"
SOURCES = ("inspection_id", "complaint_id", "claim_id", "incident_id")
ONE_SOURCE = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in SOURCES) + " <= 1"
COLLECTED = ("(collected_at IS NULL AND collected_by IS NULL) OR "
             "(collected_at IS NOT NULL AND collected_by IS NOT NULL AND kind = 'penalty')")
NEW_SOURCES = (("complaint_id", "complaints"), ("claim_id", "claims"), ("incident_id", "incidents"))


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch", sa.String(length=100), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("people", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handling_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_incidents_kind")),
        sa.CheckConstraint(STAGES, name=op.f("ck_incidents_stage")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_incidents_case_id_cases"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_incidents_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index("ix_incidents_stage_occurred_at", ["stage", "occurred_at"], unique=False)

    op.create_table(
        "incident_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("taken_by", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name=op.f("fk_incident_measures_incident_id_incidents"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_measures")),
    )
    with op.batch_alter_table("incident_measures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_measures_incident_id"), ["incident_id"], unique=False)

    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        for column, _table in NEW_SOURCES:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("collected_by", sa.String(length=64), nullable=True))
        for column, table in NEW_SOURCES:
            batch_op.create_foreign_key(op.f(f"fk_sanctions_{column}_{table}"), table, [column], ["id"],
                                        ondelete="SET NULL")
            batch_op.create_index(batch_op.f(f"ix_sanctions_{column}"), [column], unique=False)
        batch_op.create_check_constraint(op.f("ck_sanctions_one_source"), ONE_SOURCE)
        batch_op.create_check_constraint(op.f("ck_sanctions_collected"), COLLECTED)


def downgrade() -> None:
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sanctions_collected"), type_="check")
        batch_op.drop_constraint(op.f("ck_sanctions_one_source"), type_="check")
        for column, table in reversed(NEW_SOURCES):
            batch_op.drop_index(batch_op.f(f"ix_sanctions_{column}"))
            batch_op.drop_constraint(op.f(f"fk_sanctions_{column}_{table}"), type_="foreignkey")
        batch_op.drop_column("collected_by")
        batch_op.drop_column("collected_at")
        for column, _table in reversed(NEW_SOURCES):
            batch_op.drop_column(column)
    op.drop_table("incident_measures")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_stage_occurred_at")
        batch_op.drop_index("ix_incidents_occurred_at")
        batch_op.drop_index(batch_op.f("ix_incidents_case_id"))
    op.drop_table("incidents")
