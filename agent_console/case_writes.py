"""Tells the console when a case was created or changed, so that screen pops prefetched before it look
the caller up again: after every commit through the console's database that wrote a case (`Case`), on
whichever desk or API route it was made (the cases API, the claims, complaints and branch desks, a change
request, a linked call...). A case the IVR registers in another process comes as the call's CASE_ID
variable instead (agent_console.pop_lookups).

Watched at the session: a flush that inserted, changed or deleted a case marks its session; the commit
that follows calls `changed` (not the flush: a lookup started between the two would read the old rows and
count as fresh). A session rolled back forgets the mark."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, UOWTransaction

from cases.models.case import Case

log = logging.getLogger(__name__)


class CaseWrites:
    """Calls `changed` after each commit through `engine` that wrote a case (any thread). `start()`
    listens, `stop()` no longer does."""

    def __init__(self, engine: Engine, changed: Callable[[], None]) -> None:
        self._engine = engine
        self._changed = changed
        self._mark = f"hotline_case_written_{id(self)}"  # in Session.info: one per watcher

    def start(self) -> None:
        event.listen(Session, "after_flush", self._flushed)
        event.listen(Session, "after_commit", self._committed)
        event.listen(Session, "after_rollback", self._rolled_back)

    def stop(self) -> None:
        for name, fn in (("after_flush", self._flushed), ("after_commit", self._committed),
                         ("after_rollback", self._rolled_back)):
            if event.contains(Session, name, fn):
                event.remove(Session, name, fn)

    def _flushed(self, session: Session, _flush: UOWTransaction) -> None:
        if session.bind is not self._engine:
            return
        if any(isinstance(row, Case) for rows in (session.new, session.dirty, session.deleted) for row in rows):
            session.info[self._mark] = True

    def _committed(self, session: Session) -> None:
        if session.info.pop(self._mark, False):
            try:
                self._changed()
            except Exception:  # the commit is done: the writer must not see an error for it
                log.exception("could not tell the console that a case changed")

    def _rolled_back(self, session: Session) -> None:
        session.info.pop(self._mark, None)
