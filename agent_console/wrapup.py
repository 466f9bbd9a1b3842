"""Wrap-up after a call: the agent who talked is paused with the wrap-up reason for `wrap_up_s`,
then unpaused, unless the agent chose another pause (or ready) meanwhile; the console may extend it.

One `WrapUps` per site runs every agent's wrap-up, whether or not the agent has a console open: the
embedded process's, or the listener's with processes by role (it has the AMI link and sees every
call end), so there is one QueuePause per call. Each change of a deadline goes out on the bus as
`AgentWrapUp`, so the consoles of every web process show the timer the keeper holds. Web processes
ask the listener to extend a wrap-up over the PBX control channel (hotline_cli.pbxrpc
`RemoteWrapUps`), which answers with the new deadline or `NotInWrapUp`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from agent_console.config import WRAP_UP_REASON
from agent_console.control import ConsoleControl, ControlError
from telephony.events import AgentStatus, AgentWrapUp, CallEnded, DomainEvent, EventBus
from telephony.live import AgentSnapshot

log = logging.getLogger(__name__)

TICK_S = 0.25


class NotInWrapUp(ControlError):
    """The agent asked to extend a wrap-up that is not running (over, or never started)."""

    key = "wrap.err.none"


class WrapUpService(Protocol):
    """What the console asks of the keeper: another `wrap_up_s` seconds (the new deadline back), and
    the deadline of a wrap-up that began before the console did (None: none running)."""

    def extend(self, agent: str) -> float: ...

    def until(self, agent: str) -> float | None: ...


class NoWrapUps:
    """No wrap-up after calls here (`wrap_up_s` 0 and no keeper elsewhere): nothing to extend."""

    def extend(self, agent: str) -> float:
        raise NotInWrapUp("no wrap-up after calls here")

    def until(self, agent: str) -> float | None:
        return None


class WrapUps:
    """The site's wrap-up keeper (see the module text). `start()` subscribes to `bus` and runs the
    timer, `stop()` ends both."""

    def __init__(self, bus: EventBus, control: ConsoleControl, wrap_up_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        if wrap_up_s <= 0:
            raise ValueError("wrap_up_s must be > 0 for a wrap-up keeper")
        self._bus = bus
        self._control = control
        self.wrap_up_s = wrap_up_s
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._confirmed: set[str] = set()  # AMI has reported the wrap-up pause
        self._pause: dict[str, tuple[bool, str]] = {}  # agent -> last (paused, reason) AMI reported
        self.started = 0
        self.extended = 0
        self.ended = 0
        self.failed = 0
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wrap-up")
        self._thread = threading.Thread(target=self._timer, name="wrap-up-timer", daemon=True)

    def start(self) -> None:
        self._bus.subscribe(self.on_event)
        self._thread.start()

    def stop(self) -> None:
        self._bus.unsubscribe(self.on_event)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- events (the bus thread: never blocks) ------------------------------------------------

    def on_event(self, event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            rec = event.record
            talked = {*rec.agents, *([rec.agent] if rec.agent else [])} if rec.answered_at else set()
            for agent in sorted(talked):
                self._begin(agent)
        elif isinstance(event, AgentStatus):
            self._status(event.agent, event.paused, event.pause_reason)

    def _begin(self, agent: str) -> None:
        until = self._clock() + self.wrap_up_s
        with self._lock:
            self._until[agent] = until
            self._confirmed.discard(agent)
            self.started += 1
        self._publish(agent, until)
        self._submit("wrap-up", self._control.wrap_up, agent)

    def _status(self, agent: str, paused: bool, reason: str) -> None:
        republish: float | None = None
        over = False
        with self._lock:
            self._pause[agent] = (paused, reason if paused else "")
            until = self._until.get(agent)
            if until is None:
                return
            if paused and reason == WRAP_UP_REASON:
                if agent not in self._confirmed:  # the pause is in place: say the deadline again, after it
                    self._confirmed.add(agent)
                    republish = until
            elif paused or agent in self._confirmed:
                # paused for something else, or unpaused after the wrap-up pause: the agent moved on
                del self._until[agent]
                self._confirmed.discard(agent)
                over = True
        if republish is not None:
            self._publish(agent, republish)
        if over:
            self._publish(agent, None)

    def adopt(self, agents: Iterable[AgentSnapshot]) -> list[str]:
        """After the AMI link's (re)sync: agents the PBX has paused for wrap-up with no deadline here
        (the keeper before a restart paused them) get a full `wrap_up_s` from now, then ready — instead
        of staying paused for good. Returns them."""
        now = self._clock()
        taken: list[tuple[str, float]] = []
        with self._lock:
            for a in agents:
                if a.paused and a.pause_reason == WRAP_UP_REASON and a.agent not in self._until:
                    self._until[a.agent] = now + self.wrap_up_s
                    self._confirmed.add(a.agent)
                    self._pause[a.agent] = (True, WRAP_UP_REASON)
                    taken.append((a.agent, now + self.wrap_up_s))
        for agent, until in taken:
            log.info("wrap-up of %s taken up (paused for wrap-up, no deadline known): ready in %g s",
                     agent, self.wrap_up_s)
            self._publish(agent, until)
        return [agent for agent, _ in taken]

    # --- the console's requests ---------------------------------------------------------------

    def extend(self, agent: str) -> float:
        """Another `wrap_up_s` seconds; NotInWrapUp if the agent is not in wrap-up."""
        with self._lock:
            until = self._until.get(agent)
            if until is None:
                raise NotInWrapUp(f"{agent} is not in wrap-up")
            new = max(until, self._clock()) + self.wrap_up_s
            self._until[agent] = new
            self.extended += 1
        self._publish(agent, new)
        return new

    def until(self, agent: str) -> float | None:
        with self._lock:
            return self._until.get(agent)

    def status(self) -> dict[str, int]:
        with self._lock:
            running = len(self._until)
        return {"running": running, "started": self.started, "extended": self.extended, "ended": self.ended,
                "pbx_failures": self.failed}

    # --- the timer ----------------------------------------------------------------------------

    def _timer(self) -> None:
        while not self._stop.wait(TICK_S):
            self.tick()

    def tick(self) -> None:
        now = self._clock()
        due: list[tuple[str, bool]] = []
        with self._lock:
            for agent, until in list(self._until.items()):
                if until <= now:
                    del self._until[agent]
                    self._confirmed.discard(agent)
                    paused, reason = self._pause.get(agent, (False, ""))
                    due.append((agent, paused and reason != WRAP_UP_REASON))
        for agent, other_pause in due:
            self.ended += 1
            self._publish(agent, None)
            if not other_pause:  # the agent chose another pause meanwhile: leave it
                self._submit("end of wrap-up", self._control.ready, agent)

    def _publish(self, agent: str, until: float | None) -> None:
        self._bus.publish(AgentWrapUp(agent, until, self._clock()))

    def _submit(self, what: str, fn: Callable[[str], None], agent: str) -> None:
        try:
            self._pool.submit(self._ami, what, fn, agent)
        except RuntimeError:  # stopping
            pass

    def _ami(self, what: str, fn: Callable[[str], None], agent: str) -> None:
        try:
            fn(agent)
        except ControlError as exc:
            self.failed += 1
            log.warning("%s for %s not done: %s", what, agent, exc)
        except Exception:
            self.failed += 1
            log.exception("%s for %s failed", what, agent)
