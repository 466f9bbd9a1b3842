"""Follow-up reminders: a referral's deadline raises a reminder before it and another once overdue, complaints
left with loose ends (留有尾巴) too; pushed over Socket.IO to the case's assignee and to supervisors (nobody
else), listed over HTTP, acknowledged once with an audit entry."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from agent_console.reminders import REMINDERS_KEY, ReminderChecker
from cases import complaints
from cases.case_records import create_case
from cases.models.audit import AuditEntry
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.workflows import Complaint
from cases.reminders import DUE_SOON, OVERDUE, due_reminders
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console


def checker(console: Console) -> ReminderChecker:
    """The app's checker with its timer stopped: the test says when it checks."""
    found: ReminderChecker = console.app.extensions[REMINDERS_KEY]
    found.stop()
    return found


def referred_case(console: Console, *, due_in: timedelta, assignee: str = "agent1001") -> int:
    """A complaint case referred to a department (the console's case form) with a deadline `due_in` from
    now (moved there after creation when it lies in the past), worked by `assignee`."""
    with console.db.session() as s:
        case = create_case(s, CaseInput(kind="complaint", subject="货物破损未处理", status="referred",
                                                 department="branch", assigned_to=assignee,
                                                 follow_up_due=utcnow() + timedelta(days=1)), assignee)
        s.get_one(Case, case.id).follow_up_due = utcnow() + due_in
        return case.id


def events(sock: object, name: str) -> list[dict[str, object]]:
    return [m["args"][0] for m in sock.get_received() if m["name"] == name]  # type: ignore[attr-defined]


def test_due_soon_then_overdue_reach_the_assignee_and_supervisors_only(console: Console) -> None:
    checker(console)
    case_id = referred_case(console, due_in=timedelta(minutes=30))
    mine, other, sup = (console.socket(console.login(u)) for u in ("agent1001", "agent1002", "supervisor"))
    for s in (mine, other, sup):
        s.get_received()
    new = checker(console).check()
    assert [(r.case_id, r.kind) for r in new] == [(case_id, DUE_SOON)]
    for sock in (mine, sup):
        got = events(sock, "reminder")
        assert [(e["case_id"], e["kind"], e["overdue"]) for e in got] == [(case_id, DUE_SOON, False)]
    assert events(other, "reminder") == []
    assert checker(console).check() == []  # nothing new: not pushed twice

    with console.db.session() as s:  # the deadline passes
        s.get_one(Case, case_id).follow_up_due = utcnow() - timedelta(minutes=1)
    new = checker(console).check()
    assert [(r.case_id, r.kind) for r in new] == [(case_id, OVERDUE)]
    got_mine = mine.get_received()
    assert [m["args"][0]["kind"] for m in got_mine if m["name"] == "reminder"] == [OVERDUE]
    assert [m["args"][0]["reason"] for m in got_mine if m["name"] == "reminder_cleared"] == ["resolved"]
    assert events(other, "reminder") == []


def test_listing_and_acknowledging_is_audited_and_clears_it_everywhere(console: Console) -> None:
    checker(console)
    case_id = referred_case(console, due_in=timedelta(hours=-2))
    checker(console).check()
    agent, other, sup = console.login("agent1001"), console.login("agent1002"), console.login("supervisor")
    listed = agent.get("/api/reminders").get_json()["reminders"]
    assert [(r["case_id"], r["kind"]) for r in listed] == [(case_id, OVERDUE)]
    assert other.get("/api/reminders").get_json()["reminders"] == []
    assert [r["case_id"] for r in sup.get("/api/reminders").get_json()["reminders"]] == [case_id]
    key = listed[0]["key"]
    assert other.post("/api/reminders/ack", json={"key": key}).status_code == 403  # not theirs
    mine, sup_sock = console.socket(agent), console.socket(sup)
    mine.get_received(), sup_sock.get_received()
    resp = agent.post("/api/reminders/ack", json={"key": key})
    assert resp.status_code == 200 and resp.get_json() == {"key": key, "acknowledged_by": "agent1001"}
    for sock in (mine, sup_sock):
        assert events(sock, "reminder_cleared") == [{"key": key, "reason": "acknowledged", "by": "agent1001"}]
    with console.db.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.what == "reminder.acknowledge")).all()
        assert [(a.who, a.entity, a.entity_id, a.detail["kind"]) for a in audit] == [
            ("agent1001", "case", str(case_id), OVERDUE)]
        assert due_reminders(s) == ()
    assert agent.get("/api/reminders").get_json()["reminders"] == []
    assert checker(console).check() == []  # not raised again
    again = agent.post("/api/reminders/ack", json={"key": key})
    assert again.status_code == 404 and again.get_json()["message"] == "该提醒已处理或已不再到期"
    assert agent.post("/api/reminders/ack", json={}).status_code == 400


