"""Hotline's routing of new calls (routing mode "ami"): the dialplan parks each hotline call in a
holding step; the AMI listener sees it (`CallHolding`), applies the rules kept here, sets the
channel variables the IVR and the queues read, and Redirects the call into its hotline's IVR. If
no Redirect comes within the holding step's wait, the dialplan falls through to the default IVR,
so a call never hangs on Hotline.

Rules: a block list (the call is hung up with cause 21, call rejected), key accounts (QUEUE_PRIO),
and per-hotline IVR targets. Business hours, holidays and announcements are the IVR's (menus).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from telephony.actions import Actions
from telephony.connection import AmiError
from telephony.events import CallHolding, DomainEvent

log = logging.getLogger(__name__)

KEY_ACCOUNT_PRIORITY = "10"


@dataclass(frozen=True, slots=True)
class RoutingRules:
    ivr_context: str = "ivr-{hotline}"
    blocked: frozenset[str] = frozenset()  # caller numbers (digits) refused
    key_accounts: frozenset[str] = frozenset()  # caller numbers served first

    @staticmethod
    def build(blocked: Iterable[str] = (), key_accounts: Iterable[str] = (),
              ivr_context: str = "ivr-{hotline}") -> RoutingRules:
        def digits(numbers: Iterable[str]) -> frozenset[str]:
            return frozenset("".join(ch for ch in n if ch.isdigit()) for n in numbers)

        return RoutingRules(ivr_context, digits(blocked), digits(key_accounts))


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    linkedid: str
    action: str  # "ivr" | "blocked" | "failed"
    target: str
    seen_at: float  # when the call's holding event arrived
    done_at: float  # when Asterisk answered the last action
    detail: str = ""

    @property
    def latency_s(self) -> float:
        return self.done_at - self.seen_at


@dataclass
class HotlineRouter:
    """Subscribe `router.on_event` to the bus; decisions run on the router's own thread."""

    actions_for: Callable[[str], Actions]  # linkedid -> the Actions of its Asterisk
    rules: RoutingRules = field(default_factory=RoutingRules)
    on_decision: Callable[[RoutingDecision], None] | None = None
    workers: int = 4  # calls routed at once (each waits for Asterisk's answers)

    def __post_init__(self) -> None:
        self._q: queue.Queue[CallHolding | None] = queue.Queue()
        self.decisions: list[RoutingDecision] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"hotline-router-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def on_event(self, event: DomainEvent) -> None:
        if isinstance(event, CallHolding):
            self._q.put(event)

    def decide(self, caller: str) -> tuple[str, dict[str, str]]:
        number = "".join(ch for ch in caller if ch.isdigit())
        if number and number in self.rules.blocked:
            return "blocked", {}
        variables = {"HOTLINE_ROUTED": "ami"}
        if number and number in self.rules.key_accounts:
            variables["QUEUE_PRIO"] = KEY_ACCOUNT_PRIORITY
        return "ivr", variables

    def _work(self) -> None:
        while True:
            ev = self._q.get()
            if ev is None:
                return
            self._route(ev)

    def _route(self, ev: CallHolding) -> None:
        action, variables = self.decide(ev.caller)
        target = self.rules.ivr_context.format(hotline=ev.hotline)
        try:
            actions = self.actions_for(ev.linkedid)
            if action == "blocked":
                actions.hangup(ev.channel, cause=21)
                target = "hangup"
            else:
                for name, value in variables.items():
                    actions.setvar(ev.channel, name, value)
                actions.redirect(ev.channel, target, "s", 1)
            decision = RoutingDecision(ev.linkedid, action, target, ev.at, time.time())
        except (AmiError, Exception) as exc:  # the dialplan's fallback takes the call
            log.warning("routing of %s failed (%s): the dialplan's default IVR takes it", ev.linkedid, exc)
            decision = RoutingDecision(ev.linkedid, "failed", target, ev.at, time.time(), str(exc))
        with self._lock:
            self.decisions.append(decision)
        if self.on_decision is not None:
            try:
                self.on_decision(decision)
            except Exception:
                log.exception("routing decision hook failed")

    def stop(self) -> None:
        for _ in self._threads:
            self._q.put(None)
        for t in self._threads:
            t.join(timeout=5)
