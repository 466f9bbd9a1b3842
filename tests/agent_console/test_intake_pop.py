"""One intake from the screen pop (#17): a call rings, the agent saves a complaint, a claim or a change
from the pop's form, and the record is on its desk (/complaints, /claims, the change requests) and counted in
its report (weekly complaints, monthly claims), with the call, waybill, recording and transcript on the case
page. The caller's open claims show their stage (理赔阶段) in the next pop. Bad fields are a 400 with a clear
message and nothing is stored. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from cases import claims, complaints, reports
from cases.call_records import record_call
from cases.changes import list_change_requests
from cases.db import Database
from cases.demo_data import DEMO_WAYBILLS
from cases.intake import ClaimIntake, ComplaintIntake, take_in
from cases.models.calls import Call
from cases.models.case import Case
from cases.models.workflows import ChangeRequest, Claim, Complaint
from cases.reports.data import Period, make_period
from cases.transcript_records import attach_transcript
from cases.views import CaseInput
from telephony.events import AgentRinging, CallQueued, CallStarted, CallVariable
from telephony.records import CallRecord

if TYPE_CHECKING:
    from conftest import Console

T0 = 1_764_500_000.0
WAYBILL = DEMO_WAYBILLS[0]  # 张伟's shipment 上海 → 郑州; consignee 李娜
CALLER = "49305551001"  # 张伟


@pytest.fixture
def db(db_both: Database) -> Iterator[Database]:
    yield db_both


def ring(console: Console, linkedid: str, hotline: str = "service", agent: str = "agent1001") -> dict[str, Any]:
    """A call from 张伟 with his waybill rings `agent`: the pop it gets."""
    sock = console.socket(console.login(agent))
    console.received(sock, "hello")
    bus = console.bus
    bus.publish(CallStarted(linkedid, CALLER, "ZHANG WEI", "4000100100", hotline, T0))
    bus.publish(CallVariable(linkedid, "WAYBILL", WAYBILL, T0 + 5))
    bus.publish(CallQueued(linkedid, hotline, 1, T0 + 6))
    bus.publish(AgentRinging(linkedid, agent, hotline, CALLER, T0 + 7))
    pop: dict[str, Any] = console.wait_for(sock, "screen_pop", where=lambda p: p["linkedid"] == linkedid)
    return pop


def save_from_pop(console: Console, pop: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The pop's form as agent.js posts it: the case's fields and the kind's own."""
    body = {"linkedid": pop["linkedid"], "waybill": pop["waybill"], "customer_id": pop["customer"]["id"], **fields}
    resp = console.login("agent1001").post("/api/cases", json=body)
    assert resp.status_code == 201, resp.get_json()
    answer: dict[str, Any] = resp.get_json()
    return answer


def this_period() -> Period:
    today = date.today()
    return make_period(today - timedelta(days=7), today + timedelta(days=2))


def record_the_call(db: Database, linkedid: str, hotline: str) -> None:
    """The call's end as the listener stores it (recording) and its transcript as the pipeline does."""
    with db.session() as s:
        record_call(s, CallRecord(linkedid=linkedid, caller=CALLER, hotline=hotline, outcome="answered",
                                  agent="agent1001", agents=["agent1001"], rang=["agent1001"], talk_s=60.0,
                                  recording=f"{linkedid}.wav", started_at=T0, answered_at=T0 + 8, ended_at=T0 + 70,
                                  waybill=WAYBILL))
        attach_transcript(s, linkedid, engine="vosk", model="test", speaker="caller",
                          text="货 到 了 外箱 破损 我 要 投诉", words_json="[]", duration_s=60.0)