def test_a_supervisor_may_acknowledge_any_and_closed_cases_raise_nothing(console: Console) -> None:
    first = referred_case(console, due_in=timedelta(minutes=-5), assignee="agent1002")
    second = referred_case(console, due_in=timedelta(minutes=-5), assignee="agent1003")
    with console.db.session() as s:
        s.get_one(Case, second).status = "closed"
    sup = console.login("supervisor")
    listed = sup.get("/api/reminders").get_json()["reminders"]
    assert [r["case_id"] for r in listed] == [first]
    assert sup.post("/api/reminders/ack", json={"key": listed[0]["key"]}).status_code == 200
    with console.db.session() as s:
        assert s.scalars(select(AuditEntry.who).where(AuditEntry.what == "reminder.acknowledge")).all() == [
            "supervisor"]


def test_complaint_loose_ends_are_reminders(console: Console) -> None:
    checker(console)
    with console.db.session() as s:
        view = complaints.open_complaint(s, CaseInput(kind="complaint", subject="派送员态度差"), by="agent1001",
                                         complaint_type="attitude", branch="浦东")
    with console.db.session() as s:
        row = s.scalars(select(Complaint).where(Complaint.id == view.id)).one()
        row.updated_at = utcnow() - timedelta(days=3)  # nothing happened for three days
    mine = console.socket(console.login("agent1001"))
    mine.get_received()
    checker(console).check()
    got = events(mine, "reminder")
    assert [(e["case_id"], e["kind"]) for e in got] == [(view.case_id, "no_follow_up")]


def test_an_unacknowledged_reminder_is_pushed_again_every_repeat_interval(console: Console) -> None:
    checker(console)  # the app's timer stopped; this one is checked by hand on its own clock
    clock = [1000.0]
    repeating = ReminderChecker(console.socketio, console.db, interval_s=0, lead_s=3600, repeat_s=600,
                                clock=lambda: clock[0])
    case_id = referred_case(console, due_in=timedelta(minutes=30))
    mine = console.socket(console.login("agent1001"))
    mine.get_received()
    assert [r.case_id for r in repeating.check()] == [case_id]
    assert [e["case_id"] for e in events(mine, "reminder")] == [case_id]
    clock[0] += 599
    repeating.check()
    assert events(mine, "reminder") == []  # not yet
    clock[0] += 1
    assert repeating.check() == []  # nothing new, but pushed again
    again = events(mine, "reminder")
    assert [(e["case_id"], e["kind"]) for e in again] == [(case_id, DUE_SOON)]
    repeating.acknowledge(str(again[0]["key"]), by="agent1001")
    mine.get_received()
    clock[0] += 6000
    repeating.check()
    assert events(mine, "reminder") == []  # acknowledged: never again


def test_the_lead_time_decides_which_deadlines_raise_a_reminder(console: Console) -> None:
    checker(console)
    referred_case(console, due_in=timedelta(hours=3))
    short = ReminderChecker(console.socketio, console.db, interval_s=0, lead_s=2 * 3600)
    long = ReminderChecker(console.socketio, console.db, interval_s=0, lead_s=4 * 3600)
    assert short.check() == []
    assert [r.kind for r in long.check()] == [DUE_SOON]
