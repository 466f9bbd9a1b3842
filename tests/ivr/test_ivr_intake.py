"""The phone menu's complaints, claims and changes go through the one intake (cases.intake): a message left
in the menu is a complaint on the complaints desk or a claim on the claims desk (channel 理赔热线, cause 其他,
no amount yet), counted in the weekly complaints and monthly claims reports, with the call and recording on
the case; a confirmed new phone is a change request. The claim status finds a claim by its case number or by
its waybill, however old and however many newer claims there are."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from cases import claims, complaints, reports
from cases.case_records import create_case, get_case
from cases.changes import list_change_requests
from cases.models.case import Case
from cases.reports.data import Period, make_period
from cases.shipment_records import create_shipment
from cases.views import CaseInput, ShipmentEventInput, ShipmentInput
from tests.ivr.conftest import KEY_ACCOUNT_PHONE, WAYBILL, IvrServer
from tests.ivr.test_ivr_paths import call


def _this_week() -> Period:
    today = date.today()
    return make_period(today - timedelta(days=7), today + timedelta(days=2))


def test_a_complaint_left_in_the_menu_is_on_the_desk_and_in_the_weekly_report(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["2", WAYBILL + "#", "talks then #"], uniqueid="1796031000.1",
             callerid=KEY_ACCOUNT_PHONE)
    case_id = int(r.variables["CASE_ID"])
    assert r.variables["IVR_PATH"].startswith(f"menu=2:complaint>waybill={WAYBILL}>recorded=")
    with ivr_server.world.db.session() as s:
        complaint = complaints.complaint_for_case(s, case_id)
        assert complaint is not None
        on_desk = [c.id for c in complaints.list_complaints(s, limit=1000)]
        weekly = reports.build(s, "complaints-weekly", _this_week())
        case = get_case(s, case_id)
    assert str(complaint.complaint_type) == "other" and str(complaint.stage) == "recorded" and complaint.branch == ""
    assert complaint.id in on_desk
    assert complaint.case_number in [row.case_number for row in weekly.rows] and weekly.total >= 1
    assert [c.call.linkedid for c in case.calls] == ["1796031000.1"]
    assert r.variables["IVR_RECORDING"] in case.description and case.shipment is not None
    assert case.customer is not None and case.customer.name == "大客户 华东电子"  # by the caller's number


def test_a_claim_left_in_the_menu_is_on_the_desk_and_in_the_monthly_report(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "claims", ["1", WAYBILL + "#", "talks then #"], uniqueid="1796031000.2")
    case_id = int(r.variables["CASE_ID"])
    with ivr_server.world.db.session() as s:
        claim = claims.claim_for_case(s, case_id)
        assert claim is not None
        on_desk = [c.id for c in claims.list_claims(s, limit=1000)]
        monthly = reports.build(s, "claims-monthly", _this_week())
        case = get_case(s, case_id)
    assert (str(claim.channel), str(claim.accident_cause), claim.claimed) == ("hotline", "other", Decimal("0.00"))
    assert str(claim.stage) == "reported" and claim.id in on_desk
    assert claim.case_number in [row.case_number for row in monthly.rows]
    assert any(str(line.cause) == "other" and line.count >= 1 for line in monthly.by_cause)
    assert [c.call.linkedid for c in case.calls] == ["1796031000.2"]


def test_a_confirmed_new_phone_is_a_change_request(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["3", WAYBILL + "#", "13912340000#", "1"], uniqueid="1796031000.3")
    case_id = int(r.variables["CASE_ID"])
    assert r.variables["IVR_PATH"].endswith("phone=13912340000>phone:confirmed>case=" +
                                            get_number(ivr_server, case_id) + ">goodbye")
    with ivr_server.world.db.session() as s:
        [request] = [c for c in list_change_requests(s, limit=1000) if c.case_id == case_id]
    assert (str(request.field), request.new_value, str(request.stage)) == ("consignee_phone", "13912340000",
                                                                           "requested")
    assert request.old_value == "13900000009" and request.waybill == WAYBILL


def get_number(srv: IvrServer, case_id: int) -> str:
    with srv.world.db.session() as s:
        return get_case(s, case_id).number


def test_claim_status_by_waybill_finds_an_old_claim_behind_many_newer_ones(ivr_server: IvrServer) -> None:
    waybill = "800012349901"
    long_ago = datetime(2024, 1, 5, 2, 0, tzinfo=UTC)
    with ivr_server.world.db.session() as s:
        create_shipment(s, ShipmentInput(waybill=waybill, origin="广州", destination="成都", consignee_name="赵女士",
                                         consignee_phone="13900000077",
                                         events=(ShipmentEventInput(at=long_ago, status="已揽收", place="广州"),)))
        old = claims.open_claim(s, CaseInput(kind="claim", subject="旧的理赔", waybill=waybill), channel="agent",
                                accident_cause="water", claimed="300", by="agent1001")
        s.execute(update(Case).where(Case.id == old.case_id).values(created_at=long_ago))
        for n in range(1_050):  # newer claims on other shipments (no waybill): the old one is not among the newest
            create_case(s, CaseInput(kind="claim", subject=f"新理赔 {n}"), "tester")
    r = call(ivr_server, "claims", ["2", waybill + "#", ""], callerid="13900000077")
    assert r.variables["IVR_PATH"].split(">")[1:3] == [f"claim={waybill}", "claim_status=open"]
    assert r.variables["CASE_ID"] == str(old.case_id)
    # by the claim's own case number as before
    digits = "".join(ch for ch in old.case_number if ch.isdigit())
    r = call(ivr_server, "claims", ["2", digits + "#", ""])
    assert r.variables["CASE_ID"] == str(old.case_id)
    # a waybill without a claim is not found
    r = call(ivr_server, "claims", ["2", "800012349902#", "", ""])
    assert r.variables["IVR_PATH"].split(">")[1] == "claim:not_found=800012349902"


def test_the_consignees_own_phone_again_is_a_case_without_a_change(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["3", WAYBILL + "#", "13900000009#", "1"], uniqueid="1796031000.4")
    case_id = int(r.variables["CASE_ID"])
    assert r.variables["IVR_PATH"].endswith("phone:confirmed>case=" + get_number(ivr_server, case_id) + ">goodbye")
    with ivr_server.world.db.session() as s:
        assert [c for c in list_change_requests(s, limit=1000) if c.case_id == case_id] == []
        assert get_case(s, case_id).kind == "change_request"
