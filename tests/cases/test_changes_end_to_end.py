"""Consignee changes end to end (issue #17), on SQLite and PostgreSQL: name, phone and address requested,
approved into the embedded table or a transport-management system (the fake TMS on loopback), refused
with a reason; each decision gives the requesting agent a callback (回电); a TMS that refuses or cannot
be reached leaves everything as it was."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from workflow_support import WAYBILL, make_shipment

from cases import change_callbacks, changes
from cases.accounts import create_user
from cases.audit import audit_for
from cases.case_records import create_case, update_case
from cases.db import Database
from cases.errors import (
    ChangeCallbackNotFound,
    InvalidInput,
    InvalidWorkflowInput,
    ShipmentSourceBadAnswer,
    ShipmentSourceUnreachable,
    ShipmentUpdateRefused,
)
from cases.models.audit import AuditEntry
from cases.models.change_callbacks import ChangeCallback
from cases.shipment_records import find_shipment
from cases.shipment_sources import HttpShipmentSource, HttpSourceSettings, copy_into_table
from cases.views import CaseInput, CaseUpdate
from tests.fake_tms import TMS_SHIPMENT, Tms, serve_tms

TMS_WAYBILL = str(TMS_SHIPMENT["waybill"])


@pytest.fixture
def tms() -> Iterator[tuple[Tms, str]]:
    with serve_tms() as served:
        yield served


@pytest.fixture(autouse=True)
def agents(db: Database) -> None:
    """The console users who ask for changes (and call back); "ivr" is none of them."""
    with db.session() as s:
        for name in ("agent1001", "agent1002"):
            create_user(s, name, "password-123", "agent", name)
        create_user(s, "inspector1", "password-123", "inspector", "监察")


def _case(db: Database, waybill: str = WAYBILL) -> int:
    with db.session() as s:
        make_shipment(s)
        return create_case(s, CaseInput(kind="change_request", subject="更改收货地址", waybill=waybill),
                           by="agent1001").id


def _audits(db: Database) -> list[tuple[str, str]]:
    with db.reading() as s:
        return [(a.what, a.entity) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_address_change_approved_into_the_table_with_a_callback(db: Database) -> None:
    case_id = _case(db)
    with db.session() as s:
        r = changes.request_change(s, case_id, field="consignee_address", new_value=" 郑州市二七区大学路 1 号 ",
                                   reason="客户搬家", by="agent1001")
    assert (r.field, r.old_value, r.new_value, r.stage) == ("consignee_address", "", "郑州市二七区大学路 1 号",
                                                          "requested")
    with db.reading() as s:
        assert change_callbacks.list_callbacks(s) == ()
    with db.session() as s:
        v = changes.approve_change(s, r.id, note="已核实身份", by="supervisor")
    assert (v.stage, v.decided_by, v.decision_note) == ("applied", "supervisor", "已核实身份")
    with db.reading() as s:
        shipment = find_shipment(s, WAYBILL)
        assert shipment is not None and shipment.consignee_address == "郑州市二七区大学路 1 号"
        mine = change_callbacks.list_callbacks(s, agent="agent1001", open_only=True)
        assert change_callbacks.list_callbacks(s, agent="agent1002") == ()
        on_case = changes.list_change_requests(s, case_id=case_id)
        trail = [a.what for a in audit_for(s, "shipment", shipment.id)]
    assert [(c.outcome, c.field, c.new_value, c.note, c.case_id) for c in mine] == [
        ("applied", "consignee_address", "郑州市二七区大学路 1 号", "已核实身份", case_id)]
    assert [c.stage for c in on_case] == ["applied"]
    assert trail == ["shipment.update"]
    assert [w for w, _ in _audits(db)][-4:] == ["change_request.request", "shipment.update",
                                               "change_callback.create", "change_request.approve"]


def test_refusal_needs_a_reason_and_gives_a_callback(db: Database) -> None:
    case_id = _case(db)
    with db.session() as s:
        rid = changes.request_change(s, case_id, field="consignee_name", new_value="王五", by="agent1002").id
    with pytest.raises(InvalidInput, match="reason is required"), db.session() as s:
        changes.reject_change(s, rid, note="  ", by="supervisor")
    with db.reading() as s:
        assert changes.get_change_request(s, rid).stage == "requested"
    with db.session() as s:
        v = changes.reject_change(s, rid, note="来电人不是收货人", by="supervisor")
    assert (v.stage, v.decision_note) == ("rejected", "来电人不是收货人")
    with db.reading() as s:
        assert find_shipment(s, WAYBILL).consignee_name == "李娜"  # type: ignore[union-attr]
        [cb] = change_callbacks.list_callbacks(s, agent="agent1002")
    assert (cb.outcome, cb.note, cb.done) == ("rejected", "来电人不是收货人", False)
    assert ("change_request.reject", "change_request") in _audits(db)
    assert ("shipment.update", "shipment") not in _audits(db)


def test_callback_done_once_by_anyone_named(db: Database) -> None:
    case_id = _case(db)
    with db.session() as s:
        rid = changes.request_change(s, case_id, field="consignee_phone", new_value="137-0013-7000", by="agent1001").id
        changes.approve_change(s, rid, by="supervisor")
        [cb] = change_callbacks.list_callbacks(s)
    with db.session() as s:
        done = change_callbacks.complete_callback(s, cb.id, note="已告知客户", by="agent1001")
    assert done.done and done.done_by == "agent1001" and done.done_note == "已告知客户"
    with pytest.raises(InvalidWorkflowInput, match="already done"), db.session() as s:
        change_callbacks.complete_callback(s, cb.id, by="agent1001")
    with pytest.raises(ChangeCallbackNotFound), db.session() as s:
        change_callbacks.complete_callback(s, cb.id + 100, by="agent1001")
    with db.reading() as s:
        assert change_callbacks.list_callbacks(s, open_only=True) == ()
        assert [a.what for a in audit_for(s, "change_callback", cb.id)] == ["change_callback.create",
                                                                              "change_callback.done"]


def test_a_change_the_ivr_took_is_called_back_by_the_assignee_or_anyone(db: Database) -> None:
    case_id = _case(db)
    with db.session() as s:
        phone = changes.request_change(s, case_id, field="consignee_phone", new_value="13700137000", by="ivr").id
        name = changes.request_change(s, case_id, field="consignee_name", new_value="王五", by="inspector1").id
        changes.reject_change(s, phone, note="来电号码不是收货人电话", by="supervisor")
    with db.session() as s:
        update_case(s, case_id, CaseUpdate(assigned_to="agent1002"),
                    "supervisor")
        changes.approve_change(s, name, by="supervisor")
    with db.reading() as s:
        by_request = {c.change_request_id: c.agent for c in change_callbacks.list_callbacks(s)}
        mine = change_callbacks.list_callbacks(s, agent="agent1001", with_unassigned=True)
        theirs = change_callbacks.list_callbacks(s, agent="agent1002", with_unassigned=True)
    assert by_request == {phone: "", name: "agent1002"}  # no one in particular / the case's assignee
    assert [c.change_request_id for c in mine] == [phone]
    assert sorted(c.change_request_id for c in theirs) == sorted([phone, name])


def test_request_rules_for_the_new_fields(db: Database) -> None:
    case_id = _case(db)
    with db.session() as s:
        with pytest.raises(InvalidInput, match="longer than 200|at most 200|200"):
            changes.request_change(s, case_id, field="consignee_address", new_value="路" * 201, by="agent1001")
        with pytest.raises(InvalidInput, match="required"):
            changes.request_change(s, case_id, field="consignee_address", new_value="  ", by="agent1001")
        with pytest.raises(InvalidWorkflowInput, match="change field"):
            changes.request_change(s, case_id, field="shipper_phone", new_value="13800000000", by="agent1001")
        first = changes.request_change(s, case_id, field="consignee_phone", new_value="13700137000", by="agent1001")
        with pytest.raises(InvalidWorkflowInput, match=f"already waiting for approval \\(change request {first.id}\\)"):
            changes.request_change(s, case_id, field="consignee_phone", new_value="13600136000", by="agent1002")
        other = changes.request_change(s, case_id, field="consignee_name", new_value="王五", by="agent1002")
        assert other.stage == "requested"


# --- the transport-management system ------------------------------------------------------------


def _tms_case(db: Database, state: Tms, base: str) -> tuple[int, HttpShipmentSource]:
    state.json(TMS_WAYBILL, TMS_SHIPMENT)
    source = HttpShipmentSource(HttpSourceSettings(base, 2.0, "t0ken", False))
    with db.session() as s:
        assert copy_into_table(s, source, TMS_WAYBILL)  # a case's shipment is copied in from the TMS
        case = create_case(s, CaseInput(kind="change_request", subject="改电话", waybill=TMS_WAYBILL), by="agent1001")
        rid = changes.request_change(s, case.id, field="consignee_phone", new_value="137 0013 7000",
                                     by="agent1001").id
    return rid, source


def test_approval_updates_the_tms_first(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    rid, source = _tms_case(db, state, base)
    with db.session() as s:
        v = changes.approve_change(s, rid, note="ok", by="supervisor", source=source)
    assert v.stage == "applied" and v.old_value == "13900139002"
    change = {"consignee_phone": {"from": "13900139002", "to": "13700137000"}}
    assert state.updates == [(TMS_WAYBILL, {"changes": change, "reference": f"change_request:{rid}",
                                            "changed_by": "supervisor"})]
    assert ("/api/v1/shipments/" + TMS_WAYBILL, "Bearer t0ken") in state.requests
    assert state.current(TMS_WAYBILL)["consignee_phone"] == "13700137000"
    with db.reading() as s:
        assert find_shipment(s, TMS_WAYBILL).consignee_phone == "13700137000"  # type: ignore[union-attr]
        shipment_id = find_shipment(s, TMS_WAYBILL).id  # type: ignore[union-attr]
        [update] = audit_for(s, "shipment", shipment_id)
        assert json.loads(update.detail_json)["source"] == "http"
        assert len(change_callbacks.list_callbacks(s, agent="agent1001")) == 1


def _nothing_changed(db: Database, rid: int, audits_before: int) -> None:
    with db.reading() as s:
        assert changes.get_change_request(s, rid).stage == "requested"
        assert find_shipment(s, TMS_WAYBILL).consignee_phone == "13900139002"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(ChangeCallback)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audits_before


@pytest.mark.parametrize(("status", "message", "shown"), [
    (422, "已签收，不能更改", "已签收，不能更改"),
    (409, "", "Conflict"),
    (404, "", "has no such waybill"),
])
def test_tms_refusal_changes_nothing(db: Database, tms: tuple[Tms, str], status: int, message: str,
                                     shown: str) -> None:
    state, base = tms
    rid, source = _tms_case(db, state, base)
    audits = len(_audits(db))
    if message:
        state.refuse_updates(TMS_WAYBILL, status, message)
    else:
        state.update_answers[TMS_WAYBILL] = (status, b"{}")
    with pytest.raises(ShipmentUpdateRefused, match=f"refused \\(HTTP {status}\\): {shown}"), db.session() as s:
        changes.approve_change(s, rid, by="supervisor", source=source)
    _nothing_changed(db, rid, audits)
    # the TMS takes it later: the same request is approved then
    del state.update_answers[TMS_WAYBILL]
    with db.session() as s:
        assert changes.approve_change(s, rid, by="supervisor", source=source).stage == "applied"


def test_tms_conflict_when_it_changed_meanwhile(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    rid, source = _tms_case(db, state, base)
    audits = len(_audits(db))
    state.json(TMS_WAYBILL, {**TMS_SHIPMENT, "consignee_phone": "13500135000"})  # someone changed it there
    with pytest.raises(ShipmentUpdateRefused, match="HTTP 409.*13500135000"), db.session() as s:
        changes.approve_change(s, rid, by="supervisor", source=source)
    _nothing_changed(db, rid, audits)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tms_unreachable_or_slow_changes_nothing(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    rid, _ = _tms_case(db, state, base)
    audits = len(_audits(db))
    down = HttpShipmentSource(HttpSourceSettings(f"http://127.0.0.1:{_closed_port()}/api/v1", 1.0, "", True))
    with pytest.raises(ShipmentSourceUnreachable), db.session() as s:  # fallback=True: writes never fall back
        changes.approve_change(s, rid, by="supervisor", source=down)
    _nothing_changed(db, rid, audits)
    state.json(TMS_WAYBILL, TMS_SHIPMENT, delay=1.5)
    slow = HttpShipmentSource(HttpSourceSettings(base, 0.5, "", False))
    with pytest.raises(ShipmentSourceUnreachable, match="timed out"), db.session() as s:
        changes.approve_change(s, rid, by="supervisor", source=slow)
    _nothing_changed(db, rid, audits)


def test_tms_answer_without_the_new_value_is_a_bad_answer(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    rid, source = _tms_case(db, state, base)
    audits = len(_audits(db))
    state.update_answers[TMS_WAYBILL] = (200, json.dumps(TMS_SHIPMENT).encode())  # "ok", but not changed
    with pytest.raises(ShipmentSourceBadAnswer, match="not '13700137000'"), db.session() as s:
        changes.approve_change(s, rid, by="supervisor", source=source)
    state.update_answers[TMS_WAYBILL] = (500, b"{}")
    with pytest.raises(ShipmentSourceBadAnswer, match="HTTP 500"), db.session() as s:
        changes.approve_change(s, rid, by="supervisor", source=source)
    _nothing_changed(db, rid, audits)


def test_the_address_in_the_shipments_csv(db: Database) -> None:
    from cases.shipments import export_csv, import_csv

    head = "waybill,consignee_name,origin,destination"
    with db.session() as s:
        import_csv(s, f"{head},consignee_address\n800012345601,李娜,上海,郑州,郑州市金水区花园路 8 号\n".encode(),
                   by="admin")
    with db.session() as s:  # an older file without the column keeps the address
        import_csv(s, f"{head}\n800012345601,李娜娜,上海,郑州\n".encode(), by="admin")
    with db.reading() as s:
        shipment = find_shipment(s, "800012345601")
        exported = export_csv(s, bom=False).decode()
    assert shipment is not None and (shipment.consignee_name, shipment.consignee_address) == ("李娜娜",
                                                                                            "郑州市金水区花园路 8 号")
    assert exported.splitlines()[0].endswith(",history,consignee_address")
    assert exported.splitlines()[1].endswith(",郑州市金水区花园路 8 号")
    with pytest.raises(InvalidInput, match="consignee_address: is too long"), db.session() as s:
        import_csv(s, f"{head},consignee_address\n800012345601,李娜,上海,郑州,{'路' * 201}\n".encode(), by="admin")
