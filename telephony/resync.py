"""After every (re)connect: ask Asterisk what is live and bring the call state in line."""

from __future__ import annotations

import logging
import time

from telephony.actions import Actions, ActionSender
from telephony.calls import CallTracker, ReconcileReport
from telephony.connection import AmiError

log = logging.getLogger(__name__)


def resync(conn: ActionSender, tracker: CallTracker, timeout: float = 10.0) -> ReconcileReport | None:
    """CoreShowChannels, QueueStatus and QueueSummary, then `tracker.reconcile`. None if it failed
    (the connection dropped again: the next connect resyncs)."""
    actions = Actions(conn, timeout=timeout)
    asked_at = time.time()
    try:
        # events after the snapshot's place in the stream wait until the snapshot is applied
        channels = actions.core_show_channels(on_response=lambda _m: tracker.begin_buffering())
        status = actions.queue_status()
        actions.queue_summary()  # checks the queues answer; figures come from events and QueueStatus
    except AmiError as exc:
        log.warning("resync failed: %s", exc)
        tracker.end_buffering()
        return None
    return tracker.reconcile(channels, status, asked_at)
