"""Probe results: each `hotline probe` run (a real SIP test call to a hotline) stored, and the
last one per hotline for the supervisors' wallboard."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.errors import InvalidInput
from cases.models.probes import PROBE_STAGES, ProbeRun


class InvalidProbeResult(InvalidInput):
    """A probe result cannot be stored (unknown stage, naive time, a number that is no number...)."""


@dataclass(frozen=True, slots=True)
class ProbeInput:
    """One probe run as `ivr.probe` reports it."""

    hotline: str  # service | claims | the number when it is no configured hotline
    number: str
    pbx: str
    up: bool
    stage: str  # register | invite | prompt | key | queue | done | error (the probe could not run)
    reason: str
    started_at: datetime  # aware
    duration_s: float
    register_s: float | None = None
    setup_s: float | None = None
    first_audio_s: float | None = None
    queue: str | None = None
    queue_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # the whole result, JSON-able


@dataclass(frozen=True, slots=True)
class ProbeView:
    id: int
    hotline: str
    number: str
    pbx: str
    up: bool
    stage: str
    reason: str
    started_at: datetime
    duration_s: float
    register_s: float | None
    setup_s: float | None
    first_audio_s: float | None
    queue: str | None
    queue_s: float | None


def _view(r: ProbeRun) -> ProbeView:
    return ProbeView(r.id, r.hotline, r.number, r.pbx, r.up, r.stage, r.reason, r.started_at, r.duration_s,
                     r.register_s, r.setup_s, r.first_audio_s, r.queue, r.queue_s)


def _check(p: ProbeInput) -> None:
    if not p.hotline or len(p.hotline) > 32:
        raise InvalidProbeResult(f"probe hotline {p.hotline!r} must be 1-32 characters")
    if not p.number or len(p.number) > 32:
        raise InvalidProbeResult(f"probe number {p.number!r} must be 1-32 characters")
    if len(p.pbx) > 200:
        raise InvalidProbeResult("probe PBX address is longer than 200 characters")
    if p.queue is not None and len(p.queue) > 64:
        raise InvalidProbeResult("probe queue name is longer than 64 characters")
    if p.stage not in PROBE_STAGES:
        raise InvalidProbeResult(f"unknown probe stage {p.stage!r}; known: {', '.join(PROBE_STAGES)}")
    if p.up != (p.stage == "done"):
        raise InvalidProbeResult(f"a probe that is {'up' if p.up else 'down'} cannot stop at stage {p.stage!r}")
    if p.started_at.tzinfo is None:
        raise InvalidProbeResult("probe start time must be timezone-aware")
    for name in ("duration_s", "register_s", "setup_s", "first_audio_s", "queue_s"):
        v = getattr(p, name)
        if v is not None and (not math.isfinite(v) or v < 0):
            raise InvalidProbeResult(f"probe {name} {v!r} is not a time in seconds")
    try:
        json.dumps(p.detail)
    except (TypeError, ValueError) as exc:
        raise InvalidProbeResult(f"probe detail is not JSON: {exc}") from None


def record_probe(s: Session, p: ProbeInput) -> ProbeView:
    """Store one probe run."""
    _check(p)
    row = ProbeRun(hotline=p.hotline, number=p.number, pbx=p.pbx, up=p.up, stage=p.stage, reason=p.reason,
                   started_at=p.started_at, duration_s=p.duration_s, register_s=p.register_s, setup_s=p.setup_s,
                   first_audio_s=p.first_audio_s, queue=p.queue, queue_s=p.queue_s, detail=dict(p.detail))
    s.add(row)
    s.flush()
    return _view(row)


def latest_probes(s: Session) -> tuple[ProbeView, ...]:
    """The last probe run of every hotline ever probed, by hotline name."""
    last = (select(ProbeRun.hotline, func.max(ProbeRun.id).label("id")).group_by(ProbeRun.hotline)).subquery()
    rows = s.scalars(select(ProbeRun).join(last, ProbeRun.id == last.c.id).order_by(ProbeRun.hotline)).all()
    return tuple(_view(r) for r in rows)


def probe_history(s: Session, hotline: str, limit: int = 50) -> tuple[ProbeView, ...]:
    """A hotline's probe runs, newest first."""
    rows = s.scalars(select(ProbeRun).where(ProbeRun.hotline == hotline).order_by(ProbeRun.id.desc())
                     .limit(limit)).all()
    return tuple(_view(r) for r in rows)