def test_a_complaint_from_the_pop_reaches_the_desk_and_the_weekly_report(console: Console) -> None:
    pop = ring(console, "1764500100.1")
    saved = save_from_pop(console, pop, kind="complaint", subject="外箱破损，客户投诉", complaint_type="damage",
                          branch="郑州分公司", description="客户称货物外箱破损")
    assert saved["complaint_id"] and saved["claim_id"] is None and saved["desk_url"].endswith(
        f"/complaints/{saved['complaint_id']}")
    record_the_call(console.db, pop["linkedid"], "service")

    agent = console.login("agent1001")
    desk = agent.get("/complaints").get_data(as_text=True)
    assert saved["number"] in desk
    page = agent.get(saved["desk_url"]).get_data(as_text=True)
    assert "郑州分公司" in page and "破损" in page
    case_page = console.login("supervisor").get(saved["url"]).get_data(as_text=True)
    assert pop["linkedid"] in case_page and WAYBILL in case_page
    assert f'data-testid="recording-{pop["linkedid"]}"' in case_page and "外箱 破损" in case_page

    with console.db.session() as s:
        complaint = complaints.get_complaint(s, saved["complaint_id"])
        weekly = reports.build(s, "complaints-weekly", this_period())
    assert (str(complaint.complaint_type), complaint.branch, str(complaint.stage)) == ("damage", "郑州分公司",
                                                                                       "recorded")
    assert weekly.total == 1 and [r.case_number for r in weekly.rows] == [saved["number"]]
    assert [(c.key, c.count) for c in weekly.by_type if c.count] == [("damage", 1)]
    assert [(c.label, c.count) for c in weekly.by_branch if c.count] == [("郑州分公司", 1)]


def test_a_claim_from_the_pop_reaches_the_desk_the_monthly_report_and_the_next_pop(console: Console) -> None:
    pop = ring(console, "1764500100.2", hotline="claims")
    saved = save_from_pop(console, pop, kind="claim", subject="货物破损索赔", accident_cause="handling_damage",
                          claimed="1,200.50", branch="郑州分公司")
    assert saved["claim_id"] and saved["claim_stage"] == "reported"
    record_the_call(console.db, pop["linkedid"], "claims")

    desk = console.login("claims")
    assert saved["number"] in desk.get("/claims").get_data(as_text=True)
    assert "郑州分公司" in desk.get(saved["desk_url"]).get_data(as_text=True)
    case_page = console.login("claims").get(saved["url"]).get_data(as_text=True)
    assert f'data-testid="recording-{pop["linkedid"]}"' in case_page and "外箱 破损" in case_page

    with console.db.session() as s:
        claim = claims.get_claim(s, saved["claim_id"])
        monthly = reports.build(s, "claims-monthly", this_period())
    assert (str(claim.channel), str(claim.accident_cause), claim.claimed) == ("agent", "handling_damage",
                                                                              Decimal("1200.50"))
    assert monthly.total == 1 and monthly.claimed == Decimal("1200.50")
    assert [(str(c.cause), c.count) for c in monthly.by_cause] == [("handling_damage", 1)]

    # the caller rings again: the pop lists the open claim with its stage, so the agent can chase the claims staff
    again = ring(console, "1764500100.3", hotline="claims", agent="agent1002")
    [listed] = [c for c in again["open_cases"] if c["id"] == saved["id"]]
    assert (listed["claim_stage"], listed["claim_stage_zh"]) == ("reported", "已报案")
    assert all(c["claim_stage"] is None for c in again["open_cases"] if c["kind"] != "claim")
    with console.db.session() as s:
        claims.start_investigation(s, saved["claim_id"], by="claims")
    third = ring(console, "1764500100.4", hotline="claims", agent="agent1003")
    [listed] = [c for c in third["open_cases"] if c["id"] == saved["id"]]
    assert (listed["claim_stage"], listed["claim_stage_zh"]) == ("investigating", "调查中")


def test_a_claim_without_amount_or_cause_is_reported_at_zero_other(console: Console) -> None:
    pop = ring(console, "1764500100.5", hotline="claims")
    saved = save_from_pop(console, pop, kind="claim", subject="丢件，金额待定")
    with console.db.session() as s:
        claim = claims.get_claim(s, saved["claim_id"])
    assert (str(claim.accident_cause), claim.claimed, claim.branch) == ("other", Decimal("0.00"), "")


