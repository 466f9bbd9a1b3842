"""The workflows' own rules beyond the stage order: loose ends and overdue referrals, evidence limits,
liability shares, money, major incidents, change requests updating the shipment, inspection checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from workflow_support import PNG, WAYBILL, make_shipment, new_change, new_claim, new_complaint

from cases import changes, claim_decisions, claims, complaints, inspections
from cases.audit import audit_for
from cases.case_records import create_case, get_case, list_cases
from cases.claims import EvidenceStore, LiabilityInput
from cases.db import Database
from cases.errors import EvidenceRejected, InvalidInput, InvalidWorkflowInput
from cases.inspections import InspectionInput
from cases.models.workflows import Claim
from cases.shipment_records import find_shipment
from cases.views import CaseInput

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_loose_ends_and_overdue_referrals(db: Database) -> None:
    with db.session() as s:
        stale = new_complaint(s)  # recorded, nothing since
        referred = new_complaint(s)
        complaints.analyse(s, referred, cause="handling", responsible_department="warehouse", by="a1")
        complaints.refer(s, referred, department="warehouse", deadline=datetime.now(UTC) + timedelta(hours=2),
                         by="a1")
        fresh = new_complaint(s)
    with db.session() as s:
        later = datetime.now(UTC) + timedelta(days=3)
        ends = {(e.complaint_id, e.reason) for e in complaints.loose_ends(s, now=later)}
        assert ends == {(stale, "no_follow_up"), (referred, "referral_overdue"), (fresh, "no_follow_up")}
        assert [e.complaint_id for e in complaints.overdue_referrals(s, now=later)] == [referred]
        assert complaints.loose_ends(s, now=datetime.now(UTC) + timedelta(hours=1)) == ()
        complaints.confirm_rectification(s, referred, rectification="已整改", by="a1")
        assert {e.reason for e in complaints.loose_ends(s, now=later) if e.complaint_id == referred} == {
            "not_verified"}
        complaints.verify(s, referred, by="a1")
        assert {e.reason for e in complaints.loose_ends(s, now=later) if e.complaint_id == referred} == {
            "customer_not_told"}
        case = get_case(s, complaints.get_complaint(s, referred).case_id)
        assert case.status == "in_progress"


def test_referral_sets_case_department_and_deadline(db: Database) -> None:
    due = datetime.now(UTC) + timedelta(days=1)
    with db.session() as s:
        cid = new_complaint(s)
        complaints.analyse(s, cid, cause="handling", responsible_department="branch", by="a1")
        with pytest.raises(InvalidWorkflowInput, match="not in the future"):
            complaints.refer(s, cid, department="branch", deadline=datetime.now(UTC) - timedelta(hours=1), by="a1")
        v = complaints.refer(s, cid, department="trunk_vehicle", deadline=due, by="a1")
        case = get_case(s, v.case_id)
    assert (case.status, case.department, case.follow_up_due) == ("referred", "trunk_vehicle", due)
    with db.session() as s:
        trail = [json.loads(a.detail_json) for a in audit_for(s, "complaint", cid)]
    assert [t.get("to") for t in trail] == ["recorded", "analysed", "referred"]


def test_evidence_limits(db: Database, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path, max_bytes=100)
    with db.session() as s:
        cid = new_claim(s)
        claims.start_investigation(s, cid, by="c1")
        for name, data, ctype, msg in [
            ("a.exe", b"MZ", "application/x-msdownload", "not accepted"),
            ("a.jpg", PNG, "image/png", "must end in"),
            ("a.png", b"GIF89a", "image/png", "does not look like"),
            ("a.png", b"", "image/png", "empty"),
            ("a.png", PNG + b"\x00" * 100, "image/png", "at most 100"),
        ]:
            with pytest.raises(EvidenceRejected, match=msg):
                claims.add_evidence(s, cid, filename=name, data=data, content_type=ctype, store=store, by="c1")
        with pytest.raises(InvalidWorkflowInput, match="gather evidence"):
            claims.fix_liability(s, cid, parties=[LiabilityInput("branch", "100")], by="c1")
        v = claims.add_evidence(s, cid, filename="../../x/破损.png", data=PNG, content_type="image/png", store=store,
                                by="c1")
    stored = Path(v.evidence[0].stored_path)
    assert stored.read_bytes() == PNG and stored.is_relative_to(tmp_path)
    assert v.evidence[0].filename == "破损.png"


def test_liability_shares_money_and_payment(db: Database, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path)
    with db.session() as s:
        cid = new_claim(s)
        claims.start_investigation(s, cid, by="c1")
        claims.add_evidence(s, cid, filename="p.png", data=PNG, content_type="image/png", store=store, by="c1")
        for parties, msg in [
            ([LiabilityInput("branch", "60"), LiabilityInput("loader", "30")], "sum to 90.00 %"),
            ([LiabilityInput("branch", "100.001")], "percentage"),
            ([LiabilityInput("pilot", "100")], "unknown liable party"),
            ([LiabilityInput("branch", "50"), LiabilityInput("branch", "50")], "twice"),
        ]:
            with pytest.raises(InvalidWorkflowInput, match=msg):
                claims.fix_liability(s, cid, parties=parties, by="c1")
        claims.fix_liability(s, cid, parties=[LiabilityInput("branch", "33.33", "郑州"),
                                              LiabilityInput("loader", "33.33"), LiabilityInput("warehouse", "33.34")],
                             by="c1")
        with pytest.raises(InvalidWorkflowInput, match="float"):
            claims.offer(s, cid, offered_by="company", amount=99.5, by="c1")  # type: ignore[arg-type]
        with pytest.raises(InvalidWorkflowInput, match="2 decimals"):
            claims.offer(s, cid, offered_by="company", amount="99.999", by="c1")
        claims.offer(s, cid, offered_by="company", amount="900", by="c1")
        claims.offer(s, cid, offered_by="customer", amount="1000.01", by="c1")
        with pytest.raises(InvalidWorkflowInput, match="never offered"):
            claims.agree_amount(s, cid, amount="950", by="c1")
        claims.agree_amount(s, cid, amount="1000.01", by="c1")
        v = claims.notify_parties(s, cid, by="c1")
        assert [str(p.owed) for p in v.liabilities] == ["333.30", "333.30", "333.41"]
        with pytest.raises(InvalidWorkflowInput, match="not the agreed"):
            claims.pay(s, cid, amount="1000", by="c1")
        v = claims.pay(s, cid, amount="1000.01", by="c1")
    assert str(v.paid) == "1000.01" and v.stage == "paid"


def test_major_claim_is_suggested_then_confirmed_and_escalated(db: Database) -> None:
    # issue #17: ≥ ¥50,000 used to make a claim 重大事故 and escalate it at once; the amount only suggests it
    # now, and the escalation follows the supervisor's confirmation (cases.claim_decisions)
    with db.session() as s:
        v = claims.open_claim(s, CaseInput(kind="claim", subject="整车侧翻"), channel="hotline",
                              accident_cause="traffic_accident", claimed="50000", by="a1", centre_head="head1")
        small = claims.open_claim(s, CaseInput(kind="claim", subject="小件"), channel="hotline", accident_cause="loss",
                                  claimed="49999.99", by="a1")
        assert (v.major, v.major_status, v.escalated_to) == (False, "suggested", None)
        assert (small.major, small.major_status) == (False, None)
        assert get_case(s, v.case_id).priority != "urgent"
        v = claim_decisions.decide_major(s, v.id, confirm=True, note="整车货损", by="supervisor", centre_head="head1")
        whats = [a.what for a in audit_for(s, "claim", v.id)]
        case = get_case(s, v.case_id)
    assert (v.major, v.major_status, v.escalated_to, v.major_decided_by) == (True, "confirmed", "head1", "supervisor")
    assert whats == ["claim.report", "claim.decide_major", "claim.escalate"] and case.priority == "urgent"


def test_claim_input_errors_store_nothing(db: Database) -> None:
    with db.session() as s:
        with pytest.raises(InvalidWorkflowInput, match="accident cause"):
            claims.open_claim(s, CaseInput(kind="claim", subject="x"), channel="hotline", accident_cause="meteor",
                              claimed="1", by="a1")
        with pytest.raises(InvalidWorkflowInput, match="negative"):
            claims.open_claim(s, CaseInput(kind="claim", subject="x"), channel="hotline", accident_cause="loss",
                              claimed="-1", by="a1")
        assert list_cases(s) == () and s.query(Claim).count() == 0


def test_change_request_updates_the_shipment_on_approval(db: Database) -> None:
    with db.session() as s:
        rid = new_change(s)
        assert find_shipment(s, WAYBILL).consignee_phone == "13800138000"  # type: ignore[union-attr]
        v = changes.approve_change(s, rid, by="supervisor")
        shipment = find_shipment(s, WAYBILL)
        trail = [json.loads(a.detail_json) for a in audit_for(s, "shipment", shipment.id)]  # type: ignore[union-attr]
    assert shipment is not None and shipment.consignee_phone == "13900139000"
    assert (v.old_value, v.new_value, v.stage) == ("13800138000", "13900139000", "applied")
    assert trail[-1]["changes"] == {"consignee_phone": {"from": "13800138000", "to": "13900139000"}}


def test_change_request_rules(db: Database) -> None:
    with db.session() as s:
        make_shipment(s)
        wrong = create_case(s, CaseInput(kind="inquiry", subject="x", waybill=WAYBILL), by="a1")
        with pytest.raises(InvalidWorkflowInput, match="not a change request"):
            changes.request_change(s, wrong.id, field="consignee_name", new_value="王五", by="a1")
        case = create_case(s, CaseInput(kind="change_request", subject="x", waybill=WAYBILL), by="a1")
        with pytest.raises(InvalidWorkflowInput, match="already"):
            changes.request_change(s, case.id, field="consignee_name", new_value="李娜", by="a1")
        with pytest.raises(InvalidWorkflowInput, match="not a phone"):
            changes.request_change(s, case.id, field="consignee_phone", new_value="abc", by="a1")
        rid = changes.request_change(s, case.id, field="consignee_name", new_value="王五", by="a1").id
        with pytest.raises(InvalidInput, match="required"):
            changes.reject_change(s, rid, note="", by="sup")
        changes.reject_change(s, rid, note="未核实", by="sup")
        assert find_shipment(s, WAYBILL).consignee_name == "李娜"  # type: ignore[union-attr]


def test_inspection_checks_work_out_pass_or_fail(db: Database) -> None:
    with db.session() as s:
        rate = inspections.record_inspection(s, InspectionInput(kind="freight_rate", branch="郑州", inspected_at=NOW,
                                                                quoted="118", tariff="120", rate_tolerance="2"),
                                             by="insp")
        late = inspections.record_inspection(s, InspectionInput(kind="cod_handin", branch="郑州", inspected_at=NOW,
                                                                due_at=NOW - timedelta(days=2),
                                                                done_at=NOW - timedelta(days=1)), by="insp")
        missing = inspections.record_inspection(s, InspectionInput(kind="fund_transfer", branch="郑州",
                                                                   inspected_at=NOW, due_at=NOW), by="insp")
        with pytest.raises(InvalidWorkflowInput, match="quoted rate"):
            inspections.record_inspection(s, InspectionInput(kind="freight_rate", branch="郑州", inspected_at=NOW),
                                          by="insp")
        with pytest.raises(InvalidWorkflowInput, match="contradicts"):
            inspections.record_inspection(s, InspectionInput(kind="freight_rate", branch="郑州", inspected_at=NOW,
                                                             quoted="100", tariff="120", passed=True), by="insp")
        f = inspections.add_finding(s, late.id, description="代收款迟交", deadline=NOW + timedelta(days=1), by="insp")
        assert [x.id for x in inspections.overdue_findings(s, now=NOW + timedelta(days=2))] == [f.id]
        inspections.rectify_finding(s, f.id, rectification="已上交", by="branch")
        assert inspections.overdue_findings(s, now=NOW + timedelta(days=2)) == ()
    assert (rate.passed, late.passed, missing.passed) == (True, False, False)
