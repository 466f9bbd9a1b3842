"""Referrals to every department (issue #17), on SQLite and PostgreSQL: users with a department (and
unit), referrals routed by department and unit, the department's rectification verified by the centre
or sent back, the follow-up call (回访) before closing, and 相关分公司 (reported) kept apart from
责任分公司 (analysed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from workflow_support import new_complaint

from cases import complaints, follow_ups
from cases.accounts import create_user, set_role
from cases.audit import audit_for
from cases.case_records import get_case
from cases.db import Database
from cases.errors import IllegalTransition, InvalidCaseInput, InvalidUserInput, InvalidWorkflowInput
from cases.referrals import department_referrals, departments_with_desk, known_units, referral_is_for
from cases.views import CaseInput

PASSWORD = "password-123"


def _due(hours: float = 24) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def _referred(s: Session, subject: str, branch: str, department: str, unit: str | None = None) -> int:
    c = complaints.open_complaint(s, CaseInput(kind="complaint", subject=subject), complaint_type="delay",
                                  branch=branch, by="agent1001")
    complaints.analyse(s, c.id, cause="handling", responsible_department=department, by="agent1001")
    complaints.refer(s, c.id, department=department, unit=unit, deadline=_due(), by="agent1001")
    return c.id


def test_users_have_a_department_and_a_unit_where_it_needs_one(db: Database) -> None:
    with db.session() as s:
        zz = create_user(s, "zz", PASSWORD, "branch", "赵敏", branch="郑州分公司")
        wh = create_user(s, "wh", PASSWORD, "branch", "孙丽", department="warehouse")
        market = create_user(s, "mk", PASSWORD, "branch", "上海市场", branch="上海市场区域", department="market_area")
        agent = create_user(s, "a1", PASSWORD, "agent", "安娜")
    assert (zz.department, wh.department, market.department, agent.department) == (
        "branch", "warehouse", "market_area", None)
    with db.session() as s:
        with pytest.raises(InvalidUserInput, match="needs the market area"):
            create_user(s, "mk2", PASSWORD, "branch", "x", department="market_area")
        with pytest.raises(InvalidUserInput, match="only department staff"):
            create_user(s, "a2", PASSWORD, "agent", "x", department="warehouse")
        with pytest.raises(InvalidUserInput, match="department"):
            create_user(s, "x1", PASSWORD, "branch", "x", department="canteen")
    with db.session() as s:
        moved = set_role(s, "wh", "branch", department="settlement")
        kept = set_role(s, "zz", "branch", branch="洛阳分公司")
        back = set_role(s, "mk", "agent")
        with pytest.raises(InvalidUserInput, match="needs the branch"):
            set_role(s, "a1", "branch")
    assert (moved.department, kept.department, kept.branch, back.department) == (
        "settlement", "branch", "洛阳分公司", None)
    with db.reading() as s:
        assert known_units(s) == {"branch": ("洛阳分公司",), "market_area": ()}
        assert departments_with_desk(s) == frozenset({"branch", "settlement"})


def test_referrals_are_routed_by_department_and_unit_not_free_text(db: Database) -> None:
    with db.session() as s:
        zz = _referred(s, "郑州 延误", "郑州分公司", "branch")
        sh = _referred(s, "上海 延误", "郑州分公司", "branch", unit="上海分公司")  # reported 郑州, referred 上海
        wh = _referred(s, "仓库 破损", "郑州分公司", "warehouse", unit="ignored")
        inv = _referred(s, "发票 错开", "", "invoicing")
    with db.reading() as s:
        q_zz = department_referrals(s, "branch", "郑州分公司")
        q_sh = department_referrals(s, "branch", " 上海分公司 ")
        q_wh = department_referrals(s, "warehouse")
        q_inv = department_referrals(s, "invoicing", "whatever unit")
        assert [v.id for v in q_zz.waiting] == [zz]
        assert [v.id for v in q_sh.waiting] == [sh]
        assert [v.id for v in q_wh.waiting] == [wh] and complaints.get_complaint(s, wh).referred_unit == ""
        assert [v.id for v in q_inv.waiting] == [inv]
        assert department_referrals(s, "branch", "").waiting == ()  # a branch user without a branch sees none
        assert department_referrals(s, "settlement").waiting == ()
        assert referral_is_for(s, zz, "branch", "郑州分公司") is True
        assert referral_is_for(s, sh, "branch", "郑州分公司") is False  # the free-text branch is not the route
        assert referral_is_for(s, wh, "warehouse", "") is True
        assert referral_is_for(s, wh, "branch", "郑州分公司") is False
        assert referral_is_for(s, wh, None, "") is False
        assert referral_is_for(s, 99999, "warehouse", "") is None
    with db.session() as s:
        c = complaints.open_complaint(s, CaseInput(kind="complaint", subject="无分公司"), complaint_type="delay",
                                      by="agent1001")
        complaints.analyse(s, c.id, cause="handling", responsible_department="warehouse", by="agent1001")
        with pytest.raises(InvalidWorkflowInput, match="needs the unit"):
            complaints.refer(s, c.id, department="market_area", deadline=_due(), by="agent1001")
        assert complaints.get_complaint(s, c.id).stage.value == "analysed"
        view = complaints.refer(s, c.id, department="market_area", unit="  成都  市场区域 ", deadline=_due(),
                                by="agent1001")
    assert (view.referred_to, view.referred_unit) == ("market_area", "成都 市场区域")


def test_reported_branch_is_not_the_responsible_one(db: Database) -> None:
    with db.session() as s:
        c = complaints.open_complaint(s, CaseInput(kind="complaint", subject="错发"), complaint_type="wrong_delivery",
                                      branch="郑州分公司", by="agent1001")
        assert (c.responsible_department, c.responsible_unit) == (None, "")
        v = complaints.analyse(s, c.id, cause="operation_error", responsible_department="branch",
                               responsible_unit="上海分公司", analysis="上海分公司装错车", by="inspector")
        assert (v.branch, v.responsible_department, v.responsible_unit) == ("郑州分公司", "branch", "上海分公司")
        v = complaints.refer(s, c.id, department="branch", deadline=_due(), by="inspector")
        assert v.referred_unit == "上海分公司"  # default: the responsible unit of the analysis
        d = complaints.open_complaint(s, CaseInput(kind="complaint", subject="开票"), complaint_type="charges",
                                      branch="郑州分公司", by="agent1001")
        v = complaints.analyse(s, d.id, cause="operation_error", responsible_department="invoicing", by="a1")
        assert (v.responsible_department, v.responsible_unit) == ("invoicing", "")


def test_the_centre_verifies_or_sends_back_each_rectification(db: Database) -> None:
    with db.session() as s:
        cid = _referred(s, "派送延误", "郑州分公司", "branch")
        v = complaints.confirm_rectification(s, cid, rectification="已批评派送员", by="branch_zz")
        assert (v.stage.value, v.rectified_by) == ("rectified", "branch_zz")
        with pytest.raises(IllegalTransition, match="cannot tell_customer when rectified"):
            complaints.tell_customer(s, cid, reply="已告知", by="agent1001")
        with pytest.raises(InvalidCaseInput, match="note is required"):
            complaints.send_back(s, cid, deadline=_due(), note=" ", by="supervisor")
        with pytest.raises(InvalidWorkflowInput, match="not in the future"):
            complaints.send_back(s, cid, deadline=_due(-1), note="未落实", by="supervisor")
        assert complaints.get_complaint(s, cid).stage.value == "rectified"
        due = _due(48)
        v = complaints.send_back(s, cid, deadline=due, note="未见致歉记录", by="supervisor")
        assert (v.stage.value, v.sent_back, v.verification_note, v.referral_deadline) == (
            "referred", True, "未见致歉记录", due)
        assert get_case(s, v.case_id).follow_up_due == due and get_case(s, v.case_id).status == "referred"
        queue = department_referrals(s, "branch", "郑州分公司")
        assert [x.id for x in queue.waiting] == [cid] and queue.waiting[0].rectification == "已批评派送员"
        complaints.confirm_rectification(s, cid, rectification="已上门致歉，附签字", by="branch_zz")
        assert [x.id for x in department_referrals(s, "branch", "郑州分公司").answered] == [cid]
        v = complaints.verify(s, cid, note="电话核实", by="inspector")
        assert (v.stage.value, v.verified_by, v.verification_note) == ("verified", "inspector", "电话核实")
        assert v.verified_at is not None and not v.sent_back
        assert department_referrals(s, "branch", "郑州分公司").answered == ()
    with db.reading() as s:
        trail = [(a.what, json.loads(a.detail_json).get("to")) for a in audit_for(s, "complaint", cid)]
    assert trail == [("complaint.record", "recorded"), ("complaint.analyse", "analysed"),
                     ("complaint.refer", "referred"), ("complaint.confirm_rectification", "rectified"),
                     ("complaint.send_back", "referred"), ("complaint.confirm_rectification", "rectified"),
                     ("complaint.verify", "verified")]


def test_the_follow_up_call_comes_before_closing(db: Database) -> None:
    with db.session() as s:
        cid = new_complaint(s)
        complaints.analyse(s, cid, cause="communication", responsible_department="branch", by="a1")
        told = complaints.tell_customer(s, cid, reply="已解释原因", by="a1")
        assert told.customer_told_at is not None
        with pytest.raises(IllegalTransition, match="cannot close when customer_told"):
            complaints.close(s, cid, by="supervisor")
        with pytest.raises(InvalidWorkflowInput, match="follow-up outcome"):
            follow_ups.record_follow_up(s, cid, outcome="happy", by="a1")
        with pytest.raises(InvalidWorkflowInput, match="before the customer was told"):
            follow_ups.record_follow_up(s, cid, outcome="satisfied", by="a1",
                                        at=told.customer_told_at - timedelta(hours=1))
        for n in range(1, follow_ups.MAX_ATTEMPTS):
            v = follow_ups.record_follow_up(s, cid, outcome="unreachable", note=f"第{n}次无人接听", by="a1")
            assert v.stage.value == "customer_told" and len(v.follow_ups) == n
        v = follow_ups.record_follow_up(s, cid, outcome="unreachable", note="关机", by="a2")
        assert v.stage.value == "followed_up"
        assert [f.outcome.value for f in v.follow_ups] == ["unreachable"] * follow_ups.MAX_ATTEMPTS
        assert (v.follow_ups[-1].called_by, v.follow_ups[-1].note) == ("a2", "关机")
        assert complaints.close(s, cid, by="supervisor").stage.value == "closed"
        with pytest.raises(IllegalTransition):
            follow_ups.record_follow_up(s, cid, outcome="satisfied", by="a1")

        # not satisfied: referred again, verified, told, called back satisfied, closed
        other = _referred(s, "少件", "上海分公司", "warehouse")
        complaints.confirm_rectification(s, other, rectification="已补发", by="wh")
        complaints.verify(s, other, by="supervisor")
        complaints.tell_customer(s, other, reply="已补发", by="a1")
        v = follow_ups.record_follow_up(s, other, outcome="unsatisfied", note="仍少一件", by="a1")
        assert v.stage.value == "followed_up" and v.allowed_actions == ("close", "refer")
        complaints.refer(s, other, department="warehouse", deadline=_due(), note="客户仍少一件", by="a1")
        complaints.confirm_rectification(s, other, rectification="已补齐", by="wh")
        complaints.verify(s, other, by="supervisor")
        complaints.tell_customer(s, other, reply="已补齐", by="a1")
        v = follow_ups.record_follow_up(s, other, outcome="satisfied", by="a1")
        assert [f.outcome.value for f in v.follow_ups] == ["unsatisfied", "satisfied"]
        assert complaints.close(s, other, by="supervisor").stage.value == "closed"
