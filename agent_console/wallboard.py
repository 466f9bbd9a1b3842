"""The supervisors' wallboard: queues (waiting, longest wait, answered, abandoned, service level,
average handle time), agents (state, time in state, current call), live calls, alerts, recent
calls and the last `hotline probe` result per hotline; sent whole on connect (`wallboard`) and
afterwards as versioned deltas (`wallboard_delta`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from agent_console.agents import display_state
from agent_console.calls import CallInfo, CallMemory
from agent_console.config import ConsoleConfig
from cases.db import Database
from cases.probes import ProbeView, latest_probes
from cases.prompt_faults import PromptFaultView, recent_prompt_faults
from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    CallAnswered,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    DomainEvent,
    PbxConnection,
)
from telephony.live import LiveSnapshot, LiveView
from telephony.records import CallRecord

# The events that can change what the wallboard shows (IvrDigit and CallVariable cannot).
WALLBOARD_EVENTS = (
    CallStarted,
    CallQueued,
    CallLeftQueue,
    AgentRinging,
    AgentRingStopped,
    CallAnswered,
    CallEnded,
    AgentStatus,
    PbxConnection,
)

SECTIONS = ("queues", "agents", "live_calls", "alerts", "recent_calls", "probes", "prompt_faults")
_KEYS = {"queues": "queue", "agents": "agent", "live_calls": "linkedid", "alerts": "id", "recent_calls": "linkedid",
         "probes": "hotline", "prompt_faults": "prompt"}


def call_summary(record: CallRecord) -> dict[str, Any]:
    """The part of a call record an agent or supervisor reads in a list."""
    full = record.to_json_dict()
    keys = (
        "linkedid", "caller", "caller_name", "hotline", "digits", "queue", "outcome", "agent", "wait_s",
        "talk_s", "started_at", "answered_at", "ended_at", "waybill", "ivr_path",
    )
    return {key: full[key] for key in keys}


@dataclass(slots=True)
class _QueueTotals:
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    talk_s: float = 0.0
    talked: int = 0


class QueueStats:
    """Service level and average handle time per queue, from the calls that ended since start.

    Service level = answered within the threshold / (answered + abandoned in queue); a queue
    without such calls has none (null). Handle time is the talk time of answered calls.
    """

    def __init__(self, threshold_s: float) -> None:
        self.threshold_s = threshold_s
        self._totals: dict[str, _QueueTotals] = {}
        self._lock = threading.Lock()

    def observe(self, record: CallRecord) -> None:
        if not record.queue:
            return
        with self._lock:
            t = self._totals.setdefault(record.queue, _QueueTotals())
            if record.outcome == "answered":
                t.answered += 1
                if record.wait_s is not None and record.wait_s <= self.threshold_s:
                    t.answered_in_sl += 1
                if record.talk_s is not None:
                    t.talk_s += record.talk_s
                    t.talked += 1
            elif record.outcome == "abandoned_in_queue":
                t.abandoned += 1

    def of(self, queue: str) -> tuple[float | None, float | None]:
        """(service level 0..1 or None, average handle time s or None)."""
        with self._lock:
            t = self._totals.get(queue)
            if t is None:
                return None, None
            offered = t.answered + t.abandoned
            sl = t.answered_in_sl / offered if offered else None
            aht = t.talk_s / t.talked if t.talked else None
            return sl, aht


@dataclass(frozen=True, slots=True)
class WallboardSettings:
    service_level_s: float
    service_level_target: float
    long_wait_alert_s: float
    probe_stale_s: float = 900.0  # a hotline whose last probe is older raises an alert


def wallboard_settings(config: ConsoleConfig) -> WallboardSettings:
    return WallboardSettings(config.service_level_s, config.service_level_target, config.long_wait_alert_s,
                             config.probe_stale_s)


@dataclass(frozen=True, slots=True)
class HotlineHealth:
    """What the database tells of the hotlines' health: each hotline's last probe run and the prompts the PBX
    could not play lately (written by the IVR, which may run in another process)."""

    probes: tuple[ProbeView, ...] = ()
    prompt_faults: tuple[PromptFaultView, ...] = ()


def read_health(db: Database) -> HotlineHealth:
    """The hotlines' health (read-only session)."""
    with db.reading() as s:
        return HotlineHealth(latest_probes(s), recent_prompt_faults(s, datetime.now(UTC)))


def probe_stale(p: ProbeView, at: float, stale_s: float) -> bool:
    return at - p.started_at.timestamp() - p.duration_s > stale_s


def probe_rows(probes: tuple[ProbeView, ...], at: float, stale_s: float) -> list[dict[str, Any]]:
    return [
        {"hotline": p.hotline, "number": p.number, "up": p.up, "stage": p.stage, "reason": p.reason,
         "started_at": p.started_at.timestamp(), "duration_s": p.duration_s, "setup_s": p.setup_s,
         "first_audio_s": p.first_audio_s, "queue_s": p.queue_s, "stale": probe_stale(p, at, stale_s)}
        for p in sorted(probes, key=lambda p: p.hotline)
    ]


