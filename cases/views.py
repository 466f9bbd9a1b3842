"""Frozen views returned by the `cases` modules, and the inputs they accept. No ORM objects leak out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final, Literal

from cases.vocab import CaseKind, CaseStatus, CustomerKind, Department, Priority, Role, Speaker


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""'Leave as it is' in `CaseUpdate` fields where None means 'clear'."""

Unset = Literal[_Unset.UNSET]


class WaybillLookup(StrEnum):
    NONE = "none"  # no waybill given
    INVALID = "invalid"  # not 10-14 digits
    NOT_FOUND = "not_found"  # well-formed, but no such shipment
    FOUND = "found"
    UNAVAILABLE = "unavailable"  # the shipment source (TMS) could not answer


# ---------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    name: str
    kind: CustomerKind
    phones: tuple[str, ...]  # normalised: digits only
    note: str


@dataclass(frozen=True, slots=True)
class ShipmentEventView:
    at: datetime
    place: str
    status: str  # e.g. 已揽收, 运输中, 到达分拨中心, 派送中, 已签收
    note: str


@dataclass(frozen=True, slots=True)
class ShipmentView:
    id: int
    waybill: str
    shipper_customer_id: int | None
    shipper_name: str
    shipper_phone: str
    consignee_name: str
    consignee_phone: str
    origin: str
    destination: str
    status: str  # the latest status
    created_at: datetime
    updated_at: datetime
    events: tuple[ShipmentEventView, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class TranscriptView:
    id: int
    linkedid: str
    engine: str
    model: str
    speaker: Speaker
    text: str
    words_json: str  # the JSON array given to attach_transcript (object keys sorted)
    duration_s: float | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CallView:
    """A stored `CallRecord`; times are aware UTC datetimes. outcome "pending": linked to a case
    before telephony reported the call's end."""

    id: int
    linkedid: str
    caller: str
    caller_name: str
    dialed: str
    hotline: str | None  # service | claims | None (not a hotline call)
    digits: str
    queue: str | None
    outcome: str
    agent: str | None
    agents: tuple[str, ...]
    rang: tuple[str, ...]
    hangup_by: str | None
    wait_s: float | None
    talk_s: float | None
    recording: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    waybill: str | None
    reconciled: bool
    ivr_path: str | None  # the IVR's path (IVR_PATH): menu nodes and keys, ">"-joined
    customer_id: int | None
    customer_name: str | None


@dataclass(frozen=True, slots=True)
class CheckFindingView:
    rule: str  # greeting, closing, taboo:<category>, silence, talk_over, escalation
    message: str
    at_s: float | None
    speaker: str | None
    phrase: str | None
    deduction: int


@dataclass(frozen=True, slots=True)
class CallCheckView:
    """The service-standard check of a call: score out of 100 and what failed."""

    score: int
    checked_at: datetime
    findings: tuple[CheckFindingView, ...]


@dataclass(frozen=True, slots=True)
class CallEntityView:
    kind: str  # waybill | phone | amount
    value: str  # digits; an amount in yuan ("350", "3.5")
    speaker: str | None
    at_s: float | None
    shipment_waybill: str | None = None  # a waybill of a shipment we know (the console links it)


@dataclass(frozen=True, slots=True)
class CaseCallView:
    call: CallView
    transcripts: tuple[TranscriptView, ...]
    check: CallCheckView | None = None
    entities: tuple[CallEntityView, ...] = ()
    assigned: tuple[str, ...] = ()  # agents a supervisor gave the call to (cases.call_access.assign_call)
    # the reader may not see this call's recording, transcripts, check and entities (left out): an agent
    # that was not on it (agent_console.data.get_case)
    withheld: bool = False


@dataclass(frozen=True, slots=True)
class CaseSummaryView:
    id: int
    number: str  # C20261130-0001 (date in China Standard Time)
    kind: CaseKind
    status: CaseStatus
    subject: str
    priority: Priority
    customer_id: int | None
    customer_name: str | None
    waybill: str | None
    department: Department | None
    assigned_to: str | None
    follow_up_due: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    number: str
    kind: CaseKind
    status: CaseStatus
    subject: str
    description: str
    priority: Priority
    customer: CustomerView | None
    shipment: ShipmentView | None
    department: Department | None
    assigned_to: str | None
    follow_up_due: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    calls: tuple[CaseCallView, ...]  # oldest first, each with its transcripts


@dataclass(frozen=True, slots=True)
class CallerContext:
    """What the agent console shows when a call rings (screen pop)."""

    phone: str  # as given
    phone_normalized: str
    customer: CustomerView | None
    waybill: str | None  # as given
    waybill_lookup: WaybillLookup
    shipment: ShipmentView | None  # the waybill's shipment when found
    recent_shipments: tuple[ShipmentView, ...]  # the customer's, newest first, when no shipment found
    previous_calls: tuple[CallView, ...]  # newest first, at most 10
    open_cases: tuple[CaseSummaryView, ...]  # newest first


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    branch: str = ""  # role branch: the branch (or market area) whose work the user sees
    department: Department | None = None  # role branch: the department whose referrals the user answers


@dataclass(frozen=True, slots=True)
class SessionView:
    """A console session that is still valid (cases.sessions): its key (the SHA-256 of the cookie's
    token), its active user as the database has it now, and when it was last used."""

    key: str
    user: UserView
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """The outcome of `check_login`: the user (None: refused) and, for a hash of an older scheme, the
    argon2id hash to store instead (`upgrade_password_hash`) with the hash it replaces."""

    user: UserView | None
    new_hash: str | None = None
    old_hash: str | None = None


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    who: str
    what: str  # case.create, case.update, case.link_call
    entity: str
    entity_id: str
    at: datetime
    detail_json: str


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """How many rows `seed_demo` created (all zero when the demo data was already there)."""

    customers: int
    shipments: int
    cases: int
    users: int


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class CaseInput:
    kind: str  # CaseKind value
    subject: str
    description: str = ""
    customer_id: int | None = None  # defaults to the linked call's customer
    waybill: str | None = None  # must be a known shipment
    linkedid: str | None = None  # the call to link; may not be recorded yet
    priority: str = Priority.NORMAL
    department: str | None = None  # required when status is referred
    follow_up_due: datetime | None = None  # aware; defaults to +24h when referred
    status: str = CaseStatus.OPEN
    assigned_to: str | None = None


@dataclass(frozen=True, slots=True)
class CaseUpdate:
    """Fields left at their default are not touched. `note` is appended to the description."""

    status: str | None = None
    note: str | None = None
    priority: str | None = None
    assigned_to: str | None | Unset = UNSET
    department: str | None | Unset = UNSET
    follow_up_due: datetime | None | Unset = UNSET


@dataclass(frozen=True, slots=True)
class ShipmentEventInput:
    at: datetime
    status: str
    place: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class ShipmentInput:
    waybill: str
    origin: str
    destination: str
    shipper_customer_id: int | None = None
    shipper_phone: str = ""
    consignee_name: str = ""
    consignee_phone: str = ""
    events: tuple[ShipmentEventInput, ...] = ()
