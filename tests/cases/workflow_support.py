"""Drive each workflow to any of its stages with valid default inputs (for the transition tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from cases import changes, claim_decisions, claims, complaints, follow_ups, incidents, inspections
from cases.case_records import create_case
from cases.claims import EvidenceStore, LiabilityInput
from cases.inspections import InspectionInput
from cases.shipment_records import create_shipment, find_shipment
from cases.views import CaseInput, ShipmentInput

WAYBILL = "800012345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

Action = Callable[[Session, int], object]


def make_shipment(s: Session) -> None:
    if find_shipment(s, WAYBILL) is None:
        create_shipment(s, ShipmentInput(waybill=WAYBILL, origin="上海", destination="郑州",
                                            consignee_name="李娜", consignee_phone="13800138000"))


def complaint_actions() -> dict[str, Action]:
    later = datetime.now(UTC) + timedelta(days=1)
    return {
        "analyse": lambda s, i: complaints.analyse(s, i, cause="transport_delay", responsible_department="branch",
                                                   analysis="干线晚到", by="agent1001"),
        "refer": lambda s, i: complaints.refer(s, i, department="branch", deadline=later, by="agent1001"),
        "confirm_rectification": lambda s, i: complaints.confirm_rectification(
            s, i, rectification="已加派车辆", by="branch_zz"),
        "verify": lambda s, i: complaints.verify(s, i, note="已电话核实", by="supervisor"),
        "send_back": lambda s, i: complaints.send_back(s, i, deadline=later, note="未见整改记录", by="inspector"),
        "tell_customer": lambda s, i: complaints.tell_customer(s, i, reply="已电话告知", by="agent1001"),
        "follow_up": lambda s, i: follow_ups.record_follow_up(s, i, outcome="satisfied", note="客户满意",
                                                              by="agent1001"),
        "follow_up_attempt": lambda s, i: follow_ups.record_follow_up(s, i, outcome="unreachable", by="agent1001"),
        "close": lambda s, i: complaints.close(s, i, by="supervisor"),
    }


_TOLD = ("analyse", "refer", "confirm_rectification", "verify", "tell_customer")
COMPLAINT_PATHS: dict[str, tuple[str, ...]] = {
    "recorded": (),
    "analysed": ("analyse",),
    "referred": ("analyse", "refer"),
    "rectified": ("analyse", "refer", "confirm_rectification"),
    "verified": ("analyse", "refer", "confirm_rectification", "verify"),
    "customer_told": _TOLD,
    "followed_up": (*_TOLD, "follow_up"),
    "closed": (*_TOLD, "follow_up", "close"),
}


def new_complaint(s: Session) -> int:
    return complaints.open_complaint(
        s, CaseInput(kind="complaint", subject="货物延误"), complaint_type="delay", branch="郑州分公司", by="agent1001"
    ).id


def _update_insurer(s: Session, claim_id: int) -> object:
    view = claims.get_claim(s, claim_id)
    if view.insurer_status is None and "file_insurer_claim" in view.allowed_actions:
        claims.file_insurer_claim(s, claim_id, insurer="平安财险", policy_no="P-1", insurer_claim_no="C-1",
                                  by="claims1")
    return claims.update_insurer_claim(s, claim_id, status="paid", payout="800.00", by="claims1")


def claim_actions(evidence_root: Path) -> dict[str, Action]:
    store = EvidenceStore(root=evidence_root)
    return {
        "start_investigation": lambda s, i: claims.start_investigation(s, i, by="claims1"),
        "add_evidence": lambda s, i: claims.add_evidence(s, i, filename="破损.png", data=PNG,
                                                         content_type="image/png", store=store, by="claims1"),
        "fix_liability": lambda s, i: claims.fix_liability(
            s, i, parties=[LiabilityInput("branch", "60", "郑州分公司"), LiabilityInput("loader", "40", "王师傅")],
            by="claims1"),
        "offer": lambda s, i: claims.offer(s, i, offered_by="company", amount="1000.00", by="claims1"),
        "agree_amount": lambda s, i: claims.agree_amount(s, i, amount="1000.00", by="claims1"),
        "notify_parties": lambda s, i: claims.notify_parties(s, i, by="claims1"),
        "file_insurer_claim": lambda s, i: claims.file_insurer_claim(
            s, i, insurer="平安财险", policy_no="P-1", insurer_claim_no="C-1", by="claims1"),
        # the insurer's status needs its claim filed first (filed here when the path has not)
        "update_insurer_claim": lambda s, i: _update_insurer(s, i),
        "pay": lambda s, i: claims.pay(s, i, amount="1000.00", by="claims1"),
        "close": lambda s, i: claims.close(s, i, by="claims1"),
        "refuse": lambda s, i: claim_decisions.refuse(s, i, reason="非承运责任", by="claims1"),
        "withdraw": lambda s, i: claim_decisions.withdraw(s, i, reason="客户已自行解决", by="claims1"),
        "decide_major": lambda s, i: claim_decisions.decide_major(s, i, confirm=True, note="整车损失", by="supervisor"),
    }


_NEG = ("start_investigation", "add_evidence", "fix_liability", "offer")
CLAIM_PATHS: dict[str, tuple[str, ...]] = {
    "reported": (),
    "investigating": ("start_investigation", "add_evidence"),
    "liability_fixed": ("start_investigation", "add_evidence", "fix_liability"),
    "negotiating": _NEG,
    "amount_agreed": (*_NEG, "agree_amount"),
    "parties_notified": (*_NEG, "agree_amount", "notify_parties"),
    # the insurer's claim is a track beside the customer's (migration 0013), no longer a stage before paying
    "paid": (*_NEG, "agree_amount", "notify_parties", "pay"),
    "closed": (*_NEG, "agree_amount", "notify_parties", "pay", "close"),
    "refused": ("start_investigation", "add_evidence", "refuse"),
    "withdrawn": ("withdraw",),
}


def new_claim(s: Session) -> int:
    return claims.open_claim(
        s, CaseInput(kind="claim", subject="货物破损"), channel="hotline", accident_cause="handling_damage",
        claimed="1200.00", branch="郑州分公司", by="agent1001"
    ).id


def change_actions() -> dict[str, Action]:
    return {
        "approve": lambda s, i: changes.approve_change(s, i, by="supervisor"),
        "reject": lambda s, i: changes.reject_change(s, i, note="客户身份未核实", by="supervisor"),
    }


CHANGE_PATHS: dict[str, tuple[str, ...]] = {"requested": (), "applied": ("approve",), "rejected": ("reject",)}


def new_change(s: Session) -> int:
    make_shipment(s)
    case = create_case(s, CaseInput(kind="change_request", subject="改电话", waybill=WAYBILL), by="agent1001")
    return changes.request_change(s, case.id, field="consignee_phone", new_value="139 0013 9000", by="agent1001").id


def finding_actions() -> dict[str, Action]:
    later = datetime.now(UTC) + timedelta(days=3)
    return {
        "rectify": lambda s, i: inspections.rectify_finding(s, i, rectification="已整改", by="branch1"),
        "verify": lambda s, i: inspections.verify_finding(s, i, by="inspector1"),
        "reopen": lambda s, i: inspections.reopen_finding(s, i, deadline=later, note="未达标", by="inspector1"),
    }


FINDING_PATHS: dict[str, tuple[str, ...]] = {"open": (), "rectified": ("rectify",), "verified": ("rectify", "verify")}


def new_finding(s: Session) -> int:
    now = datetime.now(UTC)
    insp = inspections.record_inspection(
        s, InspectionInput(kind="staff_appearance", branch="郑州分公司", inspected_at=now - timedelta(hours=1),
                           passed=False), by="inspector1")
    return inspections.add_finding(s, insp.id, description="未穿工装", deadline=now + timedelta(days=2),
                                   by="inspector1").id


def incident_actions() -> dict[str, Action]:
    return {
        "handle": lambda s, i: incidents.handle_incident(s, i, measure="通知保险公司", by="inspector1"),
        "add_measure": lambda s, i: incidents.add_measure(s, i, measure="调车转运", by="inspector1"),
        "close": lambda s, i: incidents.close_incident(s, i, result="货物已转运", by="inspector1"),
    }


INCIDENT_PATHS: dict[str, tuple[str, ...]] = {
    "reported": (), "handling": ("handle", "add_measure"), "closed": ("handle", "close")}


def new_incident(s: Session) -> int:
    return incidents.record_incident(
        s, incidents.IncidentInput(kind="traffic_accident", occurred_at=datetime.now(UTC) - timedelta(hours=2),
                                   branch="郑州分公司", description="干线车辆追尾", reported_by="司机王强"),
        by="inspector1").id
