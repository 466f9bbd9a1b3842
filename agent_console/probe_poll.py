"""The probe results per hotline and the prompts the PBX could not play lately, read from the database
every `ConsoleConfig.probe_poll_s` for the wallboard computed here; a change wakes the console's event
worker so the board goes out. (In role mode the listener reads them, and the console relays its board.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent_console.wallboard import HotlineHealth, WallboardFeed

log = logging.getLogger(__name__)

Spawn = Callable[[Callable[[], None]], object]  # runs a function in the background (SocketIO's tasks)
Wake = Callable[[], bool]  # wakes the event worker: the board is due; False when it could not


class ProbePoll:
    """`start(wake)` reads once and then every `interval_s` until `stop()`."""

    def __init__(self, read: Callable[[], HotlineHealth], feed: WallboardFeed, interval_s: float,
                 spawn: Spawn) -> None:
        self._read = read
        self._feed = feed
        self._interval_s = interval_s
        self._spawn = spawn
        self._stopped = threading.Event()
        self._wake: Wake = lambda: True  # until started: the feed marks the board due itself

    def start(self, wake: Wake) -> None:
        self._wake = wake
        self._stopped.clear()
        self.refresh()
        self._spawn(self._timer)

    def stop(self) -> None:
        self._stopped.set()

    def refresh(self) -> bool:
        """Read the probe results and prompt faults; True (and the wallboard due) when one changed."""
        try:
            health = self._read()
        except Exception:  # the database may be away for a moment: the board keeps the last results
            log.exception("could not read the probe results and prompt faults")
            return False
        if not self._feed.set_health(health):
            return False
        if not self._wake():
            log.warning("console event queue full: probe update deferred")
            self._feed.forget_health()
        return True

    def _timer(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self.refresh()
