"""Consignee changes through the console (issue #17), on SQLite and PostgreSQL: an agent requests one, may
not decide it (403 saying who decides), a supervisor approves or refuses it on the changes desk or the
JSON API; the agent gets the callback (回电) pushed and listed, and marks it done; the case page shows
the outcome. With a transport-management system that refuses or is down the supervisor is told and
nothing changes."""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING

import pytest
from flask.testing import FlaskClient

from agent_console.search import SHIPMENTS_KEY
from cases import changes
from cases.change_callbacks import list_callbacks
from cases.db import Database
from cases.demo_data import DEMO_WAYBILLS
from cases.shipment_records import find_shipment
from cases.shipment_sources import HttpShipmentSource, HttpSourceSettings
from tests.fake_tms import TMS_SHIPMENT, serve_tms

if TYPE_CHECKING:
    from conftest import Console

WAYBILL = DEMO_WAYBILLS[0]


@pytest.fixture
def db(db_both: Database) -> Database:
    return db_both


def _request(agent: FlaskClient, waybill: str, field: str, value: str) -> tuple[int, int]:
    resp = agent.post("/api/cases", json={"kind": "change_request", "subject": "客户来电要求更改", "waybill": waybill})
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["id"]
    resp = agent.post(f"/api/cases/{case_id}/change-request",
                      json={"field": field, "new_value": value, "reason": "客户要求"})
    assert resp.status_code == 201, resp.get_json()
    return case_id, resp.get_json()["id"]


def _stage(console: Console, rid: int) -> str:
    with console.db.reading() as s:
        return changes.get_change_request(s, rid).stage.value


