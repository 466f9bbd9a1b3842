"""After every (re)connect: ask Asterisk what is live and bring the call state in line.

Replay (`telephony.replay`) applies the same answers found in a capture through the same parsers
(`actions.channels_of`, `queue_status_of`) and `CallTracker.reconcile`, so both store the same calls.
"""

from __future__ import annotations

import logging
import time

from telephony.actions import Actions, ActionSender
from telephony.calls import CallTracker
from telephony.connection import AmiError, AmiTimeout
from telephony.reconcile import ReconcileReport

log = logging.getLogger(__name__)

RESYNC_ATTEMPTS = 3  # a snapshot not answered in time (a loaded Asterisk or host) is asked for again


def resync(conn: ActionSender, tracker: CallTracker, timeout: float = 10.0,
           attempts: int = RESYNC_ATTEMPTS) -> ReconcileReport | None:
    """CoreShowChannels, QueueStatus and QueueSummary, then `tracker.reconcile`. An answer that does
    not come in time is asked for again (`attempts` in all): until a resync succeeds, calls that ended
    while the link was down stay open, so their records would wait for the next reconnect. None if it
    failed (the connection dropped again: the next connect resyncs)."""
    for attempt in range(1, attempts + 1):
        actions = Actions(conn, timeout=timeout)
        asked_at = time.time()
        try:
            # events after the snapshot's place in the stream wait until the snapshot is applied
            channels = actions.core_show_channels(on_response=lambda _m: tracker.begin_buffering())
            status = actions.queue_status()
            actions.queue_summary()  # checks the queues answer; figures come from events and QueueStatus
        except AmiTimeout as exc:
            tracker.end_buffering()
            if attempt < attempts:
                log.warning("resync: %s; asking again (%s of %s)", exc, attempt + 1, attempts)
                continue
            log.warning("resync failed: %s", exc)
            return None
        except AmiError as exc:
            log.warning("resync failed: %s", exc)
            tracker.end_buffering()
            return None
        return tracker.reconcile(channels, status, asked_at)
    return None
