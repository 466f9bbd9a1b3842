"""Issue #16, finding 2: an agent linked another agent's call to a case (POST /api/cases took any
linkedid) and read its transcript on the case page; an unknown linkedid even reserved a pending row.

The rule (cases.services.may_see_call, agent_console.data): an agent links, and sees the recording and
transcripts of, only the calls it was on (the record's agent, agents, rang), the call live with it now
(not stored before it ends: linked as pending), and the calls a supervisor assigned it (or the IVR's calls
of a callback task it accepted); supervisors, claims, inspectors and admins see every call. A linkedid
neither stored nor live is refused and stores nothing. The roles × routes matrix is in
test_authorization.py (test_calls_of_other_agents_for_every_role)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from agent_console import data
from cases.audit import audit_for
from cases.call_records import get_call, record_call
from cases.case_records import create_case
from cases.models.calls import Call
from cases.models.case import Case
from cases.transcript_records import attach_transcript
from cases.views import CaseInput
from telephony.events import AgentRinging, CallAnswered, CallEnded, CallStarted
from telephony.records import CallRecord

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Console

T0 = 1_764_500_000.0
CALLER = "49305551001"
SECRET_WORDS = "我的身份证号是一二三四"  # what the caller told agent1003


def record(console: Console, linkedid: str, agent: str | None, *, rang: tuple[str, ...] = (),
           transcript: str = SECRET_WORDS) -> None:
    """A stored, answered (or IVR-only) call with a recording and a transcript."""
    recordings: Path = console.config.recordings_dir  # type: ignore[assignment]
    (recordings / f"{linkedid}.wav").write_bytes(b"RIFF....WAVEfmt ")
    rec = CallRecord(linkedid=linkedid, caller=CALLER, caller_name="ZHANG WEI", dialed="4008001", hotline="service",
                     queue="service", outcome="answered" if agent else "abandoned_in_ivr", agent=agent,
                     agents=[agent] if agent else [], rang=list(rang) or ([agent] if agent else []),
                     talk_s=30.0, recording=f"{linkedid}.wav", started_at=T0, answered_at=T0 + 5, ended_at=T0 + 35)
    with console.db.session() as s:
        record_call(s, rec)
        attach_transcript(s, linkedid, engine="vosk", model="test", speaker="caller", text=transcript,
                                   words_json="[]", duration_s=3.0)


def counts(console: Console) -> tuple[int, int]:
    with console.db.session() as s:
        return (int(s.scalar(select(func.count()).select_from(Case)) or 0),
                int(s.scalar(select(func.count()).select_from(Call)) or 0))


def supervisor_case(console: Console, linkedid: str) -> int:
    resp = console.login("supervisor").post("/api/cases", json={"kind": "complaint", "subject": "投诉",
                                                                  "linkedid": linkedid})
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["id"])


def test_an_agent_cannot_link_another_agents_call_nor_read_it_on_a_case(console: Console) -> None:
    """The finding as reported: agent1001 linked agent1003's call and read its transcript."""
    record(console, "1003.call", "agent1003")
    agent = console.login("agent1001")
    before = counts(console)
    resp = agent.post("/api/cases", json={"kind": "inquiry", "subject": "看看", "linkedid": "1003.call"})
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json()["error"] == "forbidden_call"
    assert resp.get_json()["message"] == "只能关联您本人接听或振铃过的通话，或主管分配给您的通话"
    assert counts(console) == before  # no case, no call row
    # the same call linked legitimately (by a supervisor) to a case every agent may read
    case_id = supervisor_case(console, "1003.call")
    page = agent.get(f"/cases/{case_id}").get_data(as_text=True)
    assert SECRET_WORDS not in page and "/recordings/1003.call" not in page
    assert 'data-testid="case-call-withheld-1003.call"' in page and 'data-testid="case-call-1003.call"' in page
    assert agent.get("/recordings/1003.call").status_code == 403
    # the agent who took it, and supervisors, read it all
    for user in ("agent1003", "supervisor"):
        page = console.login(user).get(f"/cases/{case_id}").get_data(as_text=True)
        assert SECRET_WORDS in page and 'href="/recordings/1003.call"' in page, user
        assert "case-call-withheld" not in page


def test_an_unknown_linkedid_is_refused_and_stores_nothing(console: Console) -> None:
    before = counts(console)
    for user in ("agent1001", "supervisor"):
        resp = console.login(user).post("/api/cases", json={"kind": "inquiry", "subject": "x",
                                                            "linkedid": "1764500000.999"})
        assert resp.status_code == 404 and resp.get_json()["error"] == "no_such_call", (user, resp.get_json())
        assert resp.get_json()["message"] == "未找到该通话"
    assert counts(console) == before
    with console.db.session() as s:
        assert get_call(s, "1764500000.999") is None


