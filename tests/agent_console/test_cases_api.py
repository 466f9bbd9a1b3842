"""POST /api/cases from the agent's form, the case page, and the recordings it links to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from cases.call_records import record_call
from cases.case_records import cases_for_call, get_case
from cases.customers import find_customer_by_phone
from cases.demo_data import DEMO_WAYBILLS
from cases.models.case import Case
from cases.transcript_records import attach_transcript
from telephony.events import AgentRinging, CallAnswered, CallStarted
from telephony.records import CallRecord

if TYPE_CHECKING:
    from conftest import Console

T0 = 1_764_500_000.0
CALLER = "49305551001"


def record(console: Console, linkedid: str, recording: str | None = None) -> None:
    rec = CallRecord(
        linkedid=linkedid,
        caller=CALLER,
        caller_name="ZHANG WEI",
        dialed="4008001",
        hotline="service",
        digits="1" + DEMO_WAYBILLS[0],
        queue="service",
        outcome="answered",
        agent="agent1001",
        agents=["agent1001"],
        rang=["agent1001"],
        wait_s=5.0,
        talk_s=60.0,
        recording=recording,
        started_at=T0,
        answered_at=T0 + 5,
        ended_at=T0 + 65,
        waybill=DEMO_WAYBILLS[0],
    )
    with console.db.session() as s:
        record_call(s, rec)


def case_count(console: Console) -> int:
    with console.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def test_post_creates_a_case_linked_to_the_call(console: Console) -> None:
    record(console, "c.1")
    client = console.login("agent1001")
    resp = client.post(
        "/api/cases",
        json={
            "kind": "tracking",
            "subject": "查询运单到达时间",
            "description": "客户询问何时派送",
            "waybill": DEMO_WAYBILLS[0],
            "linkedid": "c.1",
        },
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["number"].startswith("C")
    assert body["url"] == f"/cases/{body['id']}"
    with console.db.session() as s:
        linked = cases_for_call(s, "c.1")
        case = get_case(s, body["id"])
    assert [c.number for c in linked] == [body["number"]]
    assert case.created_by == "agent1001"
    assert case.customer is not None and case.customer.name == "张伟"
    assert case.shipment is not None and case.shipment.waybill == DEMO_WAYBILLS[0]
    assert case.status.value == "open"


def test_department_refers_the_case(console: Console) -> None:
    client = console.login("agent1001")
    resp = client.post("/api/cases", json={"kind": "complaint", "subject": "派送延误", "department": "branch"})
    assert resp.status_code == 201
    assert resp.get_json()["status"] == "referred"


def test_case_may_be_saved_before_the_call_is_recorded(console: Console) -> None:
    """The call the agent is answering is not stored before it ends: while it is live with the agent
    (its pop, the call it talks on) the case links it as a pending call that its record fills in."""
    with console.db.session() as s:
        customer = find_customer_by_phone(s, CALLER)
    assert customer is not None
    console.bus.publish(CallStarted("c.live", CALLER, "ZHANG WEI", "4008001", "service", T0))
    console.bus.publish(AgentRinging("c.live", "agent1001", "service", CALLER, T0 + 2))
    console.bus.publish(CallAnswered("c.live", "agent1001", "service", T0 + 5))
    console.settle()
    client = console.login("agent1001")
    resp = client.post(
        "/api/cases",
        json={"kind": "inquiry", "subject": "运价咨询", "linkedid": "c.live", "customer_id": customer.id},
    )
    assert resp.status_code == 201
    record(console, "c.live")  # the call ends later
    with console.db.session() as s:
        assert [c.id for c in cases_for_call(s, "c.live")] == [resp.get_json()["id"]]
        case = get_case(s, resp.get_json()["id"])
    assert case.customer is not None and case.customer.name == "张伟"


def test_bad_case_input_is_400_with_a_clear_message_and_nothing_stored(console: Console) -> None:
    client = console.login("agent1001")
    before = case_count(console)
    cases = [
        ({"kind": "tracking", "subject": "   "}, "请填写主题"),
        ({"kind": "gossip", "subject": "x"}, "请选择案件类型"),
        ({"subject": "x"}, "请选择案件类型"),
        ({"kind": "inquiry", "subject": "x", "department": "moon"}, "未知的转交部门"),
        ({"kind": "inquiry", "subject": 5}, "字段类型错误"),
        ({"kind": "inquiry", "subject": "x", "colour": "red"}, "包含未知字段"),
        ({"kind": "inquiry", "subject": "x", "customer_id": "7"}, "字段类型错误"),
        ({"kind": "inquiry", "subject": "x", "customer_id": 999999}, "案件内容有误"),
        ({"kind": "tracking", "subject": "x", "waybill": "12ab"}, "案件内容有误"),
        ({"kind": "tracking", "subject": "x", "waybill": "999999999999"}, "案件内容有误"),
        (["not", "an", "object"], "请求格式错误"),
    ]
    for payload, message in cases:
        resp = client.post("/api/cases", json=payload)
        assert resp.status_code == 400, payload
        body = resp.get_json()
        assert body["error"] == "invalid_case"
        assert body["message"] == message, payload
        assert body["detail"], payload
    waybill = client.post("/api/cases", json={"kind": "tracking", "subject": "x", "waybill": "999999999999"})
    assert "999999999999" in waybill.get_json()["detail"]
    resp = client.post("/api/cases", data="not json", content_type="application/json")
    assert resp.status_code == 400
    assert case_count(console) == before


def test_bad_case_input_message_in_english(console: Console) -> None:
    client = console.login("agent1001")
    client.get("/agent?lang=en")
    resp = client.post("/api/cases", json={"kind": "inquiry", "subject": ""})
    assert resp.get_json()["message"] == "Please enter a subject"


def test_case_page_shows_case_calls_recording_and_transcript(console: Console) -> None:
    (console.config.recordings_dir / "c.2.wav").write_bytes(b"RIFF....WAVEfmt ")  # type: ignore[operator]
    record(console, "c.2", recording=str(console.config.recordings_dir / "c.2.wav"))  # type: ignore[operator]
    with console.db.session() as s:
        attach_transcript(
            s,
            "c.2",
            engine="vosk",
            model="test",
            speaker="caller",
            text="我的货什么时候到",
            words_json="[]",
            duration_s=3.0,
        )
    client = console.login("agent1001")
    case_id = client.post(
        "/api/cases", json={"kind": "tracking", "subject": "货什么时候到", "linkedid": "c.2"}
    ).get_json()["id"]
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "货什么时候到" in html
    assert 'data-testid="case-call-c.2"' in html
    assert 'href="/recordings/c.2"' in html
    assert "我的货什么时候到" in html
    wav = client.get("/recordings/c.2")
    assert wav.status_code == 200
    assert wav.mimetype == "audio/wav"
    assert wav.data.startswith(b"RIFF")


def test_recording_of_a_call_without_a_case_is_served(console: Console) -> None:
    (console.config.recordings_dir / "c.5.wav").write_bytes(b"RIFF five")  # type: ignore[operator]
    record(console, "c.5", recording="c.5.wav")  # relative: below the recordings directory
    assert console.login("agent1001").get("/recordings/c.5").data == b"RIFF five"


def test_case_page_404(console: Console) -> None:
    assert console.login("agent1001").get("/cases/999999").status_code == 404


def test_recording_outside_the_recordings_dir_is_not_served(console: Console, tmp_path: Path) -> None:
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"RIFF secret")
    record(console, "c.3", recording=str(outside))
    record(console, "c.4", recording=str(console.config.recordings_dir) + "/../secret.wav")
    client = console.login("agent1001")
    for lid in ("c.3", "c.4"):
        assert client.get(f"/recordings/{lid}").status_code == 404
    assert client.get("/recordings/no-such-call").status_code == 404
