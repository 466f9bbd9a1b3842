"""create_case / update_case / link_call / get_case / list_cases / cases_for_call, and the audit log."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from cases.audit import audit_for
from cases.call_records import record_call
from cases.case_records import (
    cases_for_call,
    create_case,
    find_case_by_number,
    get_case,
    link_call,
    list_cases,
    update_case,
)
from cases.customers import create_customer
from cases.db import Database
from cases.errors import CaseNotFound, InvalidCaseInput
from cases.models.audit import AuditEntry
from cases.models.calls import Call
from cases.models.case import Case
from cases.shipment_records import create_shipment
from cases.transcript_records import attach_transcript
from cases.views import UNSET, CallView, CaseInput, CaseUpdate, CaseView, ShipmentEventInput, ShipmentInput
from telephony.records import CallRecord

WAYBILL = "800012345678"


@pytest.fixture
def customer_id(db: Database) -> int:
    with db.session() as s:
        c = create_customer(s, "张伟", "shipper", ["49305551001"])
        create_shipment(
            s,
            ShipmentInput(
                waybill=WAYBILL,
                origin="上海",
                destination="郑州",
                shipper_customer_id=c.id,
                events=(ShipmentEventInput(at=datetime(2026, 11, 28, tzinfo=UTC), status="已揽收", place="上海"),),
            ),
        )
        return c.id


def _complaint(customer_id: int | None = None, **kw: object) -> CaseInput:
    base = CaseInput(kind="complaint", subject="货物延误", description="客户要求今天送达", customer_id=customer_id)
    return replace(base, **kw)  # type: ignore[arg-type]


def _audit(db: Database, case_id: int) -> list[tuple[str, str, dict[str, object]]]:
    with db.session() as s:
        return [(a.who, a.what, json.loads(a.detail_json)) for a in audit_for(s, "case", case_id)]


# ---------------------------------------------------------------- create


def test_create_case_stores_everything_and_audits(db: Database, customer_id: int) -> None:
    due = datetime(2026, 12, 1, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    with db.session() as s:
        created = create_case(
            s,
            _complaint(customer_id, waybill=WAYBILL, priority="high", follow_up_due=due, assigned_to="agent1002"),
            by="agent1001",
        )
    with db.session() as s:
        case = get_case(s, created.id)
    assert re.fullmatch(r"C\d{8}-0001", case.number)
    assert (case.kind, case.status, case.priority) == ("complaint", "open", "high")
    assert (case.subject, case.description) == ("货物延误", "客户要求今天送达")
    assert case.customer is not None and case.customer.name == "张伟"
    assert case.shipment is not None and case.shipment.waybill == WAYBILL
    assert case.shipment.events[0].status == "已揽收"
    assert (case.created_by, case.assigned_to, case.department) == ("agent1001", "agent1002", None)
    assert case.follow_up_due == due and case.follow_up_due.tzinfo is not None
    assert case.created_at.tzinfo is not None and case.created_at == case.updated_at
    assert case == created
    [(who, what, detail)] = _audit(db, created.id)
    assert (who, what) == ("agent1001", "case.create")
    assert detail["number"] == case.number and detail["waybill"] == WAYBILL and detail["priority"] == "high"


def test_case_numbers_count_up_per_day(db: Database) -> None:
    with db.session() as s:
        numbers = [create_case(s, _complaint(subject=f"第{i}个"), by="agent1001").number for i in range(3)]
    with db.session() as s:
        numbers.append(create_case(s, _complaint(), by="agent1001").number)
    day = numbers[0][1:9]
    assert numbers == [f"C{day}-000{i}" for i in range(1, 5)]
    china_day = datetime.now(timezone(timedelta(hours=8))).strftime("%Y%m%d")
    assert day == china_day


def test_case_numbers_are_not_reused_after_a_rollback(db: Database) -> None:
    with db.session() as s:
        first = create_case(s, _complaint(), by="agent1001").number
    with pytest.raises(RuntimeError), db.session() as s:
        create_case(s, _complaint(), by="agent1001")
        raise RuntimeError("agent closed the form")
    with db.session() as s:
        second = create_case(s, _complaint(), by="agent1001").number
    assert int(second[-4:]) == int(first[-4:]) + 1  # the rolled-back number is free again


def test_referred_case_needs_department_and_gets_follow_up(db: Database) -> None:
    with db.session() as s:
        with pytest.raises(InvalidCaseInput, match="department"):
            create_case(s, _complaint(status="referred"), by="agent1001")
        case = create_case(s, _complaint(status="referred", department="branch"), by="agent1001")
    assert case.status == "referred" and case.department == "branch"
    assert case.follow_up_due is not None
    assert timedelta(hours=23) < case.follow_up_due - case.created_at <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "gossip"}, "unknown case kind 'gossip'; expected one of: inquiry, tracking, complaint"),
        ({"status": "lost"}, "unknown case status 'lost'"),
        ({"priority": "asap"}, "unknown priority 'asap'"),
        ({"department": "canteen"}, "unknown department 'canteen'; expected one of: branch, market_area"),
        ({"subject": "   "}, "subject is required"),
        ({"subject": "长" * 201}, "subject is too long"),
        ({"customer_id": 999_999}, "customer 999999 does not exist"),
        ({"waybill": "12-34"}, "10-14 digits"),
        ({"waybill": "800000000001"}, "no shipment with waybill 800000000001"),
        ({"follow_up_due": datetime(2026, 12, 1, 9, 0)}, "timezone-aware"),
        ({"assigned_to": "bad name!"}, "not a valid username"),
        ({"linkedid": "   "}, "linkedid"),
    ],
)
def test_create_case_rejects_invalid_input(
    db: Database, customer_id: int, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidCaseInput, match=re.escape(message)), db.session() as s:
        create_case(s, replace(_complaint(customer_id), **change), by="agent1001")  # type: ignore[arg-type]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_create_case_rejects_empty_author(db: Database) -> None:
    with db.session() as s, pytest.raises(InvalidCaseInput, match="created_by"):
        create_case(s, _complaint(), by="")


def test_messages_are_one_line(db: Database) -> None:
    with db.session() as s, pytest.raises(InvalidCaseInput) as err:
        create_case(s, _complaint(kind="x\ny"), by="agent1001")
    assert "\n" not in str(err.value).replace("\\n", "")


# ---------------------------------------------------------------- calls on cases


def test_case_links_call_and_takes_its_customer(db: Database, customer_id: int) -> None:
    with db.session() as s:
        record_call(
            s,
            CallRecord(
                linkedid="L1", caller="49305551001", outcome="answered", recording="/rec/L1.wav", started_at=1.0
            ),
        )
        attach_transcript(
            s,
            "L1",
            engine="vosk",
            model="vosk-model-cn",
            speaker="mixed",
            text="我的货到哪了",
            words_json="[]",
            duration_s=3.5,
        )
        case = create_case(s, _complaint(linkedid="L1"), by="agent1001")
    with db.session() as s:
        full = get_case(s, case.id)
        for_call = cases_for_call(s, "L1")
    assert full.customer is not None and full.customer.id == customer_id
    [linked] = full.calls
    assert linked.call.linkedid == "L1"
    assert linked.call.recording == "/rec/L1.wav"
    assert [t.text for t in linked.transcripts] == ["我的货到哪了"]
    assert [c.number for c in for_call] == [case.number]


def test_case_opened_during_the_call_is_filled_in_when_the_call_ends(db: Database, customer_id: int) -> None:
    with db.session() as s:
        case = create_case(s, _complaint(linkedid="live.7"), by="agent1001")
    assert case.calls[0].call.outcome == "pending"
    assert case.customer is None
    with db.session() as s:
        record_call(s, CallRecord(linkedid="live.7", caller="49305551001", outcome="answered", talk_s=42.0))
    with db.session() as s:
        full = get_case(s, case.id)
        assert s.scalar(select(func.count()).select_from(Call)) == 1
    [linked] = full.calls
    assert (linked.call.outcome, linked.call.talk_s, linked.call.customer_id) == ("answered", 42.0, customer_id)


def test_link_call_adds_calls_once(db: Database) -> None:
    with db.session() as s:
        for lid in ("a", "b"):
            record_call(s, CallRecord(linkedid=lid, caller="13800138000", outcome="answered", started_at=100.0))
        case = create_case(s, _complaint(linkedid="a"), by="agent1001")
        link_call(s, case.id, "b", by="agent1002")
        view = link_call(s, case.id, "b", by="agent1002")  # again: no duplicate, no audit
        other = create_case(s, _complaint(subject="另一件", linkedid="b"), by="agent1002")
    assert [c.call.linkedid for c in view.calls] == ["a", "b"]
    with db.session() as s:
        assert [c.number for c in cases_for_call(s, "b")] == [case.number, other.number]
        assert cases_for_call(s, "nope") == ()
        with pytest.raises(CaseNotFound):
            link_call(s, 424242, "a", by="agent1001")
    assert [what for _, what, _ in _audit(db, case.id)] == ["case.create", "case.link_call"]


# ---------------------------------------------------------------- update


@pytest.fixture
def case(db: Database, customer_id: int) -> CaseView:
    with db.session() as s:
        return create_case(s, _complaint(customer_id, waybill=WAYBILL), by="agent1001")


def test_update_case_changes_fields_appends_note_and_audits(db: Database, case: CaseView) -> None:
    due = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with db.session() as s:
        updated = update_case(
            s,
            case.id,
            CaseUpdate(
                status="referred",
                department="branch",
                follow_up_due=due,
                assigned_to="agent1002",
                note="已转郑州分公司",
            ),
            by="agent1001",
        )
    with db.session() as s:
        stored = get_case(s, case.id)
    assert stored == updated
    assert (stored.status, stored.department, stored.assigned_to, stored.follow_up_due) == (
        "referred",
        "branch",
        "agent1002",
        due,
    )
    assert stored.description.startswith("客户要求今天送达\n\n[")
    assert stored.description.endswith("agent1001] 已转郑州分公司")
    assert stored.updated_at > case.updated_at
    assert stored.number == case.number and stored.created_at == case.created_at
    (_, _, detail) = _audit(db, case.id)[-1]
    assert detail["changes"] == {
        "status": {"from": "open", "to": "referred"},
        "department": {"from": None, "to": "branch"},
        "assigned_to": {"from": None, "to": "agent1002"},
        "follow_up_due": {"from": None, "to": due.isoformat()},
    }
    assert detail["note"] == "已转郑州分公司"


def test_case_lifecycle_and_clearing_fields(db: Database, case: CaseView) -> None:
    steps = [
        CaseUpdate(status="in_progress", assigned_to="agent1002"),
        CaseUpdate(status="referred", department="warehouse"),  # follow-up set automatically
        CaseUpdate(status="in_progress", note="仓管已回复", follow_up_due=None),
        CaseUpdate(status="resolved", assigned_to=None),
        CaseUpdate(status="in_progress"),  # reopened
        CaseUpdate(status="closed", note="客户确认"),
        CaseUpdate(note="结案后补记"),  # notes are still welcome
    ]
    with db.session() as s:
        views = [update_case(s, case.id, step, by="supervisor") for step in steps]
    assert [v.status for v in views] == [
        "in_progress",
        "referred",
        "in_progress",
        "resolved",
        "in_progress",
        "closed",
        "closed",
    ]
    assert views[1].follow_up_due is not None and views[2].follow_up_due is None
    assert views[0].assigned_to == "agent1002" and views[3].assigned_to is None
    assert views[-1].department == "warehouse"  # kept as history
    assert views[-1].description.count("[") == 3
    assert [what for _, what, _ in _audit(db, case.id)] == ["case.create"] + ["case.update"] * 7


def test_update_without_changes_writes_no_audit(db: Database, case: CaseView) -> None:
    with db.session() as s:
        view = update_case(s, case.id, CaseUpdate(status="open", department=UNSET), by="agent1001")
    assert view == case
    assert len(_audit(db, case.id)) == 1


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (CaseUpdate(status="done"), "unknown case status 'done'"),
        (CaseUpdate(status="referred"), "referring needs a department"),
        (CaseUpdate(department="canteen"), "unknown department 'canteen'"),
        (CaseUpdate(priority="asap"), "unknown priority"),
        (CaseUpdate(assigned_to="x y"), "not a valid username"),
        (CaseUpdate(follow_up_due=datetime(2026, 12, 1)), "timezone-aware"),
        (CaseUpdate(status="in_progress", note="长" * 10_001), "note is too long"),
    ],
)
def test_invalid_update_is_rejected_and_changes_nothing(
    db: Database, case: CaseView, update: CaseUpdate, message: str
) -> None:
    with db.session() as s:
        with pytest.raises(InvalidCaseInput, match=re.escape(message)):
            update_case(s, case.id, update, by="agent1001")
        assert get_case(s, case.id) == case  # not even the session's copy changed
    with db.session() as s:
        assert get_case(s, case.id) == case
    assert len(_audit(db, case.id)) == 1


def test_closed_case_is_final(db: Database, case: CaseView) -> None:
    with db.session() as s:
        closed = update_case(s, case.id, CaseUpdate(status="closed"), by="supervisor")
    for update, message in [
        (CaseUpdate(status="in_progress"), "cannot go from closed to in_progress; allowed: none"),
        (CaseUpdate(assigned_to="agent1002"), "is closed: only notes"),
        (CaseUpdate(priority="urgent"), "is closed: only notes"),
    ]:
        with pytest.raises(InvalidCaseInput, match=re.escape(message)), db.session() as s:
            update_case(s, case.id, update, by="supervisor")
    with db.session() as s:
        assert get_case(s, case.id) == closed


def test_invalid_transition_lists_the_allowed_ones(db: Database, case: CaseView) -> None:
    with db.session() as s:
        update_case(s, case.id, CaseUpdate(status="resolved"), by="agent1001")
        with pytest.raises(InvalidCaseInput, match="from resolved to referred; allowed: closed, in_progress"):
            update_case(s, case.id, CaseUpdate(status="referred", department="branch"), by="agent1001")


def test_update_missing_case(db: Database) -> None:
    with db.session() as s, pytest.raises(CaseNotFound, match="case 31337 does not exist"):
        update_case(s, 31337, CaseUpdate(note="x"), by="agent1001")
    with db.session() as s, pytest.raises(CaseNotFound):
        get_case(s, 31337)


# ---------------------------------------------------------------- list


def test_list_cases_filters_and_orders(db: Database) -> None:
    with db.session() as s:
        create_case(s, _complaint(subject="a"), by="agent1001")
        b = create_case(s, _complaint(subject="b", kind="inquiry"), by="agent1001")
        c = create_case(s, _complaint(subject="c"), by="agent1001")
        update_case(s, c.id, CaseUpdate(status="resolved"), by="agent1001")
    with db.session() as s:
        assert [x.subject for x in list_cases(s)] == ["c", "b", "a"]
        assert [x.subject for x in list_cases(s, status="open")] == ["b", "a"]
        assert [x.subject for x in list_cases(s, kind="complaint")] == ["c", "a"]
        assert [x.subject for x in list_cases(s, status="open", kind="complaint")] == ["a"]
        assert [x.id for x in list_cases(s, limit=1)] == [c.id]
        assert list_cases(s, status="closed") == ()
        assert b.number in {x.number for x in list_cases(s)}
        with pytest.raises(InvalidCaseInput, match="unknown case status"):
            list_cases(s, status="nope")
        with pytest.raises(InvalidCaseInput, match="limit"):
            list_cases(s, limit=0)


def test_audit_rows_are_timestamped_utc(db: Database, case: CaseView) -> None:
    with db.session() as s:
        entries = s.scalars(select(AuditEntry)).all()
        assert len(entries) == 1
        assert entries[0].at.tzinfo is not None
        assert abs(entries[0].at - datetime.now(UTC)) < timedelta(minutes=1)
        assert entries[0].entity_id == str(case.id)


def test_concurrent_case_creation_gets_distinct_numbers(db: Database, customer_id: int) -> None:
    workers, per_worker = 4, 5
    barrier = threading.Barrier(workers)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_worker):
                with db.session() as s:
                    number = create_case(
                        s, _complaint(customer_id, subject=f"并发 {n}-{i}", waybill=WAYBILL), by=f"agent100{n}"
                    ).number
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(numbers) == len(set(numbers)) == workers * per_worker
    assert sorted(int(n[-4:]) for n in numbers) == list(range(1, workers * per_worker + 1))


def test_call_recorded_while_a_case_for_it_is_being_saved(db: Database, customer_id: int) -> None:
    """The console links a live call to a new case while telephony records the call's end."""
    recorded: list[object] = []

    def hang_up() -> None:
        try:
            with db.session() as s:
                recorded.append(
                    record_call(s, CallRecord(linkedid="race.1", caller="49305551001", outcome="answered"))
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            recorded.append(exc)

    with db.session() as s:
        case = create_case(s, _complaint(linkedid="race.1"), by="agent1001")
        telephony = threading.Thread(target=hang_up)
        telephony.start()
        telephony.join(timeout=0.5)  # it must wait for this transaction, not fail or duplicate the call
        assert telephony.is_alive() or isinstance(recorded[0], CallView), recorded
    telephony.join(timeout=10)
    assert not telephony.is_alive()
    assert [type(r).__name__ for r in recorded] == ["CallView"]
    with db.session() as s:
        full = get_case(s, case.id)
        assert s.scalar(select(func.count()).select_from(Call)) == 1
    [linked] = full.calls
    assert (linked.call.outcome, linked.call.customer_id) == ("answered", customer_id)


def test_a_case_is_found_by_its_number_however_old(db: Database) -> None:
    """The phone menu's claim status looked at the newest 1,000 claims only: an older claim's number was
    'not found'. The number is looked up itself now."""
    with db.session() as s:
        old = create_case(s, CaseInput(kind="claim", subject="旧理赔"), "tester")
        newer = [Case(number=f"C20991231-{n:04d}", kind="claim", status="open", subject="新理赔", description="",
                      priority="normal", created_by="tester", created_at=old.created_at + timedelta(minutes=n + 1))
                 for n in range(1001)]
        s.add_all(newer)
    with db.session() as s:
        found = find_case_by_number(s, old.number, "claim")
        assert found is not None and found.id == old.id
        assert find_case_by_number(s, old.number, "complaint") is None
        assert find_case_by_number(s, "C20000101-0001") is None
