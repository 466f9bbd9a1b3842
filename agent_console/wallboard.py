"""The supervisors' wallboard: the live snapshot plus recent calls, as the JSON the page draws."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    CallAnswered,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    PbxConnection,
)
from telephony.live import LiveSnapshot
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


def call_summary(record: CallRecord) -> dict[str, Any]:
    """The part of a call record an agent or supervisor reads in a list."""
    full = record.to_json_dict()
    keys = (
        "linkedid",
        "caller",
        "caller_name",
        "hotline",
        "digits",
        "queue",
        "outcome",
        "agent",
        "wait_s",
        "talk_s",
        "started_at",
        "answered_at",
        "ended_at",
        "waybill",
    )
    return {key: full[key] for key in keys}


def wallboard_payload(snapshot: LiveSnapshot, recent: list[CallRecord]) -> dict[str, Any]:
    """`wallboard` event body: {at, live_calls, queues[], agents[], recent_calls[]}.

    Queues carry `longest_wait_s` as of `at`; the page keeps it ticking on its own clock.
    """
    body = asdict(snapshot)
    body["queues"] = sorted(body["queues"], key=lambda q: q["queue"])
    body["agents"] = sorted(body["agents"], key=lambda a: a["agent"])
    body["recent_calls"] = [call_summary(r) for r in recent]
    return body