def wallboard_payload(
    snapshot: LiveSnapshot,
    recent: list[CallRecord],
    *,
    stats: QueueStats | None = None,
    live: list[CallInfo] | None = None,
    settings: WallboardSettings | None = None,
    pbx_down: tuple[str, ...] = (),
    probes: tuple[ProbeView, ...] = (),
    prompt_faults: tuple[PromptFaultView, ...] = (),
) -> dict[str, Any]:
    """The whole wallboard: {at, live_calls_count, queues[], agents[], live_calls[], alerts[], recent_calls[],
    probes[], prompt_faults[], settings}. An agent on a call has `call`: {caller, caller_name, hotline, queue, since}.
    Times are epoch seconds as of `at`; pages keep waits and times in state ticking.
    A hotline whose last probe failed (`probe_down`) or is older than `probe_stale_s` (`probe_stale`)
    raises an alert, and so does each prompt the PBX could not play lately (`prompt_missing`)."""
    settings = settings or WallboardSettings(20.0, 0.8, 60.0)
    at = snapshot.at or time.time()
    queues = []
    alerts: list[dict[str, Any]] = []
    for q in sorted(snapshot.queues, key=lambda q: q.queue):
        sl, aht = stats.of(q.queue) if stats is not None else (None, None)
        row = asdict(q)
        row["waiting_count"] = len(q.waiting)
        row["service_level"] = round(sl, 3) if sl is not None else None
        row["aht_s"] = round(aht, 1) if aht is not None else None
        queues.append(row)
        for w in q.waiting:
            if at - w.since >= settings.long_wait_alert_s:
                alerts.append({"id": f"long_wait:{w.linkedid}", "kind": "long_wait", "queue": q.queue,
                               "linkedid": w.linkedid, "caller": w.caller, "since": w.since})
        if sl is not None and sl < settings.service_level_target:
            alerts.append({"id": f"sla:{q.queue}", "kind": "sla", "queue": q.queue, "service_level": round(sl, 3),
                           "target": settings.service_level_target})
    for name in pbx_down:
        alerts.append({"id": f"pbx:{name}", "kind": "pbx_down", "pbx": name})
    probe_list = probe_rows(probes, at, settings.probe_stale_s)
    for row in probe_list:
        if not row["up"]:
            alerts.append({"id": f"probe_down:{row['hotline']}", "kind": "probe_down", "hotline": row["hotline"],
                           "stage": row["stage"], "reason": row["reason"], "since": row["started_at"]})
        if row["stale"]:
            alerts.append({"id": f"probe_stale:{row['hotline']}", "kind": "probe_stale", "hotline": row["hotline"],
                           "since": row["started_at"]})
    faults = [{"prompt": f.prompt, "hotline": f.hotline, "count": f.count, "first_at": f.first_at.timestamp(),
               "last_at": f.last_at.timestamp()} for f in prompt_faults]
    for f in faults:
        alerts.append({"id": f"prompt_missing:{f['prompt']}", "kind": "prompt_missing", "prompt": f["prompt"],
                       "hotline": f["hotline"], "count": f["count"], "since": f["last_at"]})
    calls = {c.linkedid: c for c in (live or [])}
    agents = []
    for a in sorted(snapshot.agents, key=lambda a: a.agent):
        row = asdict(a)
        talking = a.status == "busy"
        row["state"] = display_state(a.status, a.paused, a.pause_reason, talking, a.status == "ringing")
        info = calls.get(a.linkedid) if a.linkedid else None
        row["caller"] = info.caller if info else None
        # what a supervisor recognises the call by (the linkedid is only a key)
        row["call"] = ({"caller": info.caller, "caller_name": info.caller_name, "hotline": info.hotline,
                        "queue": info.queue, "since": info.answered_at or info.started_at} if info else None)
        agents.append(row)
    live_calls = [
        {"linkedid": c.linkedid, "caller": c.caller, "caller_name": c.caller_name, "hotline": c.hotline,
         "queue": c.queue, "in_queue": c.in_queue, "agent": c.agent, "started_at": c.started_at,
         "answered_at": c.answered_at}
        for c in (live or [])
    ]
    return {
        "at": at,
        "live_calls_count": snapshot.live_calls,
        "queues": queues,
        "agents": agents,
        "live_calls": live_calls,
        "alerts": alerts,
        "recent_calls": [call_summary(r) for r in recent],
        "probes": probe_list,
        "prompt_faults": faults,
        "settings": asdict(settings),
    }


