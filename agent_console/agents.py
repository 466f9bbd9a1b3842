"""Each agent's live state as the console serves it: a versioned snapshot plus deltas.

The state is what AMI says (AgentStatus events from the tracker: queue member status, paused,
pause reason) plus what the console adds (the pops of the calls ringing the agent's phone, the
call being talked on, the wrap-up deadline). Every change bumps the agent's `version` and is sent
to the agent's room as `agent_delta` {agent, version, set: {field: value, ...}}; a page applies
the fields when `version` is its last + 1 and otherwise (a reconnect, a missed delta) asks for the
whole snapshot (`agent_state`). Nothing here talks to AMI; see control.py for that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent_console.config import WRAP_UP_REASON
from telephony.live import AgentSnapshot

Emit = Callable[[str, dict[str, Any], str], None]  # (event name, payload, agent) -> None

# bounded (#16, finding 8): rings whose stop never came (an AMI link lost) and a stream of agent names
MAX_POPS_PER_AGENT = 20  # rings kept per agent (ringall rings one phone for a few calls at most)
MAX_AGENTS = 5000  # agents kept; beyond, the one longest without a change and without a call goes


def display_state(status: str, paused: bool, reason: str, talking: bool, ringing: bool) -> str:
    """One word for the agent's state: wrap_up, paused, talking, ringing, ready, offline."""
    if talking or status == "busy":
        return "talking"
    if paused and reason == WRAP_UP_REASON:
        return "wrap_up"
    if paused:
        return "paused"
    if ringing or status == "ringing":
        return "ringing"
    if status in ("unavailable", "unknown"):
        return "offline"
    return "ready"


@dataclass(slots=True)
class _Agent:
    agent: str
    version: int = 0
    status: str = "unknown"  # AMI member status: idle | ringing | busy | unavailable | unknown
    paused: bool = False
    pause_reason: str = ""
    state: str = "offline"
    since: float = 0.0  # when `state` began
    wrap_up_until: float | None = None
    pops: dict[str, dict[str, Any]] = field(default_factory=dict)  # linkedid -> pop, ringing order
    call: dict[str, Any] | None = None  # {linkedid, queue, answered_at, pop}

    def snapshot(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "version": self.version,
            "status": self.status,
            "paused": self.paused,
            "pause_reason": self.pause_reason,
            "state": self.state,
            "since": self.since,
            "wrap_up_until": self.wrap_up_until,
            "pops": list(self.pops.values()),
            "call": self.call,
        }


