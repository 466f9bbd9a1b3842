"""What the call tracker reads from Asterisk: the events, the channel variables, the member status codes,
and how the dialplan names the hotlines. `telephony.ami_user` lets exactly these events and variables
through the AMI user's filters; `telephony.calls` follows them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_HOTLINES = {"4008001": "service", "4008002": "claims"}
HOTLINE_NAMES = frozenset(DEFAULT_HOTLINES.values())
# Channel variables the IVR sets that consumers care about (leading underscores stripped).
WATCHED_VARIABLES = frozenset({"WAYBILL", "CASE_ID", "IVR_PATH", "IVR_QUEUE", "IVR_RECORDING", "QUEUE_PRIO",
                               "CLAIM_NO", "LANG", "CALLBACK_OFFER"})
# every channel variable the tracker reads from VarSet events
READ_VARIABLES = frozenset({"HOTLINE", "MIXMONITOR_FILENAME"}) | WATCHED_VARIABLES
MEMBER_STATUS = {
    "0": "unknown", "1": "idle", "2": "busy", "3": "busy", "4": "unavailable",
    "5": "unavailable", "6": "ringing", "7": "ringing", "8": "busy",
}
# The dialplan's holding step announces a call with UserEvent(HotlineHold,Hotline: <hotline>): an event of
# the `user` class that an allow-list filter can keep, unlike its Newexten among every other dialplan step
HOLD_USER_EVENT = "HotlineHold"
# Every event the tracker needs: the generated manager.conf (telephony.ami_user) lets these through and no
# others. It also reads Newexten (the holding step of older dialplans) when sent, and the QueueMember
# items of a QueueStatus answer (list answers: no filter applies to them) fed one by one: replay hands a
# whole answer to `reconcile`, and feeds only one whose start it did not see (a capture begun inside it).
READ_EVENTS = ("Newchannel", "NewCallerid", "VarSet", "DTMFEnd", "UserEvent", "QueueCallerJoin",
               "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled", "AgentRingNoAnswer", "DialEnd",
               "AgentConnect", "BridgeLeave", "HangupRequest", "Hangup", "QueueMemberStatus", "QueueMemberAdded",
               "QueueMemberPause", "QueueMemberRemoved", "Shutdown", "FullyBooted")
# Channels Hotline originates itself to tap a call's audio (live transcripts): not calls.
TAP_CHANNEL_PREFIX = "AudioSocket/"


@dataclass(frozen=True, slots=True)
class Hotlines:
    """How one Asterisk's dialplan names the hotlines: dialled number -> hotline, the hotline names a
    HOTLINE variable may carry, and the holding step's context (see `hotline asterisk-config`)."""

    numbers: Mapping[str, str]
    names: frozenset[str]
    hold_context: str
