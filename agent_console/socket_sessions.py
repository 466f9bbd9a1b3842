"""Which Socket.IO connections belong to which console session, so that an ended session's live
connections close too (issue #16, finding 6).

A logout in this web process closes its session's connections at once. A session ended elsewhere (a
logout in another web process, `hotline users passwd|role|disable`, the idle timeout) is found by a
sweep every `sweep_s` seconds: one query for the sessions that have connections here.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask_socketio import SocketIO

from agent_console.sessions import SessionPolicy
from cases import sessions as stored
from cases.db import Database
from cases.errors import DatabaseUnavailable
from cases.models.base import utcnow

log = logging.getLogger(__name__)


class SocketSessions:
    def __init__(self, socketio: SocketIO, db: Database, policy: SessionPolicy, sweep_s: float) -> None:
        self._socketio = socketio
        self._db = db
        self._policy = policy
        self.sweep_s = sweep_s
        self._lock = threading.Lock()
        self._key_of: dict[str, str] = {}  # Socket.IO sid -> session key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, sid: str, key: str) -> None:
        with self._lock:
            self._key_of[sid] = key

    def remove(self, sid: str) -> None:
        with self._lock:
            self._key_of.pop(sid, None)

    def end(self, key: str) -> int:
        """Close the connections of this session; how many."""
        with self._lock:
            sids = [sid for sid, k in self._key_of.items() if k == key]
            for sid in sids:
                del self._key_of[sid]
        for sid in sids:
            self._socketio.server.disconnect(sid, namespace="/")
        return len(sids)

    def sweep(self) -> int:
        """Close the connections whose session is no longer valid; how many."""
        with self._lock:
            keys = set(self._key_of.values())
        if not keys:
            return 0
        try:
            with self._db.reading() as s:
                alive = stored.live_session_keys(s, keys, utcnow() - timedelta(seconds=self._policy.idle_s))
        except DatabaseUnavailable as exc:
            log.warning("console sessions not checked: %s", exc)
            return 0
        closed = sum(self.end(key) for key in keys - alive)
        if closed:
            log.info("%d Socket.IO connection(s) of ended console sessions closed", closed)
        return closed

    def start(self) -> None:
        if self.sweep_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="console-sessions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.sweep_s):
            try:
                self.sweep()
            except Exception:  # the sweep must outlive a bad round; the next one tries again
                log.exception("console session sweep failed")
