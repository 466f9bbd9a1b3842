"""What telephony knows about one call when it ends: the record behind `hotline replay`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

Hotline = str | None  # "service" | "claims" | None (not a hotline call)

OUTCOMES = (
    "answered",  # an agent talked to the caller
    "abandoned_in_queue",  # caller hung up while waiting in a queue
    "abandoned_in_ivr",  # caller hung up in the IVR, before reaching a queue
    "unanswered",  # left the queue without an agent (queue timeout, no members) and ended
    "internal",  # a call that did not come in on a hotline (supervisor spy, originate)
    "interrupted",  # the PBX went away (shutdown, lost connection) before the call ended
    "rejected",  # refused by the routing (block list): hung up with cause 21 before the IVR
    "callback_offered",  # waited past its queue's limit, moved to the IVR's callback offer, left without an agent
    "out_of_hours",  # the hotline was closed: the IVR told the caller so (IVR_PATH step `closed`), no queue
    "self_served",  # the IVR served the caller and said goodbye (status told, request registered), no queue
)


def join_ivr_path(path: str | None, visit: str) -> str | None:
    """A call's IVR path once one more IVR visit set `IVR_PATH` to `visit`: the visits in order, joined
    with ">" (the menu, later e.g. the queue wait limit's callback offer; cases.ivr_path reads it back).
    An empty value adds nothing, and the same value set again (a repeated VarSet) is the same visit.
    The one way to join it: the call record (telephony.calls), the pipeline's pending rows and the
    console's live calls and pops all use it, so they show the same path."""
    if not visit:
        return path
    if not path or path == visit:
        return visit
    return f"{path}>{visit}"


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO 8601 UTC with milliseconds, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class CallRecord:
    """One call, keyed by the Linkedid shared by all its legs."""

    linkedid: str
    caller: str = ""
    caller_name: str = ""
    dialed: str = ""
    hotline: Hotline = None
    digits: str = ""
    queue: str | None = None
    outcome: str = "interrupted"
    agent: str | None = None
    agents: list[str] = field(default_factory=list)
    rang: list[str] = field(default_factory=list)
    hangup_by: str | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    recording: str | None = None
    started_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    waybill: str | None = None
    reconciled: bool = False
    # the IVR's path: menu nodes visited and keys (`IVR_PATH`; several IVR visits joined with ">")
    ivr_path: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("started_at", "answered_at", "ended_at"):
            d[key] = iso(d[key])
        return d
