"""Migration 0017 on SQLite and PostgreSQL: the wrap-up codes recorded before it only as note lines of
case updates (audited as case.update) become rows of `wrap_ups`, by the note's user and time, on the
case's call that user took (else the case's latest call); notes without a code make no row; a
downgrade drops the table and keeps the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, select

from cases.call_records import record_call
from cases.case_records import create_case, link_call, update_case
from cases.db import Database
from cases.models.audit import AuditEntry
from cases.models.wrap_ups import WrapUp
from cases.views import CaseInput, CaseUpdate
from telephony.records import CallRecord


def test_0017_backfills_wrap_ups_from_the_audit_notes(empty_db: Database) -> None:
    empty_db.migrate()
    now = datetime.now(UTC)
    with empty_db.session() as s:
        for n, (agent, hotline) in enumerate((("a1", "service"), ("a2", "claims"))):
            record_call(s, CallRecord(linkedid=f"m{n}", caller="13900139000", hotline=hotline, queue="q",
                                      outcome="answered", agent=agent, wait_s=3, talk_s=60,
                                      started_at=(now - timedelta(minutes=30 - n)).timestamp()))
        c1 = create_case(s, CaseInput(kind="inquiry", subject="查询", linkedid="m0"), "a1").id
        link_call(s, c1, "m1", "a2")
        c2 = create_case(s, CaseInput(kind="inquiry", subject="无来电"), "a3").id
        update_case(s, c1, CaseUpdate(note="话后代码 wrap-up: resolved (已解决)\n客户满意"), "a1")
        update_case(s, c1, CaseUpdate(note="话后代码 wrap-up: follow_up (需跟进)"), "a2")
        update_case(s, c1, CaseUpdate(note="普通备注"), "a1")
        update_case(s, c2, CaseUpdate(note="话后代码 wrap-up: wrong_number (打错电话)"), "a3")
    empty_db.downgrade("0016")
    assert "wrap_ups" not in inspect(empty_db.engine).get_table_names()
    empty_db.migrate()
    with empty_db.reading() as s:
        rows = [(w.case_id, w.agent, w.code, w.label, w.hotline) for w in s.scalars(select(WrapUp).order_by(WrapUp.id))]
        notes = {a.id: a.at for a in s.scalars(select(AuditEntry).where(AuditEntry.what == "case.update"))}
        ats = [w.at for w in s.scalars(select(WrapUp).order_by(WrapUp.id))]
    assert rows == [(c1, "a1", "resolved", "已解决", "service"), (c1, "a2", "follow_up", "需跟进", "claims"),
                    (c2, "a3", "wrong_number", "打错电话", None)]
    assert all(at.tzinfo is not None and at in notes.values() for at in ats)  # the audit entry's time
