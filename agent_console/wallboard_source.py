"""Where the supervisors' wallboard comes from: computed here from the events (`ComputedWallboard`, one
web process), or computed once by the listener and relayed (`RelayedWallboard`, role mode).

`wallboard` goes to a supervisor's page on connect and as the ack of `wallboard_request`: the whole
board with its `version`; `wallboard_delta` to the `supervisors` room: {version, ...changed sections},
at most one per `ConsoleConfig.wallboard_interval_s`, the last change always sent. The worker flushes
the board when no event is waiting (or once it is overdue), so pops never queue behind it; a board
computed here is not computed at all while no supervisor's page is connected to this console (a page
that connects gets a whole board computed then).
"""

from __future__ import annotations

from typing import Any, Protocol

from agent_console.console_rooms import SUPERVISORS_ROOM, Rooms
from agent_console.probe_poll import ProbePoll, Wake
from agent_console.wallboard import WallboardFeed, WallboardRelay
from telephony.events import DomainEvent


class WallboardSource(Protocol):
    """What the event worker asks of the wallboard (on its thread, except `board` and `refresh_health`)."""

    def start(self, wake: Wake) -> None: ...

    def stop(self) -> None: ...

    def observe(self, event: DomainEvent) -> None: ...

    def wait_s(self) -> float | None:
        """Seconds the worker may wait for an event before the board is due (None: as long as it likes)."""

    def overdue(self) -> bool: ...

    def probes_changed(self) -> None: ...

    def flush(self) -> None:
        """Send what changed, if it is time to."""

    def board(self) -> dict[str, Any]:
        """The whole wallboard as last sent (so its version matches the deltas that follow)."""

    def refresh_health(self) -> bool:
        """Read the probe results now; True when they changed the board."""


class ComputedWallboard:
    """`always`: compute the board even with no supervisor's page here (a message queue carries it to
    pages on other web processes)."""

    def __init__(self, feed: WallboardFeed, rooms: Rooms, probes: ProbePoll, always: bool) -> None:
        self.feed = feed
        self._rooms = rooms
        self._probes = probes
        self._always = always

    def start(self, wake: Wake) -> None:
        self._probes.start(wake)

    def stop(self) -> None:
        self._probes.stop()

    def observe(self, event: DomainEvent) -> None:
        self.feed.observe(event)

    def wait_s(self) -> float | None:
        return self.feed.wait_s()

    def overdue(self) -> bool:
        return self.feed.overdue()

    def probes_changed(self) -> None:
        self.feed.mark_due()

    def flush(self) -> None:
        if self.feed.wait_s() == 0 and not self._always and not self._rooms.here(SUPERVISORS_ROOM):
            # no supervisor's page on this console: computing the board would only hold the GIL
            # while pops wait; a page that connects gets a whole board computed then
            self.feed.skip()
            return
        delta = self.feed.flush()
        if delta is not None:
            self._rooms.emit("wallboard_delta", delta, SUPERVISORS_ROOM)

    def board(self) -> dict[str, Any]:
        return self.feed.board()

    def refresh_health(self) -> bool:
        return self._probes.refresh()


class RelayedWallboard:
    """The listener's board: each update it publishes goes to this console's supervisors as it comes."""

    def __init__(self, relay: WallboardRelay, rooms: Rooms) -> None:
        self._relay = relay
        self._rooms = rooms

    def start(self, wake: Wake) -> None:
        self._relay.subscribe(self._relayed)

    def stop(self) -> None:
        self._relay.unsubscribe(self._relayed)

    def observe(self, event: DomainEvent) -> None:
        return  # computed by the listener

    def wait_s(self) -> float | None:
        return None

    def overdue(self) -> bool:
        return False

    def probes_changed(self) -> None:
        return

    def flush(self) -> None:
        return

    def board(self) -> dict[str, Any]:
        return self._relay.board()

    def refresh_health(self) -> bool:
        return False  # the listener reads them

    def _relayed(self, name: str, payload: dict[str, Any]) -> None:
        self._rooms.emit(name, payload, SUPERVISORS_ROOM)
