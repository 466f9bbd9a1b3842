"""Prompts the PBX could not play, counted per prompt for /status and the wallboard (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from cases.db import Database
from cases.prompt_faults import InvalidPromptFault, recent_prompt_faults, record_prompt_fault

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_faults_count_per_prompt_and_keep_the_first_and_last_time(db: Database) -> None:
    with db.session() as s:
        record_prompt_fault(s, "hotline/zh/service-menu", "service", T0)
        record_prompt_fault(s, "hotline/zh/claims-menu", "claims", T0 + timedelta(minutes=1))
    with db.session() as s:
        again = record_prompt_fault(s, "hotline/zh/service-menu", "claims", T0 + timedelta(minutes=5))
    assert (again.count, again.hotline, again.first_at, again.last_at) == (2, "claims", T0, T0 + timedelta(minutes=5))
    with db.reading() as s:
        faults = recent_prompt_faults(s, T0 + timedelta(hours=1))
    assert [(f.prompt, f.count) for f in faults] == [("hotline/zh/service-menu", 2), ("hotline/zh/claims-menu", 1)]


def test_a_fault_not_seen_for_a_day_is_no_longer_recent(db: Database) -> None:
    with db.session() as s:
        record_prompt_fault(s, "hotline/zh/goodbye", "service", T0)
    with db.reading() as s:
        assert [f.prompt for f in recent_prompt_faults(s, T0 + timedelta(hours=23))] == ["hotline/zh/goodbye"]
        assert recent_prompt_faults(s, T0 + timedelta(hours=25)) == ()


def test_threads_missing_the_same_new_prompt_at_once_all_count(db: Database) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def miss() -> None:
        try:
            start.wait()
            with db.session() as s:
                record_prompt_fault(s, "hotline/zh/enter-waybill", "service", T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=miss) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.reading() as s:
        [fault] = recent_prompt_faults(s, T0)
    assert fault.count == 4


@pytest.mark.parametrize(("prompt", "at", "message"), [
    ("", T0, "1 to 200 characters"), ("x" * 201, T0, "1 to 200 characters"),
    ("hotline/zh/goodbye", T0.replace(tzinfo=None), "timezone-aware"),
])
def test_bad_faults_are_refused(db: Database, prompt: str, at: datetime, message: str) -> None:
    with db.session() as s, pytest.raises(InvalidPromptFault, match=message):
        record_prompt_fault(s, prompt, "service", at)
