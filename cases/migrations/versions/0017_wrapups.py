"""wrap_ups: the wrap-up codes (话后代码) agents chose, one row each

Issue #17 (客服主管: 考核所属人员): until now a wrap-up code was only a note line of the case update
("话后代码 wrap-up: <code> (<label>)", audited as case.update). Those audit notes are backfilled: one row
per note line, by the audit entry's user and time, on the case's call that user took (else the case's
latest call) and that call's hotline. Downgrading drops the table (the notes stay in the audit log).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:10:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRAP_UP_NOTE = re.compile(r"^话后代码 wrap-up: (?P<code>[^\s()]+) \((?P<label>[^)\n]*)\)", re.MULTILINE)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")

audit_log = sa.table("audit_log", sa.column("who", sa.String), sa.column("what", sa.String),
                     sa.column("entity", sa.String), sa.column("entity_id", sa.String),
                     sa.column("at", sa.DateTime(timezone=True)), sa.column("detail", JSON),
                     sa.column("id", sa.Integer))
calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("agent", sa.String), sa.column("agents", JSON),
                 sa.column("hotline", sa.String), sa.column("started_at", sa.DateTime(timezone=True)))
case_calls = sa.table("case_calls", sa.column("case_id", sa.Integer), sa.column("call_id", sa.Integer))
cases = sa.table("cases", sa.column("id", sa.Integer))


def _utc(at: Any) -> Any:
    if isinstance(at, str):  # SQLite without a type adapter on this light table
        at = datetime.fromisoformat(at)
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at


def _backfill(wrap_ups: sa.Table) -> None:
    conn = op.get_bind()
    known = {int(i) for (i,) in conn.execute(sa.select(cases.c.id))}
    rows: list[dict[str, Any]] = []
    for who, entity_id, at, detail in conn.execute(
        sa.select(audit_log.c.who, audit_log.c.entity_id, audit_log.c.at, audit_log.c.detail)
        .where(audit_log.c.what == "case.update", audit_log.c.entity == "case")
        .order_by(audit_log.c.at, audit_log.c.id)
    ):
        note = detail.get("note") if isinstance(detail, dict) else None
        if not isinstance(note, str) or not entity_id.isdigit() or int(entity_id) not in known:
            continue
        case_id = int(entity_id)
        linked = conn.execute(
            sa.select(calls.c.id, calls.c.agent, calls.c.agents, calls.c.hotline)
            .join(case_calls, case_calls.c.call_id == calls.c.id)
            .where(case_calls.c.case_id == case_id)
            .order_by(calls.c.started_at.desc(), calls.c.id.desc())
        ).all()
        mine = [r for r in linked if r.agent == who or who in (r.agents or [])]
        pick = (mine or linked)[0] if (mine or linked) else None
        for m in WRAP_UP_NOTE.finditer(note):
            rows.append({"case_id": case_id, "call_id": pick.id if pick else None, "agent": who[:64],
                         "code": m["code"][:40], "label": m["label"][:100],
                         "hotline": pick.hotline if pick else None, "at": _utc(at)})
    if rows:
        op.bulk_insert(wrap_ups, rows)


def upgrade() -> None:
    wrap_ups = op.create_table(
        "wrap_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("hotline", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_wrap_ups_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_wrap_ups_call_id_calls"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wrap_ups")),
    )
    with op.batch_alter_table("wrap_ups") as batch:
        batch.create_index(batch.f("ix_wrap_ups_case_id"), ["case_id"], unique=False)
        batch.create_index(batch.f("ix_wrap_ups_at"), ["at"], unique=False)
    assert wrap_ups is not None
    _backfill(wrap_ups)


def downgrade() -> None:
    with op.batch_alter_table("wrap_ups") as batch:
        batch.drop_index(batch.f("ix_wrap_ups_at"))
        batch.drop_index(batch.f("ix_wrap_ups_case_id"))
    op.drop_table("wrap_ups")