def test_agent_requests_supervisor_approves_agent_calls_back(console: Console) -> None:
    agent = console.login("agent1001")
    sock = console.socket(agent)
    case_id, rid = _request(agent, WAYBILL, "consignee_address", "郑州市中原区建设路 18 号")
    # the agent may not decide: told who does, nothing changed
    resp = agent.post(f"/changes/{rid}/approve", data={"note": "我自己批"})
    assert resp.status_code == 403 and "只有客服主管（或管理员）可以审批更改申请" in resp.get_data(as_text=True)
    resp = agent.post(f"/api/change-requests/{rid}/approve", json={"note": ""}, headers={"Accept-Language": "en"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "change.err.not_allowed"
    assert "客服主管" in resp.get_json()["message"]
    assert agent.get("/changes").status_code == 403
    assert 'data-testid="nav-changes"' not in agent.get("/agent").get_data(as_text=True)
    assert _stage(console, rid) == "requested"
    # the supervisor sees it waiting and approves it
    sup = console.login("supervisor")
    desk = sup.get("/changes").get_data(as_text=True)
    assert 'data-testid="nav-changes"' in desk and f'data-testid="change-row-{rid}"' in desk
    assert "郑州市中原区建设路 18 号" in desk and "收货地址" in desk and "待审批" in desk
    assert "郑州市金水区花园路 8 号" in desk  # the address on record, shown as the old value
    resp = sup.post(f"/changes/{rid}/approve", data={"note": "已核实身份"})
    assert resp.status_code == 303 and "done=change_request.approve" in resp.headers["Location"]
    assert "已完成：批准更改" in sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert _stage(console, rid) == "applied"
    with console.db.reading() as s:
        assert find_shipment(s, WAYBILL).consignee_address == "郑州市中原区建设路 18 号"  # type: ignore[union-attr]
    shipment_page = agent.get(f"/shipments/{WAYBILL}").get_data(as_text=True)
    case_text = re.sub(r"<[^>]+>", "", agent.get(f"/cases/{case_id}").get_data(as_text=True))
    assert "收货地址: 郑州市金水区花园路 8 号 → 郑州市中原区建设路 18 号" in case_text  # old → new
    assert 'data-testid="shipment-consignee-address">郑州市中原区建设路 18 号<' in shipment_page
    # deciding twice is refused
    resp = sup.post(f"/changes/{rid}/reject", data={"note": "再驳回"})
    assert resp.status_code == 409 and "已审批过" in resp.get_data(as_text=True)
    # the agent was told at once, and finds the callback on its list; another agent does not
    pushed = console.wait_for(sock, "change_callback")
    assert (pushed["case_id"], pushed["outcome"], pushed["note"]) == (case_id, "applied", "已核实身份")
    [mine] = agent.get("/api/change-callbacks").get_json()["callbacks"]
    assert mine["id"] == pushed["id"] and mine["new_value"] == "郑州市中原区建设路 18 号"
    other = console.login("agent1002")
    assert other.get("/api/change-callbacks").get_json()["callbacks"] == []
    assert other.post(f"/api/change-callbacks/{mine['id']}/done", json={}).status_code == 403
    # the case page shows the outcome and the callback still owed, then done
    page = agent.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'data-testid="case-change-{rid}" data-stage="applied"' in page and "待回电" in page
    resp = agent.post(f"/api/change-callbacks/{mine['id']}/done", json={"note": "已告知客户"})
    assert resp.status_code == 200 and resp.get_json()["done_by"] == "agent1001"
    assert agent.post(f"/api/change-callbacks/{mine['id']}/done", json={}).status_code == 409
    assert agent.get("/api/change-callbacks").get_json()["callbacks"] == []
    page = agent.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已回电" in page and "已核实身份" in page


def test_refusal_needs_a_reason(console: Console) -> None:
    agent = console.login("agent1001")
    _, rid = _request(agent, WAYBILL, "consignee_name", "王五")
    sup = console.login("supervisor")
    resp = sup.post(f"/changes/{rid}/reject", data={"note": "  "})
    assert resp.status_code == 400 and "请填写必填项" in resp.get_data(as_text=True)
    resp = sup.post(f"/api/change-requests/{rid}/reject", json={"note": " "})
    assert resp.status_code == 400 and resp.get_json()["error"] == "change.err.reason"
    assert _stage(console, rid) == "requested"
    resp = sup.post(f"/api/change-requests/{rid}/reject", json={"note": "来电人无法核实身份"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["stage"] == "rejected" and body["callback"]["outcome"] == "rejected"
    with console.db.reading() as s:
        assert find_shipment(s, WAYBILL).consignee_name != "王五"  # type: ignore[union-attr]
        [cb] = list_callbacks(s, agent="agent1001")
    assert cb.note == "来电人无法核实身份"
    admin_listing = sup.get("/changes?stage=rejected").get_data(as_text=True)
    assert f'data-testid="change-row-{rid}"' in admin_listing and "来电人无法核实身份" in admin_listing


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tms_refusing_or_down_changes_nothing(console: Console) -> None:
    waybill = "800055554444"
    with serve_tms() as (tms, base):
        tms.json(waybill, {**TMS_SHIPMENT, "waybill": waybill})
        console.app.extensions[SHIPMENTS_KEY] = HttpShipmentSource(HttpSourceSettings(base, 1.0, "", False))
        agent = console.login("agent1001")
        case_id, rid = _request(agent, waybill, "consignee_phone", "137-0013-7000")
        sup = console.login("supervisor")
        tms.refuse_updates(waybill, 422, "货物已签收，不能更改")
        resp = sup.post(f"/changes/{rid}/approve", data={})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 409 and "运输管理系统拒绝了这项更改" in page and "货物已签收，不能更改" in page
        # down (the source's base URL now names a closed port): a clear error too
        console.app.extensions[SHIPMENTS_KEY] = HttpShipmentSource(
            HttpSourceSettings(f"http://127.0.0.1:{_closed_port()}/api/v1", 1.0, "", True))
        resp = sup.post(f"/api/change-requests/{rid}/approve", json={})
        assert resp.status_code == 502 and resp.get_json()["error"] == "change.err.tms_unreachable"
        assert _stage(console, rid) == "requested"
        with console.db.reading() as s:
            assert find_shipment(s, waybill).consignee_phone == "13900139002"  # type: ignore[union-attr]
            assert list_callbacks(s) == ()
        assert agent.get("/api/change-callbacks").get_json()["callbacks"] == []
        # the TMS takes it: both places change, the agent gets the callback
        console.app.extensions[SHIPMENTS_KEY] = HttpShipmentSource(HttpSourceSettings(base, 1.0, "", False))
        del tms.update_answers[waybill]
        assert sup.post(f"/changes/{rid}/approve", data={"note": "ok"}).status_code == 303
        assert tms.current(waybill)["consignee_phone"] == "13700137000"
        with console.db.reading() as s:
            assert find_shipment(s, waybill).consignee_phone == "13700137000"  # type: ignore[union-attr]
        assert [c["case_id"] for c in agent.get("/api/change-callbacks").get_json()["callbacks"]] == [case_id]


def test_a_change_the_ivr_took_is_any_agents_callback(console: Console) -> None:
    from cases.case_records import create_case
    from cases.views import CaseInput

    with console.db.session() as s:
        case = create_case(s, CaseInput(kind="change_request", subject="IVR: 更改联系电话", waybill=WAYBILL), "ivr")
        rid = changes.request_change(s, case.id, field="consignee_phone", new_value="13700137000", by="ivr").id
    sup = console.login("supervisor")
    sup_sock = console.socket(sup)
    assert sup.post(f"/changes/{rid}/reject", data={"note": "来电号码无法核实"}).status_code == 303
    assert console.wait_for(sup_sock, "change_callback")["agent"] == ""
    first, second = console.login("agent1001"), console.login("agent1002")
    [seen] = first.get("/api/change-callbacks").get_json()["callbacks"]
    assert seen["outcome"] == "rejected" and second.get("/api/change-callbacks").get_json()["callbacks"] == [seen]
    assert second.post(f"/api/change-callbacks/{seen['id']}/done", json={}).status_code == 200
    assert first.get("/api/change-callbacks").get_json()["callbacks"] == []
    assert "无指定客服员" in sup.get(f"/cases/{case.id}").get_data(as_text=True)