class AgentBoard:
    """Thread-safe store of every agent's state; `emit` is called outside the lock."""

    def __init__(self, emit: Emit, clock: Callable[[], float] = time.time) -> None:
        self._emit = emit
        self._clock = clock
        self._agents: OrderedDict[str, _Agent] = OrderedDict()  # least recently changed first
        self._lock = threading.Lock()

    # --- reads ---------------------------------------------------------------------------------

    def snapshot(self, agent: str) -> dict[str, Any]:
        with self._lock:
            return self._get(agent).snapshot() | {"at": self._clock()}

    def knows(self, agent: str) -> bool:
        """Whether AMI said anything about the agent yet."""
        with self._lock:
            a = self._agents.get(agent)
            return a is not None and a.status != "unknown"

    def pop_of(self, agent: str, linkedid: str) -> dict[str, Any] | None:
        with self._lock:
            a = self._agents.get(agent)
            if a is None:
                return None
            if linkedid in a.pops:
                return a.pops[linkedid]
            if a.call is not None and a.call["linkedid"] == linkedid:
                pop: dict[str, Any] | None = a.call.get("pop")
                return pop
            return None

    def knows_call(self, agent: str, linkedid: str) -> bool:
        """True while the call rings this agent or the agent talks on it (or did, until the next one)."""
        return self.pop_of(agent, linkedid) is not None

    def ringing_agents(self, linkedid: str) -> list[str]:
        with self._lock:
            return [a.agent for a in self._agents.values() if linkedid in a.pops]

    def wrap_ups_due(self, now: float | None = None) -> list[str]:
        now = self._clock() if now is None else now
        with self._lock:
            return [a.agent for a in self._agents.values() if a.wrap_up_until is not None and a.wrap_up_until <= now]

    def wrap_up_until(self, agent: str) -> float | None:
        with self._lock:
            a = self._agents.get(agent)
            return a.wrap_up_until if a else None

    # --- changes ---------------------------------------------------------------------------------

    def seed(self, agents: tuple[AgentSnapshot, ...]) -> None:
        """Take the tracker's picture (after a connect / resync) for agents without AMI news yet."""
        for snap in agents:
            with self._lock:
                known = snap.agent in self._agents and self._agents[snap.agent].status != "unknown"
            if not known:
                self.status(snap.agent, snap.status, snap.paused, snap.pause_reason, at=snap.since or None)

    def status(self, agent: str, status: str, paused: bool, reason: str, at: float | None = None) -> None:
        """AMI's word on the agent (AgentStatus)."""
        def change(a: _Agent) -> dict[str, Any]:
            a.status, a.paused, a.pause_reason = status, paused, reason if paused else ""
            out: dict[str, Any] = {"status": a.status, "paused": a.paused, "pause_reason": a.pause_reason}
            if not (paused and reason == WRAP_UP_REASON) and a.wrap_up_until is not None:
                a.wrap_up_until = None  # unpaused (or paused for something else): wrap-up is over
                out["wrap_up_until"] = None
            return out

        self._change(agent, change, at)

    def ring(self, agent: str, pop: dict[str, Any]) -> None:
        def change(a: _Agent) -> dict[str, Any]:
            a.pops[pop["linkedid"]] = pop
            while len(a.pops) > MAX_POPS_PER_AGENT:  # the oldest ring, whose stop never came
                del a.pops[next(iter(a.pops))]
            return {"pops": list(a.pops.values())}

        self._change(agent, change)

    def fill_pop(self, agent: str, linkedid: str, pop: dict[str, Any]) -> bool:
        """The whole pop of a call that rang the agent (ringing still, or answered) in place of what
        the board kept; False if the call is not the agent's any more."""
        def change(a: _Agent) -> dict[str, Any]:
            if linkedid in a.pops:
                a.pops[linkedid] = pop
                return {"pops": list(a.pops.values())}
            if a.call is not None and a.call["linkedid"] == linkedid:
                a.call = a.call | {"pop": pop}
                return {"call": a.call}
            return {}

        return bool(self._change(agent, change))

    def withdraw(self, agent: str, linkedid: str) -> bool:
        """The call stopped ringing this agent; False if it had no pop for it."""
        def change(a: _Agent) -> dict[str, Any]:
            if a.pops.pop(linkedid, None) is None:
                return {}
            return {"pops": list(a.pops.values())}

        return bool(self._change(agent, change))

    def answered(self, agent: str, linkedid: str, queue: str, at: float) -> None:
        def change(a: _Agent) -> dict[str, Any]:
            pop = a.pops.pop(linkedid, None)
            a.call = {"linkedid": linkedid, "queue": queue, "answered_at": at, "pop": pop}
            return {"pops": list(a.pops.values()), "call": a.call}

        self._change(agent, change, at)

    def ended(self, agent: str, linkedid: str) -> bool:
        """The agent's call or ring ended; True if the agent was talking on it."""
        talked = False

        def change(a: _Agent) -> dict[str, Any]:
            nonlocal talked
            out: dict[str, Any] = {}
            if a.pops.pop(linkedid, None) is not None:
                out["pops"] = list(a.pops.values())
            if a.call is not None and a.call["linkedid"] == linkedid:
                talked = True
                a.call = None
                out["call"] = None
            return out

        self._change(agent, change)
        return talked

    def set_wrap_up(self, agent: str, until: float | None) -> None:
        def change(a: _Agent) -> dict[str, Any]:
            a.wrap_up_until = until
            return {"wrap_up_until": until}

        self._change(agent, change)

    # --- internals -------------------------------------------------------------------------------

    def agents_count(self) -> int:
        with self._lock:
            return len(self._agents)

    def _get(self, agent: str) -> _Agent:
        a = self._agents.get(agent)
        if a is None:
            a = _Agent(agent=agent, since=self._clock())
            self._agents[agent] = a
            if len(self._agents) > MAX_AGENTS:
                idle = next((k for k, x in self._agents.items() if not x.pops and x.call is None and k != agent),
                            next(iter(self._agents)))
                del self._agents[idle]
        return a

    def _change(
        self, agent: str, change: Callable[[_Agent], dict[str, Any]], at: float | None = None
    ) -> dict[str, Any]:
        with self._lock:
            a = self._get(agent)
            self._agents.move_to_end(agent)
            fields = change(a)
            state = display_state(a.status, a.paused, a.pause_reason, a.call is not None, bool(a.pops))
            if state != a.state:
                a.state = state
                a.since = at if at is not None else self._clock()
                fields |= {"state": a.state, "since": a.since}
            if not fields:
                return {}
            a.version += 1
            payload = {"agent": agent, "version": a.version, "set": fields, "at": self._clock()}
        self._emit("agent_delta", payload, agent)
        return fields
