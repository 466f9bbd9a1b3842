"""Claims on time (issue #17), on SQLite and PostgreSQL: the stage clock and the per-stage deadlines, the
overdue list and its reminders, the refused and withdrawn endings, the insurer's track beside the customer's,
the supervisor's 重大事故 decision, and what each liable party owes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from workflow_support import PNG, new_claim

from cases import claim_decisions, claims
from cases.audit import audit_for
from cases.case_records import get_case
from cases.claim_clock import ClaimDeadlines, InvalidClaimDeadlines, clock_of, overdue_claims, parse_claim_deadlines
from cases.claim_owed import owed_by, total_owed
from cases.claims import EvidenceStore, LiabilityInput
from cases.db import Database
from cases.errors import IllegalTransition, InvalidInput, InvalidWorkflowInput
from cases.models.workflows import Claim
from cases.reminders import CLAIM_OVERDUE, acknowledge_reminder, due_reminders
from cases.views import CaseInput

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _open(s: object, at: datetime = T0, claimed: str = "1200.00", branch: str = "郑州分公司") -> int:
    return claims.open_claim(s, CaseInput(kind="claim", subject="货物破损"), channel="hotline",  # type: ignore[arg-type]
                             accident_cause="handling_damage", claimed=claimed, branch=branch, by="agent1001",
                             at=at).id


def _to_liability(s: object, cid: int, store: EvidenceStore, at: datetime,
                  parties: list[LiabilityInput] | None = None) -> None:
    claims.start_investigation(s, cid, by="claims1", at=at)  # type: ignore[arg-type]
    claims.add_evidence(s, cid, filename="p.png", data=PNG, content_type="image/png", store=store,  # type: ignore[arg-type]
                        by="claims1", at=at + timedelta(hours=1))
    claims.fix_liability(s, cid, by="claims1", at=at + timedelta(days=1),  # type: ignore[arg-type]
                         parties=parties or [LiabilityInput("branch", "60", "郑州分公司"),
                                             LiabilityInput("loader", "40", "王师傅")])


def test_the_stage_clock_restarts_only_when_the_stage_changes(db: Database, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path)
    with db.session() as s:
        cid = _open(s)
        assert claims.get_claim(s, cid).stage_since == T0
        v = claims.start_investigation(s, cid, by="claims1", at=T0 + timedelta(hours=3))
        assert v.stage_since == T0 + timedelta(hours=3) and v.assigned_to == "claims1"
        v = claims.add_evidence(s, cid, filename="p.png", data=PNG, content_type="image/png", store=store,
                                by="claims1", at=T0 + timedelta(days=2))
        assert v.stage_since == T0 + timedelta(hours=3)  # evidence keeps the stage and its clock
        v = claims.fix_liability(s, cid, parties=[LiabilityInput("branch", "100", "郑州分公司")], by="claims1",
                                 at=T0 + timedelta(days=3))
        claims.file_insurer_claim(s, cid, insurer="平安财险", policy_no="P", insurer_claim_no="C", by="claims1",
                                  at=T0 + timedelta(days=4))
        v = claims.get_claim(s, cid)
    assert v.stage == "liability_fixed" and v.stage_since == T0 + timedelta(days=3)


def test_ageing_due_dates_and_the_overdue_list(db: Database, tmp_path: Path) -> None:
    deadlines = ClaimDeadlines(reported=1, investigating=7, total=30)
    now = T0 + timedelta(days=5)
    with db.session() as s:
        fresh = _open(s, at=now - timedelta(hours=2))  # reported 2 h ago: due in 22 h
        stale = _open(s, at=T0)  # reported 5 days ago, never started: 4 days overdue
        taken = _open(s, at=T0)
        claims.start_investigation(s, taken, by="claims2", at=T0 + timedelta(hours=1))  # 7 days: not overdue yet
        old = _open(s, at=now - timedelta(days=40))
        claims.start_investigation(s, old, by="claims2", at=now - timedelta(days=1))  # total 30 days passed
        ended = _open(s, at=T0)
        claim_decisions.withdraw(s, ended, reason="客户已与分公司协商解决", by="claims1", at=T0 + timedelta(days=1))
        rows = {c.id: c for c in s.scalars(select(Claim)).all()}
        ck = clock_of(rows[stale], deadlines, now)
        assert (ck.days_open, ck.days_in_stage, ck.overdue, ck.days_overdue) == (Decimal("5.0"), Decimal("5.0"), True,
                                                                                 Decimal("4.0"))
        assert ck.due_at == T0 + timedelta(days=1) and ck.due_reason == "stage"
        ck = clock_of(rows[fresh], deadlines, now)
        assert (ck.overdue, ck.due_at) == (False, now + timedelta(hours=22))
        ck = clock_of(rows[old], deadlines, now)
        assert (ck.overdue, ck.due_reason, ck.days_overdue) == (True, "total", Decimal("10.0"))
        ck = clock_of(rows[ended], deadlines, now)  # an ended claim is no longer due; its age stops at its end
        assert (ck.due_at, ck.overdue, ck.days_open) == (None, False, Decimal("1.0"))
        late = overdue_claims(s, deadlines, now=now)
        assert [r.claim_id for r in late] == [old, stale]  # the earliest deadline first
        assert late[1].assigned_to is None and late[0].assigned_to == "claims2"
        assert [r.claim_id for r in overdue_claims(s, deadlines, now=now, assigned_to="claims1")] == [stale]
        assert overdue_claims(s, ClaimDeadlines(reported=0, investigating=0, total=0), now=now) == ()
        assert {r.claim_id for r in overdue_claims(s, ClaimDeadlines(), now=now + timedelta(days=3))} == {
            fresh, stale, old, taken}


def test_overdue_claims_remind_their_claims_staff_and_supervisors(db: Database) -> None:
    deadlines = ClaimDeadlines(reported=1)
    now = T0 + timedelta(days=2)
    with db.session() as s:
        cid = _open(s, at=T0)
        due = [r for r in due_reminders(s, now=now, claim_deadlines=deadlines) if r.kind == CLAIM_OVERDUE]
        assert [(r.case_id, r.due, r.assignee, r.overdue) for r in due] == [
            (claims.get_claim(s, cid).case_id, T0 + timedelta(days=1), "agent1001", True)]
        acknowledge_reminder(s, due[0].key, by="supervisor", now=now, claim_deadlines=deadlines)
        assert not [r for r in due_reminders(s, now=now, claim_deadlines=deadlines) if r.kind == CLAIM_OVERDUE]
        # the claim moves on: its new stage's deadline passes later and reminds again, to the claims staff
        claims.start_investigation(s, cid, by="claims1", at=now)
        later = now + timedelta(days=8)
        again = [r for r in due_reminders(s, now=later, claim_deadlines=deadlines) if r.kind == CLAIM_OVERDUE]
    assert [(r.due, r.assignee) for r in again] == [(now + timedelta(days=7), "claims1")]
    assert again[0].key != due[0].key


def test_refused_and_withdrawn_end_the_claim_and_close_the_case(db: Database, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path)
    with db.session() as s:
        cid = _open(s)
        _to_liability(s, cid, store, T0)
        with pytest.raises(InvalidInput, match="reason"):
            claim_decisions.refuse(s, cid, reason="  ", by="claims1")
        assert claims.get_claim(s, cid).stage == "liability_fixed"
        v = claim_decisions.refuse(s, cid, reason="货物包装不符合要求，非承运责任", by="claims1",
                                   at=T0 + timedelta(days=2))
        assert (v.stage, v.end_reason, v.closed_at, v.stage_since) == (
            "refused", "货物包装不符合要求，非承运责任", T0 + timedelta(days=2), T0 + timedelta(days=2))
        assert get_case(s, v.case_id).status == "closed" and v.allowed_actions == ()
        with pytest.raises(IllegalTransition):
            claims.offer(s, cid, offered_by="company", amount="1", by="claims1")
        w = claim_decisions.withdraw(s, new_claim(s), reason="客户撤回", by="claims1")
        assert (w.stage, get_case(s, w.case_id).status) == ("withdrawn", "closed")
        assert [a.what for a in audit_for(s, "claim", w.id)][-1] == "claim.withdraw"
        paid = _open(s)
        _to_liability(s, paid, store, T0)
        claims.offer(s, paid, offered_by="company", amount="1000", by="claims1")
        claims.agree_amount(s, paid, amount="1000", by="claims1")
        claims.notify_parties(s, paid, by="claims1")
        claims.pay(s, paid, amount="1000", by="claims1")
        with pytest.raises(IllegalTransition, match="cannot refuse when paid"):
            claim_decisions.refuse(s, paid, reason="太晚", by="claims1")


def test_the_insurer_is_recorded_whenever_it_answers(db: Database, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path)
    with db.session() as s:
        cid = _open(s)
        with pytest.raises(IllegalTransition):  # before liability is fixed there is nothing to claim
            claims.file_insurer_claim(s, cid, insurer="平安财险", policy_no="P", insurer_claim_no="C", by="c1")
        _to_liability(s, cid, store, T0)
        with pytest.raises(InvalidWorkflowInput, match="file the insurer claim"):
            claims.update_insurer_claim(s, cid, status="under_review", by="c1")
        claims.offer(s, cid, offered_by="company", amount="1000", by="c1")
        claims.agree_amount(s, cid, amount="1000", by="c1")
        claims.notify_parties(s, cid, by="c1")
        claims.pay(s, cid, amount="1000", by="c1")
        v = claims.file_insurer_claim(s, cid, insurer="平安财险", policy_no="P-1", insurer_claim_no="C-1", by="c1")
        assert (v.stage, v.insurer_status) == ("paid", "filed")
        with pytest.raises(InvalidWorkflowInput, match="filed already"):
            claims.file_insurer_claim(s, cid, insurer="x", policy_no="y", insurer_claim_no="z", by="c1")
        claims.close(s, cid, by="c1")
        v = claims.update_insurer_claim(s, cid, status="paid", payout="800", by="c1")  # after closing too
        assert (v.stage, v.insurer_status, v.insurer_payout) == ("closed", "paid", Decimal("800.00"))
        assert get_case(s, v.case_id).status == "closed"


def test_major_incident_is_the_supervisors_decision(db: Database) -> None:
    with db.session() as s:
        big = _open(s, claimed="50000")
        flagged = claims.open_claim(s, CaseInput(kind="claim", subject="冷链"), channel="agent", accident_cause="loss",
                                    claimed="300", major=True, by="agent1001").id
        small = _open(s, claimed="49999.99")
        with pytest.raises(InvalidInput, match="note"):
            claim_decisions.decide_major(s, big, confirm=False, note="", by="supervisor")
        v = claim_decisions.decide_major(s, big, confirm=False, note="实际货值较低", by="supervisor", at=T0)
        assert (v.major, v.major_status, v.major_decided_by, v.major_decided_at, v.escalated_to) == (
            False, "declined", "supervisor", T0, None)
        assert claims.get_claim(s, flagged).major_status == "suggested"
        with pytest.raises(InvalidWorkflowInput, match="only a suggested"):
            claim_decisions.decide_major(s, small, confirm=False, note="否", by="supervisor")
        v = claim_decisions.decide_major(s, small, confirm=True, note="连带损失大", by="supervisor",
                                         centre_head="head1")
        assert (v.major, v.major_status, v.escalated_to) == (True, "confirmed", "head1")
        assert get_case(s, v.case_id).priority == "urgent"
        with pytest.raises(InvalidWorkflowInput, match="confirmed already"):
            claim_decisions.decide_major(s, small, confirm=True, note="再次", by="supervisor")


def test_each_liable_party_sees_what_it_owes(db: Database, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path)
    with db.session() as s:
        a = _open(s)
        _to_liability(s, a, store, T0)
        b = _open(s)
        _to_liability(s, b, store, T0 + timedelta(days=1),
                      [LiabilityInput("branch", "70", "郑州分公司"), LiabilityInput("trunk_vehicle", "30", "豫A12345")])
        other = _open(s)
        _to_liability(s, other, store, T0, [LiabilityInput("branch", "100", "上海分公司")])
        refused = _open(s)
        _to_liability(s, refused, store, T0)
        claim_decisions.refuse(s, refused, reason="非承运责任", by="claims1")
        lines = owed_by(s, "branch", "郑州分公司")
        assert [(x.claim_id, x.share_percent, x.owed) for x in lines] == [(b, Decimal("70.00"), None),
                                                                         (a, Decimal("60.00"), None)]
        claims.offer(s, a, offered_by="company", amount="1000.01", by="c1")
        claims.agree_amount(s, a, amount="1000.01", by="c1")
        claims.notify_parties(s, a, by="c1", at=T0 + timedelta(days=3))
        lines = owed_by(s, "branch", "郑州分公司")
        mine = next(x for x in lines if x.claim_id == a)
        assert (mine.owed, mine.owed_fen, mine.notified_at) == (Decimal("600.01"), 60001, T0 + timedelta(days=3))
        assert total_owed(lines) == Decimal("600.01")
        assert [x.claim_id for x in owed_by(s, "trunk_vehicle", "豫A12345")] == [b]
        with pytest.raises(InvalidWorkflowInput, match="liable party"):
            owed_by(s, "pilot", "x")


def test_claim_deadlines_from_the_settings_table() -> None:
    got = parse_claim_deadlines({"reported": 2, "negotiating": 10.5, "total": 0})
    assert (got.reported, got.negotiating, got.total, got.investigating) == (2.0, 10.5, 0.0, 7.0)
    for bad, msg in [({"insurer_claimed": 3}, "unknown"), ({"paid": -1}, "0 to 365"), ({"paid": "3"}, "0 to 365"),
                     ({"paid": True}, "0 to 365"), ({"paid": 400}, "0 to 365")]:
        with pytest.raises(InvalidClaimDeadlines, match=msg):
            parse_claim_deadlines(bad)