def test_the_call_live_with_the_agent_is_linked_before_it_is_stored(console: Console) -> None:
    """Ringing, talking, and just ended (its record on its way): the agent's own call; another agent's
    live call is not."""
    bus = console.bus
    bus.publish(CallStarted("live.1", CALLER, "ZHANG WEI", "4008001", "service", T0))
    bus.publish(AgentRinging("live.1", "agent1001", "service", CALLER, T0 + 1))
    bus.publish(CallStarted("live.2", CALLER, "ZHANG WEI", "4008001", "service", T0))
    bus.publish(AgentRinging("live.2", "agent1002", "service", CALLER, T0 + 1))
    bus.publish(CallAnswered("live.2", "agent1002", "service", T0 + 3))
    console.settle()
    agent = console.login("agent1001")
    ringing = agent.post("/api/cases", json={"kind": "inquiry", "subject": "响铃中", "linkedid": "live.1"})
    assert ringing.status_code == 201, ringing.get_json()
    before = counts(console)
    other = agent.post("/api/cases", json={"kind": "inquiry", "subject": "别人的", "linkedid": "live.2"})
    assert other.status_code == 404 and counts(console) == before  # not stored, not the agent's: nothing
    # live.2 ends; until the listener stores it, the agent who took it may still link it
    bus.publish(CallEnded(CallRecord(linkedid="live.2", caller=CALLER, agent="agent1002", agents=["agent1002"],
                                     rang=["agent1002"], outcome="answered"), T0 + 30))
    console.settle()
    assert agent.post("/api/cases", json={"kind": "inquiry", "subject": "x", "linkedid": "live.2"}).status_code == 404
    mine = console.login("agent1002").post("/api/cases", json={"kind": "inquiry", "subject": "刚结束",
                                                                 "linkedid": "live.2"})
    assert mine.status_code == 201, mine.get_json()
    with console.db.session() as s:
        assert get_call(s, "live.1").outcome == "pending"  # type: ignore[union-attr]
        assert get_call(s, "live.2").outcome == "pending"  # type: ignore[union-attr]
    own = agent.get(ringing.get_json()["url"]).get_data(as_text=True)
    assert 'data-testid="case-call-live.1"' in own and "case-call-withheld" not in own  # its own pending call
    # a supervisor may link any live call
    bus.publish(CallStarted("live.3", CALLER, "ZHANG WEI", "4008001", "service", T0))
    console.settle()
    assert console.login("supervisor").post("/api/cases", json={"kind": "inquiry", "subject": "x",
                                                                "linkedid": "live.3"}).status_code == 201


def test_a_call_a_supervisor_assigns_is_the_agents_to_link_and_read(console: Console) -> None:
    record(console, "1003.call", "agent1003")
    case_id = supervisor_case(console, "1003.call")
    agent = console.login("agent1001")
    sup = console.login("supervisor")
    form = sup.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="assign-1003.call"' in form and 'value="agent1001"' in form
    assert 'data-testid="assign-1003.call"' not in agent.get(f"/cases/{case_id}").get_data(as_text=True)
    refused = sup.post(f"/cases/{case_id}/calls/1003.call/assign", data={"agent": "supervisor"})
    assert refused.status_code == 400 and "未分配" in refused.get_data(as_text=True)  # not an agent
    assert sup.post(f"/cases/{case_id}/calls/other.call/assign", data={"agent": "agent1001"}).status_code == 404
    assert agent.post(f"/cases/{case_id}/calls/1003.call/assign", data={"agent": "agent1001"}).status_code == 403
    done = sup.post(f"/cases/{case_id}/calls/1003.call/assign", data={"agent": "agent1001"})
    assert done.status_code == 303
    page = agent.get(f"/cases/{case_id}").get_data(as_text=True)
    assert SECRET_WORDS in page and "case-call-withheld" not in page and "agent1001" in page
    assert agent.get("/recordings/1003.call").status_code == 200
    assert agent.post("/api/cases", json={"kind": "inquiry", "subject": "跟进",
                                          "linkedid": "1003.call"}).status_code == 201
    assert console.login("agent1002").get("/recordings/1003.call").status_code == 403  # still only agent1001's
    with console.db.session() as s:
        audit = audit_for(s, "call", "1003.call")
    assert [(a.what, a.who) for a in audit] == [("call.assign", "supervisor")]


def test_accepting_a_callback_task_gives_the_agent_the_callers_message(console: Console) -> None:
    """The IVR's callback case links the caller's IVR call (no agent was on it): the agent who accepts
    the task hears and reads the caller's message; another agent does not."""
    record(console, "ivr.1", None, transcript="请回电给我，货丢了")
    with console.db.session() as s:
        case = create_case(s, CaseInput(kind="inquiry", subject="IVR: 回电请求 callback request",
                                                 linkedid="ivr.1"), "ivr")
    agent = console.login("agent1001")
    assert "货丢了" not in agent.get(f"/cases/{case.id}").get_data(as_text=True)
    # what POST /api/callbacks/<id>/accept does once the PBX dials (the route: test_live_pbx.py)
    task = data.callback_task(console.db, case.id)
    data.accept_callback(console.db, task, data.CallUser("agent1001", False, lambda lid: False))
    assert "货丢了" in agent.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "货丢了" not in console.login("agent1002").get(f"/cases/{case.id}").get_data(as_text=True)
