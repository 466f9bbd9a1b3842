"""record_call: idempotent upsert by linkedid, every CallRecord field stored, customer linking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from cases.call_records import get_call, record_call
from cases.caller_context import caller_context
from cases.customers import create_customer
from cases.db import Database
from cases.errors import InvalidCallRecord, InvalidCaseInput
from cases.models.calls import Call
from cases.phones import normalize_phone, phones_match
from telephony.records import CallRecord

T0 = 1_796_000_000.25  # 2026-11-30 (UTC), with a fraction


def _record(linkedid: str = "1764490000.11", caller: str = "49305551001", **kw: object) -> CallRecord:
    fields: dict[str, object] = {
        "caller_name": "张伟",
        "dialed": "4000",
        "hotline": "service",
        "digits": "1800012345678#",
        "queue": "service",
        "outcome": "answered",
        "agent": "agent1001",
        "agents": ["agent1001"],
        "rang": ["agent1002", "agent1001"],
        "hangup_by": "caller",
        "wait_s": 12.5,
        "talk_s": 95.0,
        "recording": "/var/spool/asterisk/monitor/1764490000.11.wav",
        "started_at": T0,
        "answered_at": T0 + 20,
        "ended_at": T0 + 115,
        "waybill": "800012345678",
        "reconciled": False,
        "ivr_path": "menu=1:tracking>waybill=800012345678>status=运输中>menu=0:agent>agent=service",
    }
    fields.update(kw)
    return CallRecord(linkedid=linkedid, caller=caller, **fields)  # type: ignore[arg-type]


def test_record_call_stores_every_field(db: Database) -> None:
    with db.session() as s:
        record_call(s, _record())
    with db.session() as s:
        (view,) = [v for v in caller_context(s, "49305551001").previous_calls]
    assert view.linkedid == "1764490000.11"
    assert (view.caller, view.caller_name, view.dialed, view.hotline) == ("49305551001", "张伟", "4000", "service")
    assert (view.digits, view.queue, view.outcome, view.agent) == ("1800012345678#", "service", "answered", "agent1001")
    assert view.agents == ("agent1001",)
    assert view.rang == ("agent1002", "agent1001")
    assert (view.hangup_by, view.wait_s, view.talk_s) == ("caller", 12.5, 95.0)
    assert view.recording == "/var/spool/asterisk/monitor/1764490000.11.wav"
    assert view.started_at == datetime.fromtimestamp(T0, tz=UTC)
    assert view.answered_at == datetime.fromtimestamp(T0 + 20, tz=UTC)
    assert view.ended_at == datetime.fromtimestamp(T0 + 115, tz=UTC)
    assert view.started_at is not None and view.started_at.tzinfo is not None
    assert view.waybill == "800012345678"
    assert view.reconciled is False
    assert view.ivr_path == "menu=1:tracking>waybill=800012345678>status=运输中>menu=0:agent>agent=service"
    assert view.customer_id is None  # no customers exist


def test_replaying_a_call_keeps_one_row_and_updates_it(db: Database) -> None:
    with db.session() as s:
        first = record_call(s, _record(outcome="interrupted", talk_s=None, reconciled=False))
    with db.session() as s:
        second = record_call(s, _record(outcome="answered", talk_s=95.0, reconciled=True))
    with db.session() as s:
        third = record_call(s, _record(outcome="answered", talk_s=95.0, reconciled=True))
        rows = s.scalars(select(Call)).all()
    assert len(rows) == 1
    assert first.id == second.id == third.id
    assert (rows[0].outcome, rows[0].talk_s, rows[0].reconciled) == ("answered", 95.0, True)
    assert second.outcome == "answered"


def test_a_long_ivr_path_is_stored_whole_and_a_replay_without_one_clears_it(db: Database) -> None:
    path = ">".join(f"menu:invalid={n % 10}" for n in range(400))  # ~5,600 characters: no length limit
    with db.session() as s:
        record_call(s, _record("p.1", ivr_path=path))
    with db.session() as s:
        assert s.scalars(select(Call.ivr_path).where(Call.linkedid == "p.1")).one() == path
        view = record_call(s, _record("p.1", ivr_path=None))
    assert view.ivr_path is None


def test_distinct_linkedids_are_distinct_calls(db: Database) -> None:
    with db.session() as s:
        record_call(s, _record("a.1"))
        record_call(s, _record("a.2"))
        assert s.scalar(select(func.count()).select_from(Call)) == 2


def test_call_links_customer_by_exact_phone(db: Database) -> None:
    with db.session() as s:
        zhang = create_customer(s, "张伟", "shipper", ["49305551001", "138 0013 8001"])
        other = create_customer(s, "李娜", "consignee", ["49305551002"])
        by_first = record_call(s, _record("c.1", caller="49305551001"))
        by_second = record_call(s, _record("c.2", caller="13800138001"))
        by_other = record_call(s, _record("c.3", caller="49305551002"))
    assert by_first.customer_id == zhang.id
    assert by_first.customer_name == "张伟"
    assert by_second.customer_id == zhang.id
    assert by_other.customer_id == other.id


@pytest.mark.parametrize(
    ("stored", "caller"),
    [
        ("13800138001", "+86 138-0013-8001"),  # country code in front
        ("8613800138001", "13800138001"),  # stored with country code, caller without
        ("01055551001", "+86 10 5555 1001"),  # trunk 0 vs country code
        ("02112345678", "12345678"),  # caller ID without area code: 8 digits are enough
        ("49305551001", "0049 30 5551001"),  # international 00 prefix
    ],
)
def test_call_links_customer_by_suffix(db: Database, stored: str, caller: str) -> None:
    with db.session() as s:
        customer = create_customer(s, "客户", "shipper", [stored])
        view = record_call(s, _record("s.1", caller=caller))
    assert view.customer_id == customer.id


@pytest.mark.parametrize(
    ("stored", "caller"),
    [
        ("02112345678", "01012345678"),  # same local number, other city
        ("13800138001", "1234"),  # internal extension
        ("13800138001", "138001"),  # too short for a suffix match
        ("13800138001", "13800138002"),
        ("13800138001", ""),  # anonymous
    ],
)
def test_call_does_not_link_a_different_phone(db: Database, stored: str, caller: str) -> None:
    with db.session() as s:
        create_customer(s, "客户", "shipper", [stored])
        view = record_call(s, _record("n.1", caller=caller))
    assert view.customer_id is None


def test_ambiguous_suffix_links_nobody(db: Database) -> None:
    with db.session() as s:
        create_customer(s, "甲", "shipper", ["8612345678"])
        create_customer(s, "乙", "shipper", ["9912345678"])
        view = record_call(s, _record("amb.1", caller="12345678"))
    assert view.customer_id is None


def test_exact_match_beats_suffix_match(db: Database) -> None:
    with db.session() as s:
        create_customer(s, "长号", "shipper", ["8613800138001"])
        exact = create_customer(s, "短号", "consignee", ["13800138001"])
        view = record_call(s, _record("ex.1", caller="13800138001"))
    assert view.customer_id == exact.id


def test_replay_relinks_customer_created_after_the_call(db: Database) -> None:
    with db.session() as s:
        assert record_call(s, _record("late.1", caller="49305551006")).customer_id is None
    with db.session() as s:
        chen = create_customer(s, "陈静", "shipper", ["49305551006"])
    with db.session() as s:
        assert record_call(s, _record("late.1", caller="49305551006")).customer_id == chen.id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"linkedid": ""}, "no linkedid"),
        ({"linkedid": "x" * 65}, "longer than 64"),
        ({"started_at": float("nan")}, "finite"),
        ({"wait_s": float("inf")}, "finite"),
        ({"caller": "1" * 65}, "caller is longer"),
    ],
)
def test_invalid_records_are_refused(db: Database, change: dict[str, object], message: str) -> None:
    rec = _record(**{k: v for k, v in change.items() if k != "linkedid"})
    if "linkedid" in change:
        rec.linkedid = str(change["linkedid"])
    with pytest.raises(InvalidCallRecord, match=message):
        with db.session() as s:
            record_call(s, rec)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 0


def test_customer_phone_must_be_unique(db: Database) -> None:
    with db.session() as s:
        create_customer(s, "甲", "shipper", ["49305551001"])
        with pytest.raises(InvalidCaseInput, match="already belongs"):
            create_customer(s, "乙", "shipper", ["+49 30 555 1001"])


# ---------------------------------------------------------------- phone matching, pure

digits = st.text(alphabet="0123456789", min_size=1, max_size=16)


@given(digits, digits)
def test_phones_match_is_symmetric(a: str, b: str) -> None:
    assert phones_match(a, b) == phones_match(b, a)


@given(
    st.text(alphabet="123456789", min_size=1, max_size=1).flatmap(
        lambda first: st.text(alphabet="0123456789", min_size=7, max_size=13).map(lambda rest: first + rest)
    ),
    st.text(alphabet="0123456789", max_size=4),
)
def test_a_number_matches_itself_with_any_prefix_and_formatting(number: str, prefix: str) -> None:
    spaced = " ".join(number[i : i + 3] for i in range(0, len(number), 3))
    assert phones_match(number, "+" + prefix + spaced)
    assert normalize_phone("(" + spaced + ")-") == number


def test_normalize_phone_keeps_ascii_digits_only() -> None:
    assert normalize_phone("+86 (138) 0013-8000 ext") == "8613800138000"
    assert normalize_phone("１３８") == ""  # full-width digits are not ASCII digits
    assert normalize_phone(None) == ""


def test_non_hotline_call_stores_no_hotline(db: Database) -> None:
    with db.session() as s:
        record_call(s, CallRecord(linkedid="int.1", caller="1001", outcome="internal", hotline=None))
        record_call(s, CallRecord(linkedid="int.2", caller="1002", outcome="internal", hotline=""))
    with db.session() as s:
        one, two = get_call(s, "int.1"), get_call(s, "int.2")
        assert get_call(s, "int.3") is None
    assert one is not None and two is not None
    assert (one.hotline, two.hotline) == (None, None)
    assert (one.outcome, one.started_at, one.agents) == ("internal", None, ())