def test_a_change_from_the_pop_is_a_change_request(console: Console) -> None:
    pop = ring(console, "1764500100.6")
    saved = save_from_pop(console, pop, kind="change_request", subject="更改收货人", change_field="consignee_name",
                          change_value="李娜娜")
    assert saved["change_request_id"] and saved["status"] == "in_progress"
    with console.db.session() as s:
        [request] = [r for r in list_change_requests(s) if r.id == saved["change_request_id"]]
    assert (str(request.field), request.old_value, request.new_value, request.waybill) == (
        "consignee_name", "李娜", "李娜娜", WAYBILL)
    # without a field and a new value the case is made and the change is asked for later (the case work box)
    plain = save_from_pop(console, pop, kind="change_request", subject="更改，稍后填写")
    assert plain["change_request_id"] is None


def _counts(db: Database) -> tuple[int, ...]:
    with db.session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(m)) or 0)
                     for m in (Case, Complaint, Claim, ChangeRequest, Call))


@pytest.mark.parametrize(("fields", "key_text"), [
    ({"kind": "complaint", "complaint_type": "rude"}, "未知的投诉类型"),
    ({"kind": "claim", "accident_cause": "meteor"}, "未知的事故原因"),
    ({"kind": "claim", "claimed": "abc"}, "索赔金额格式错误"),
    ({"kind": "claim", "claimed": "-5"}, "索赔金额格式错误"),
    ({"kind": "claim", "claimed": "1.234"}, "索赔金额格式错误"),
    ({"kind": "claim", "claimed": True}, "索赔金额格式错误"),
    ({"kind": "complaint", "branch": "分" * 101}, "相关分公司名称过长"),
    ({"kind": "complaint", "accident_cause": "water"}, "不属于该案件类型"),
    ({"kind": "inquiry", "complaint_type": "damage"}, "不属于该案件类型"),
    ({"kind": "change_request", "change_field": "consignee_name"}, "同时填写更改项和新内容"),
    ({"kind": "change_request", "change_field": "colour", "change_value": "红"}, "未知的更改项"),
    ({"kind": "change_request", "change_field": "consignee_name", "change_value": "王", "waybill": ""},
     "需填写运单号"),
    ({"kind": "change_request", "change_field": "consignee_phone", "change_value": "12"}, "内容有误"),
    ({"kind": "change_request", "change_field": "consignee_name", "change_value": "李娜"}, "内容有误"),  # unchanged
])
def test_bad_kind_fields_are_a_clear_400_and_nothing_is_stored(console: Console, fields: dict[str, Any],
                                                               key_text: str) -> None:
    pop = ring(console, "1764500100.7")
    before = _counts(console.db)
    body = {"linkedid": pop["linkedid"], "waybill": WAYBILL, "subject": "有误的表单", **fields}
    resp = console.login("agent1001").post("/api/cases", json=body)
    answer = resp.get_json()
    assert resp.status_code == 400 and answer["error"] == "invalid_case", answer
    assert key_text in answer["message"], answer
    assert _counts(console.db) == before  # no case, no workflow record, no pending call row
    en = console.login("agent1001").post("/api/cases?lang=en", json=body).get_json()
    assert en["message"] and en["detail"]


@pytest.mark.parametrize(("details", "desk"), [(ComplaintIntake(), "/complaints"),
                                               (ClaimIntake(channel="hotline"), "/claims")])
def test_an_ivr_made_complaint_or_claim_shows_its_call_recording_and_transcript(
        console: Console, details: ComplaintIntake | ClaimIntake, desk: str) -> None:
    """As ivr.flow makes them: by user ivr, the live call linked as pending, the message's recording in the
    description; the call stored at its end with its recording, the message transcribed."""
    linkedid = "1764500200.1"
    kind = "complaint" if isinstance(details, ComplaintIntake) else "claim"
    with console.db.session() as s:
        taken = take_in(s, CaseInput(kind=kind, subject=f"IVR: {kind}", waybill=WAYBILL, linkedid=linkedid,
                                     description=f"录音 recording: /var/spool/asterisk/ivr/{linkedid}.wav"), "ivr",
                        details)
    record_the_call(console.db, linkedid, "service")
    sup = console.login("supervisor")
    page = sup.get(f"/cases/{taken.case.id}").get_data(as_text=True)
    assert linkedid in page and WAYBILL in page and f'data-testid="recording-{linkedid}"' in page
    assert "外箱 破损" in page, page
    assert taken.case.number in sup.get(desk).get_data(as_text=True)
