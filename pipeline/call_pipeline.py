"""The call pipeline: every call stored, every answered recording queued for transcription.

Telephony publishes domain events on the bus; the pipeline stores each call (pending while it runs,
for good when it ends) on a thread of its own, so the AMI thread never waits for the database, and
hands the recordings to the transcription jobs (`pipeline.transcription_jobs`).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from agent_console import metrics
from cases.call_records import calls_with_outcome, get_call, record_call
from cases.db import Database
from cases.errors import DatabaseUnavailable
from pipeline.catch_up import queue_missing_transcripts
from pipeline.transcription_jobs import TranscriptionJobs, ivr_job_id
from pipeline.transcription_results import call_ended_at, store_transcription
from telephony.events import CallAnswered, CallEnded, CallStarted, CallVariable, DomainEvent, EventBus
from telephony.records import CallRecord, join_ivr_path
from transcripts.errors import TranscriptsError
from transcripts.jobs import TranscriptionResult
from transcripts.standard import Rules, load_rules

log = logging.getLogger("hotline")

STORE_BATCH = 100  # calls written in one transaction when they queue up
PENDING = "pending"  # a call still going on (or whose end no listener saw yet)


class CallPipeline:
    """Stores every call and has its recording transcribed; never blocks the AMI thread.

    A call is stored as "pending" when it starts and again when an agent answers, and for good when
    it ends: a listener that dies (kill -9) leaves pending rows, and the next one closes those
    whose calls ended meanwhile (`reconcile_pending`), so no call is ever lost."""

    def __init__(self, db: Database, bus: EventBus, recordings_dir: Path,
                 transcriber: TranscriptionJobs | None, *, store_calls: bool = True,
                 rules: Rules | None = None) -> None:
        self.db = db
        self.rules = rules if rules is not None else load_rules()  # service-standard check of each call
        self.store_calls = store_calls  # False in a worker: the listener stores the calls
        self.recordings_dir = recordings_dir
        self.transcriber = transcriber
        self._q: queue.Queue[CallRecord | CallEnded | None] = queue.Queue()
        self._ivr_vars: dict[str, dict[str, str]] = {}
        self._live: dict[str, CallRecord] = {}
        self.stored = 0
        self.transcribed = 0
        self.errors = 0
        self.reconciled = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="call-pipeline", daemon=True)
        self._thread.start()
        bus.subscribe(self._on_event)

    def _on_event(self, event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            self._live.pop(event.record.linkedid, None)
            self._q.put(event)
            self._ivr_vars.pop(event.record.linkedid, None)
        elif isinstance(event, CallStarted) and self.store_calls:
            rec = CallRecord(linkedid=event.linkedid, caller=event.caller, caller_name=event.caller_name,
                             dialed=event.dialed, hotline=event.hotline or None, outcome=PENDING,
                             started_at=event.at)
            self._live[event.linkedid] = rec
            self._q.put(dataclasses.replace(rec, agents=list(rec.agents)))
        elif isinstance(event, CallAnswered) and self.store_calls and event.linkedid in self._live:
            rec = self._live[event.linkedid]
            rec.agent, rec.queue = event.agent, event.queue or rec.queue
            if event.agent not in rec.agents:
                rec.agents.append(event.agent)
            rec.answered_at = rec.answered_at or event.at
            self._q.put(dataclasses.replace(rec, agents=list(rec.agents)))
        elif isinstance(event, CallVariable) and event.name == "IVR_PATH" and event.linkedid in self._live:
            rec = self._live[event.linkedid]  # stored with the call's next pending row and at its end
            rec.ivr_path = join_ivr_path(rec.ivr_path, event.value)
        elif isinstance(event, CallVariable) and event.name in ("CASE_ID", "IVR_RECORDING"):
            seen = self._ivr_vars.setdefault(event.linkedid, {})
            seen[event.name] = event.value
            if "CASE_ID" in seen and "IVR_RECORDING" in seen and self.transcriber is not None:
                # the caller's own words from the IVR, on the case before an agent answers
                path = self.local_recording(seen["IVR_RECORDING"])
                self._submit(ivr_job_id(seen["CASE_ID"], event.linkedid), path)

    def _work(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            batch: list[CallRecord | CallEnded] = [first]
            stop = False
            while len(batch) < STORE_BATCH:  # what queued up meanwhile goes in the same transaction
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            ended = [item.record for item in batch if isinstance(item, CallEnded)]
            if self.store_calls and not self._store_retrying(batch):
                ended = []
            for rec in ended:
                if self.transcriber is not None and rec.recording and rec.outcome == "answered":
                    self._submit(rec.linkedid, self.local_recording(rec.recording))
            if stop:
                return

    @staticmethod
    def _store_one(s: Session, item: CallRecord | CallEnded) -> None:
        if isinstance(item, CallRecord):  # a call going on: its pending row, unless it ended already
            current = get_call(s, item.linkedid)
            if current is None or current.outcome == PENDING:
                record_call(s, item)
        else:
            record_call(s, item.record)

    def _store_retrying(self, batch: list[CallRecord | CallEnded]) -> bool:
        """Store calls in one transaction; while the database is unreachable (a PostgreSQL restart)
        wait and try again, keeping the calls behind them queued in order. Any other error: each
        call on its own, so one bad call does not cost the others (it is logged and skipped)."""
        delay = 0.5
        outage_since: float | None = None
        while True:
            try:
                with self.db.session() as s:
                    for item in batch:
                        self._store_one(s, item)
                if outage_since is not None:
                    log.warning("database back after %.1f s: storing calls again (%s waiting)",
                                time.monotonic() - outage_since, self._q.qsize())
                self.stored += sum(1 for item in batch if isinstance(item, CallEnded))
                return True
            except (DatabaseUnavailable, OperationalError, InterfaceError) as exc:
                if outage_since is None:
                    outage_since = time.monotonic()
                    log.warning("database unreachable, %s calls kept to store later: %s", len(batch),
                                str(exc).splitlines()[0])
                if self._stopping:
                    self.errors += len(batch)
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:
                if len(batch) == 1:
                    self.errors += 1
                    item = batch[0]
                    log.exception("could not store call %s",
                                  item.linkedid if isinstance(item, CallRecord) else item.record.linkedid)
                    return False
                for item in batch:
                    self._store_retrying([item])
                return True

    @property
    def backlog(self) -> int:
        """Calls (and live-call rows) waiting to be written to the database."""
        return self._q.qsize()

    def reconcile_pending(self, live: set[str], prefix: str = "") -> int:
        """After a (re)connect and resync: close the pending rows of this Asterisk whose calls are
        not live any more (they ended while no listener was there). Returns how many."""
        closed = 0
        now = time.time()
        with self.db.session() as s:
            for call in calls_with_outcome(s, PENDING):
                lid = call.linkedid
                mine = lid.startswith(prefix) if prefix else ":" not in lid
                if not mine or lid in live or lid in self._live:
                    continue
                rec = CallRecord(
                    linkedid=lid, caller=call.caller or "", caller_name=call.caller_name or "",
                    dialed=call.dialed or "", hotline=call.hotline, queue=call.queue, agent=call.agent,
                    agents=list(call.agents), outcome="answered" if call.answered_at else "interrupted",
                    started_at=call.started_at.timestamp() if call.started_at else None,
                    answered_at=call.answered_at.timestamp() if call.answered_at else None,
                    ended_at=now, reconciled=True, ivr_path=call.ivr_path)
                record_call(s, rec)
                closed += 1
        if closed:
            self.reconciled += closed
            log.warning("%s calls ended while no listener was there: closed as reconciled", closed)
        return closed

    def catch_up_transcripts(self, since_s: float = 24 * 3600) -> int:
        """Queue the answered, recorded calls of the last `since_s` that have no transcript (a worker
        that was down missed their end). Returns how many were queued."""
        if self.transcriber is None:
            return 0
        return queue_missing_transcripts(self.db, self.transcriber, self.local_recording, since_s)

    def local_recording(self, path: str) -> Path:
        """Asterisk's path, or the same file name below our recordings folder (a shared mount)."""
        p = Path(path)
        if p.exists():
            return p
        return self.recordings_dir / p.name

    def _submit(self, job_id: str, path: Path) -> None:
        assert self.transcriber is not None
        try:
            self.transcriber.submit_when_written(job_id, path)
        except TranscriptsError as exc:
            self.errors += 1
            log.warning("%s", exc)

    def on_transcribed(self, result: TranscriptionResult) -> None:
        try:
            store_transcription(self.db, result, self.rules)
            self.transcribed += 1
            metrics.transcription_stored(call_ended_at(self.db, result.job_id))
        except Exception:
            self.errors += 1
            log.exception("could not attach the transcript of %s", result.job_id)

    def on_transcription_error(self, job_id: str, exc: Exception) -> None:
        self.errors += 1
        log.warning("transcription of call %s failed: %s", job_id, exc)

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)
        self._stopping = True