def wallboard_delta(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """What changed from `old` to `new`: per section {upsert: [rows], remove: [keys]} (sections
    without change are left out), plus the scalars. Applying it to `old` gives `new`."""
    delta: dict[str, Any] = {"at": new["at"], "live_calls_count": new["live_calls_count"]}
    for section in SECTIONS:
        key = _KEYS[section]
        before = {row[key]: row for row in (old or {}).get(section, [])}
        after = {row[key]: row for row in new[section]}
        upsert = [row for k, row in after.items() if before.get(k) != row]
        remove = [k for k in before if k not in after]
        order_changed = list(before) != list(after)
        if old is None or upsert or remove or order_changed:  # after no board: every section, in full
            delta[section] = {"upsert": upsert, "remove": remove, "order": list(after)}
    return delta


def apply_wallboard_delta(board: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """`board` with `delta` (of `wallboard_delta`, with its `version`) applied: a new dict, `board` is
    left as it was. What the supervisor page does with a `wallboard_delta`."""
    new = dict(board)
    for section in SECTIONS:
        change = delta.get(section)
        if change is None:
            continue
        key = _KEYS[section]
        rows = {row[key]: row for row in board.get(section, [])}
        for k in change["remove"]:
            rows.pop(k, None)
        for row in change["upsert"]:
            rows[row[key]] = row
        new[section] = [rows[k] for k in change["order"] if k in rows]
    new["at"] = delta["at"]
    new["live_calls_count"] = delta["live_calls_count"]
    if "version" in delta:
        new["version"] = delta["version"]
    return new


class WallboardFeed:
    """One wallboard computed from the domain events: the whole board and versioned deltas, at most
    one delta per `interval_s` (the last change always goes out by `flush`).

    The event thread calls `observe` (after `calls` saw the event) and `flush`; `board` and
    `set_health` may be called from any thread. Used by the single-process console and, in role
    mode, by the listener, which publishes the board to the web processes."""

    def __init__(self, live: LiveView, calls: CallMemory, settings: WallboardSettings, interval_s: float) -> None:
        self._live = live
        self._calls = calls
        self.settings = settings
        self.interval_s = interval_s
        self.stats = QueueStats(settings.service_level_s)
        self._pbx_down: set[str] = set()
        self._health = HotlineHealth()
        self._health_mark: tuple[object, ...] = ()
        self._due = False
        self._last = 0.0
        self._lock = threading.Lock()
        self._version = 0
        self._sent: dict[str, Any] | None = None

    def observe(self, event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            self.stats.observe(event.record)
        elif isinstance(event, PbxConnection):
            if event.connected:
                self._pbx_down.discard(event.pbx)
            else:
                self._pbx_down.add(event.pbx)
        if isinstance(event, WALLBOARD_EVENTS):
            self._due = True

    def set_health(self, health: HotlineHealth) -> bool:
        """New probe results and prompt faults; True (and the board due) when a probe result or its staleness
        or a fault changed."""
        mark = (tuple((p.hotline, p.id, probe_stale(p, time.time(), self.settings.probe_stale_s))
                      for p in health.probes),
                tuple((f.prompt, f.count) for f in health.prompt_faults))
        if mark == self._health_mark:
            return False
        self._health, self._health_mark = health, mark
        self._due = True
        return True

    def forget_health(self) -> None:
        """The next `set_health` counts as a change (its push could not be queued)."""
        self._health_mark = ()

    def mark_due(self) -> None:
        self._due = True

    def wait_s(self, now: float | None = None) -> float | None:
        """Seconds until a due board may go out (0: now); None when nothing changed."""
        if not self._due:
            return None
        return max(0.0, self._last + self.interval_s - (time.monotonic() if now is None else now))

    def overdue(self) -> bool:
        """Events have kept coming for two intervals: send even though more are waiting."""
        return time.monotonic() - self._last > 2 * self.interval_s

    def flush(self) -> dict[str, Any] | None:
        """The delta since the last board (with its new `version`) if one is due, else None."""
        if not self._due:
            return None
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return None
        self._due = False
        self._last = now
        board = self._compute()
        with self._lock:
            delta = wallboard_delta(self._sent, board)
            self._version += 1
            self._sent = board
            delta["version"] = self._version
        return delta

    def skip(self) -> None:
        """Nobody watches: the due board is not computed (nor is a delta sent); the next `board()`
        computes afresh and the next delta after it names every section in full."""
        with self._lock:
            self._due = False
            self._sent = None

    def board(self) -> dict[str, Any]:
        """The whole wallboard as last sent (so its version matches the deltas that follow)."""
        with self._lock:
            if self._sent is None:
                self._sent = self._compute()
            return self._sent | {"version": self._version}

    def _compute(self) -> dict[str, Any]:
        return wallboard_payload(self._live.snapshot(), self._calls.recent(), stats=self.stats,
                                 live=self._calls.live(), settings=self.settings,
                                 pbx_down=tuple(sorted(self._pbx_down)), probes=self._health.probes,
                                 prompt_faults=self._health.prompt_faults)


WallboardListener = Callable[[str, dict[str, Any]], None]


class WallboardRelay(Protocol):
    """A wallboard computed elsewhere (role mode: by the listener, over Redis): the last whole board
    received, and each update as it comes: ("wallboard_delta", delta) or, after a gap, ("wallboard",
    the whole board)."""

    def board(self) -> dict[str, Any]: ...

    def subscribe(self, fn: WallboardListener) -> None: ...

    def unsubscribe(self, fn: WallboardListener) -> None: ...
