"""Probe results: stored per run, the last one per hotline read back, bad results refused (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cases.db import Database
from cases.models.probes import ProbeRun
from cases.probes import InvalidProbeResult, ProbeInput, latest_probes, probe_history, record_probe

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _run(hotline: str = "service", up: bool = True, at: datetime = T0, **kw: object) -> ProbeInput:
    base = ProbeInput(hotline=hotline, number="4008001" if hotline == "service" else "4008002",
                      pbx="127.0.0.1:5060", up=up, stage="done" if up else "prompt",
                      reason="" if up else "no sound within 8 s of the answer", started_at=at, duration_s=3.25,
                      register_s=0.012, setup_s=0.2, first_audio_s=None if not up else 0.31, queue="service",
                      queue_s=0.4 if up else None, detail={"keys": [{"key": "1", "response_s": 0.5}]})
    return replace(base, **kw)  # type: ignore[arg-type]


def test_probe_runs_are_stored_and_the_last_per_hotline_read_back(db: Database) -> None:
    with db.session() as s:
        record_probe(s, _run("service", True, T0))
        record_probe(s, _run("claims", True, T0))
        last_service = record_probe(s, _run("service", False, T0 + timedelta(minutes=1)))
    with db.session() as s:
        latest = latest_probes(s)
        history = probe_history(s, "service")
        detail = s.scalars(select(ProbeRun.detail).where(ProbeRun.id == last_service.id)).one()
    assert [(p.hotline, p.up) for p in latest] == [("claims", True), ("service", False)]
    service = latest[1]
    assert service == last_service
    assert (service.stage, service.reason, service.first_audio_s) == ("prompt", "no sound within 8 s of the answer",
                                                                      None)
    assert service.started_at == T0 + timedelta(minutes=1) and service.started_at.tzinfo is not None
    assert (service.duration_s, service.register_s, service.setup_s) == (3.25, 0.012, 0.2)
    assert [p.up for p in history] == [False, True]
    assert detail == {"keys": [{"key": "1", "response_s": 0.5}]}


@pytest.mark.parametrize(("change", "why"), [
    ({"stage": "dialling"}, "unknown probe stage"),
    ({"stage": "prompt"}, "cannot stop at stage"),  # up but not done
    ({"started_at": datetime(2026, 11, 30, 12, 0)}, "timezone-aware"),
    ({"duration_s": float("nan")}, "not a time"),
    ({"hotline": ""}, "1-32 characters"),
    ({"detail": {"x": object()}}, "not JSON"),
])
def test_bad_probe_results_are_refused_and_nothing_is_stored(db: Database, change: dict[str, object],
                                                             why: str) -> None:
    with db.session() as s:
        record_probe(s, _run())
    with pytest.raises(InvalidProbeResult, match=why), db.session() as s:
        record_probe(s, _run(**change))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProbeRun)) == 1
