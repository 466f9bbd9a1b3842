"""One link per configured Asterisk: its AMI client, its call tracker, its resync; several links
publish into one bus, so one call store and one wallboard see them all."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telephony.actions import Actions
from telephony.calls import CallTracker
from telephony.connection import AmiClient, AmiConnection, AmiEndpoint
from telephony.events import EventBus, PbxConnection
from telephony.live import AgentSnapshot, LiveSnapshot, QueueSnapshot, WaitingCaller
from telephony.resync import resync

log = logging.getLogger(__name__)


@dataclass
class PbxLink:
    endpoint: AmiEndpoint
    tracker: CallTracker
    client: AmiClient

    def status(self) -> dict[str, Any]:
        st = self.client.stats
        ep = self.endpoint
        now = time.time()
        rate = self.client.event_rate(now)
        return {
            "name": ep.name, "host": ep.host, "port": ep.port, "connected": self.client.connected.is_set(),
            "connected_since": st.connected_since, "last_event_at": st.last_event_at, "connects": st.connects,
            "reconnects": st.reconnects, "resyncs": self.tracker.resyncs, "events": st.events,
            "events_per_s": round(rate, 1), "live_calls": len(self.tracker.live_call_ids()),
            "last_error": st.last_error,
        }


def make_links(endpoints: Sequence[AmiEndpoint], bus: EventBus,
               after_resync: Callable[[PbxLink], object] | None = None) -> list[PbxLink]:
    """Calls of several Asterisks get their PBX's name in front of their Linkedid ("pbx2:…").
    `after_resync(link)` runs after each successful resync of a link (e.g. to close stored calls
    that ended while nobody listened)."""
    several = len(endpoints) > 1
    names = [ep.name for ep in endpoints]
    if len(set(names)) != len(names):
        raise ValueError(f"PBX names must be unique, got {', '.join(names)}")
    links = []
    for ep in endpoints:
        tracker = CallTracker(bus.publish, id_prefix=f"{ep.name}:" if several else "")

        def on_state(up: bool, detail: str, name: str = ep.name) -> None:
            bus.publish(PbxConnection(name, up, detail, time.time()))

        holder: list[PbxLink] = []

        def on_connected(conn: AmiConnection, t: CallTracker = tracker, h: list[PbxLink] = holder) -> None:
            if resync(conn, t) is not None and after_resync is not None and h:
                try:
                    after_resync(h[0])
                except Exception:
                    log.exception("after-resync hook failed")

        client = AmiClient(ep, tracker.feed, on_state=on_state, on_connected=on_connected)
        holder.append(PbxLink(ep, tracker, client))
        links.append(holder[0])
    return links


class CombinedLive:
    """One wallboard picture of several Asterisks: queues of the same name are added up."""

    def __init__(self, trackers: Sequence[CallTracker]) -> None:
        self.trackers = list(trackers)

    def live_call_ids(self) -> list[str]:
        return [lid for t in self.trackers for lid in t.live_call_ids()]

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        snaps = [t.snapshot(now) for t in self.trackers]
        if len(snaps) == 1:
            return snaps[0]
        at = max(s.at for s in snaps)
        queues: dict[str, list[QueueSnapshot]] = {}
        for s in snaps:
            for q in s.queues:
                queues.setdefault(q.queue, []).append(q)
        merged = []
        for name in sorted(queues):
            parts = queues[name]
            waiting: tuple[WaitingCaller, ...] = tuple(sorted((w for q in parts for w in q.waiting),
                                                              key=lambda w: w.since))
            merged.append(QueueSnapshot(name, waiting, max(q.longest_wait_s for q in parts),
                                        sum(q.answered for q in parts), sum(q.abandoned for q in parts)))
        agents: tuple[AgentSnapshot, ...] = tuple(a for s in snaps for a in s.agents)
        return LiveSnapshot(at, tuple(merged), agents, sum(s.live_calls for s in snaps))


class PbxNotConnected(Exception):
    """No live AMI connection to that Asterisk right now."""


class PbxControl:
    """Where the console and other consumers send AMI actions: `control.actions("pbx1")`."""

    def __init__(self, links: Sequence[PbxLink]) -> None:
        self._links = {link.endpoint.name: link for link in links}
        self._default = links[0].endpoint.name if links else ""

    @property
    def names(self) -> list[str]:
        return list(self._links)

    def actions(self, pbx: str | None = None, timeout: float = 10.0) -> Actions:
        name = pbx or self._default
        link = self._links.get(name)
        if link is None:
            raise PbxNotConnected(f"no Asterisk named {name!r} is configured")
        conn = link.client.conn
        if conn is None or not link.client.connected.is_set():
            raise PbxNotConnected(f"Asterisk {name!r} is not connected")
        return Actions(conn, timeout=timeout)

    def pbx_of_call(self, linkedid: str) -> str:
        """The PBX a call id belongs to ("pbx2:…" with several Asterisks)."""
        head, sep, _ = linkedid.partition(":")
        return head if sep and head in self._links else self._default
