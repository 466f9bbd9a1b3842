"""Initial schema: customers, shipments, calls, cases, transcripts, users, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-30 09:17:00.840958
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON on SQLite, JSONB on PostgreSQL; timestamps are timestamptz (UTC, made aware on load by the models).
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("what", sa.String(length=50), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSON_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"], unique=False)
    op.create_table(
        "case_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_case_counters")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('shipper', 'consignee', 'key_account', 'branch', 'driver', 'market', 'other')",
            name=op.f("ck_customers_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('agent', 'supervisor', 'claims', 'inspector', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("caller_norm", sa.String(length=32), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("dialed", sa.String(length=64), nullable=False),
        sa.Column("hotline", sa.String(length=16), nullable=False),
        sa.Column("digits", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("agents", JSON_TYPE, nullable=False),
        sa.Column("rang", JSON_TYPE, nullable=False),
        sa.Column("hangup_by", sa.String(length=64), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("recording", sa.String(length=500), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waybill", sa.String(length=32), nullable=True),
        sa.Column("reconciled", sa.Boolean(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_calls_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_calls_linkedid")),
    )
    op.create_index(op.f("ix_calls_caller_norm"), "calls", ["caller_norm"], unique=False)
    op.create_index(op.f("ix_calls_customer_id"), "calls", ["customer_id"], unique=False)
    op.create_index(op.f("ix_calls_started_at"), "calls", ["started_at"], unique=False)
    op.create_table(
        "customer_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_phones_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phones")),
        sa.UniqueConstraint("phone", name=op.f("uq_customer_phones_phone")),
    )
    op.create_index(op.f("ix_customer_phones_customer_id"), "customer_phones", ["customer_id"], unique=False)
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("waybill", sa.String(length=14), nullable=False),
        sa.Column("shipper_customer_id", sa.Integer(), nullable=True),
        sa.Column("shipper_phone", sa.String(length=32), nullable=False),
        sa.Column("consignee_name", sa.String(length=100), nullable=False),
        sa.Column("consignee_phone", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.Column("destination", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipper_customer_id"],
            ["customers.id"],
            name=op.f("fk_shipments_shipper_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("waybill", name=op.f("uq_shipments_waybill")),
    )
    op.create_index(op.f("ix_shipments_consignee_phone"), "shipments", ["consignee_phone"], unique=False)
    op.create_index(op.f("ix_shipments_shipper_customer_id"), "shipments", ["shipper_customer_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_to", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=20), nullable=True),
        sa.Column("follow_up_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "department IS NULL OR department IN ('branch', 'market_area', 'trunk_vehicle', 'warehouse', "
            "'settlement', 'payment', 'invoicing', 'key_account')",
            name=op.f("ck_cases_department"),
        ),
        sa.CheckConstraint(
            "kind IN ('inquiry', 'tracking', 'complaint', 'change_request', 'claim')",
            name=op.f("ck_cases_kind"),
        ),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_cases_priority")),
        sa.CheckConstraint("status <> 'referred' OR department IS NOT NULL", name=op.f("ck_cases_referred_department")),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'referred', 'resolved', 'closed')",
            name=op.f("ck_cases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_cases_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_cases_shipment_id_shipments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    op.create_index(op.f("ix_cases_customer_id"), "cases", ["customer_id"], unique=False)
    op.create_index(op.f("ix_cases_shipment_id"), "cases", ["shipment_id"], unique=False)
    op.create_index("ix_cases_status_created_at", "cases", ["status", "created_at"], unique=False)
    op.create_table(
        "shipment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_events_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_events")),
    )
    op.create_index(op.f("ix_shipment_events_shipment_id"), "shipment_events", ["shipment_id"], unique=False)
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("engine", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("speaker", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", JSON_TYPE, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("speaker IN ('caller', 'agent', 'mixed')", name=op.f("ck_transcripts_speaker")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_transcripts_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
    )
    op.create_index(op.f("ix_transcripts_call_id"), "transcripts", ["call_id"], unique=False)
    op.create_table(
        "case_calls",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_case_calls_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_calls_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "call_id", name=op.f("pk_case_calls")),
    )
    op.create_index(op.f("ix_case_calls_call_id"), "case_calls", ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_calls_call_id"), table_name="case_calls")
    op.drop_table("case_calls")
    op.drop_index(op.f("ix_transcripts_call_id"), table_name="transcripts")
    op.drop_table("transcripts")
    op.drop_index(op.f("ix_shipment_events_shipment_id"), table_name="shipment_events")
    op.drop_table("shipment_events")
    op.drop_index("ix_cases_status_created_at", table_name="cases")
    op.drop_index(op.f("ix_cases_shipment_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_customer_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_shipments_shipper_customer_id"), table_name="shipments")
    op.drop_index(op.f("ix_shipments_consignee_phone"), table_name="shipments")
    op.drop_table("shipments")
    op.drop_index(op.f("ix_customer_phones_customer_id"), table_name="customer_phones")
    op.drop_table("customer_phones")
    op.drop_index(op.f("ix_calls_started_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_customer_id"), table_name="calls")
    op.drop_index(op.f("ix_calls_caller_norm"), table_name="calls")
    op.drop_table("calls")
    op.drop_table("users")
    op.drop_table("customers")
    op.drop_table("case_counters")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
