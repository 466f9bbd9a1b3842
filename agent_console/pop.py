"""The screen pop: everything an agent sees when a call rings, built from the domain events the
console remembered (caller, hotline, IVR keys, WAYBILL) and `cases.caller_context.caller_context`."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from agent_console.calls import CallInfo
from cases.caller_claims import claim_stages
from cases.caller_context import caller_context
from cases.customers import customer_view
from cases.db import Database
from cases.errors import CasesError
from cases.models.customers import Customer, CustomerPhone
from cases.phones import normalize_phone, phone_tail, phones_match
from cases.shipment_sources import ShipmentSource
from cases.views import CallerContext, CallView, CaseSummaryView, CustomerView, ShipmentView
from cases.vocab import CaseKind, ClaimStage
from ivr.actions import suggested_case_kind
from ivr.config import HotlineMenu, Option, shipped_menus
from telephony.events import AgentRinging

log = logging.getLogger(__name__)


# --- IVR choices ------------------------------------------------------------------------------


class MenuSource(Protocol):
    """The menus the IVR runs (`ivr.config.MenuStore`: the menu files, reloaded when one changes)."""

    def get(self, hotline: str) -> HotlineMenu | None: ...


@dataclass(frozen=True, slots=True)
class IvrChoice:
    digit: str
    label_zh: str  # "" for a key that is no choice of the hotline's menu
    label_en: str


def _menu(hotline: str, menus: MenuSource | None) -> HotlineMenu | None:
    return (menus or shipped_menus()).get(hotline) if hotline else None


def _pressed(menu: HotlineMenu, digits: str) -> list[tuple[str, Option | None]]:
    """The menu keys the caller pressed: invalid keys up to the first valid option, which ends the menu part;
    the keys after it are data (the waybill number) and are left out."""
    pressed: list[tuple[str, Option | None]] = []
    for d in digits:
        option = menu.option(d)
        pressed.append((d, option))
        if option is not None:
            break
    return pressed


def ivr_choices(hotline: str, digits: str, menus: MenuSource | None = None) -> tuple[IvrChoice, ...]:
    """The menu keys the caller pressed, labelled from the menus the IVR runs (`menus`; default: the
    shipped menu files)."""
    menu = _menu(hotline, menus)
    if menu is None:
        return tuple(IvrChoice(d, "", "") for d in digits)
    return tuple(IvrChoice(d, o.label_zh, o.label_en) if o is not None else IvrChoice(d, "", "")
                 for d, o in _pressed(menu, digits))


def suggested_kind(hotline: str, digits: str, menus: MenuSource | None = None) -> str:
    """The case kind the form proposes: the one of the action the caller chose in the IVR's menu, else of
    the queue it sends to (ivr.actions); no choice: of the hotline's agent queue."""
    menu = _menu(hotline, menus)
    if menu is None:
        return CaseKind.INQUIRY.value
    chosen = next((o for _, o in _pressed(menu, digits) if o is not None), None)
    if chosen is None:
        return suggested_case_kind(None, menu.agent_queue).value
    return suggested_case_kind(chosen.action, chosen.queue).value


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat(timespec="seconds") if ts is not None else None


@dataclass(frozen=True, slots=True)
class PopCustomer:
    id: int
    name: str
    kind: str  # cases.vocab.CustomerKind value
    phones: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class PopShipmentEvent:
    at: str  # ISO 8601
    place: str
    status: str
    note: str


@dataclass(frozen=True, slots=True)
class PopShipment:
    waybill: str
    status: str  # latest status, e.g. 运输中
    origin: str
    destination: str
    shipper_name: str
    consignee_name: str
    consignee_phone: str
    events: tuple[PopShipmentEvent, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class PopCall:
    linkedid: str
    started_at: str | None
    hotline: str
    outcome: str
    agent: str | None
    waybill: str | None
    ivr_path: str | None


@dataclass(frozen=True, slots=True)
class PopCase:
    id: int
    number: str
    kind: str
    status: str
    subject: str
    department: str | None
    created_at: str
    follow_up_due: str | None
    # a claim's stage (理赔阶段), so the agent can 督促理赔员按时完成理赔; None for other kinds
    claim_stage: str | None = None
    claim_stage_zh: str | None = None
    claim_stage_en: str | None = None


@dataclass(frozen=True, slots=True)
class ScreenPop:
    linkedid: str
    agent: str  # the ringing agent's peer name
    queue: str
    caller: str
    caller_name: str
    hotline: str  # service | claims | ""
    dialed: str
    ivr_digits: str
    ivr_choices: tuple[IvrChoice, ...]
    ivr_path: str | None  # the IVR's path (channel variable IVR_PATH), e.g. menu=1:tracking>waybill=…>agent=service
    suggested_kind: str  # a cases.vocab.CaseKind value for the case form
    waybill: str | None  # as entered in the IVR (CallVariable WAYBILL)
    waybill_lookup: str  # none | invalid | not_found | found | unavailable
    shipment: PopShipment | None
    customer: PopCustomer | None  # the one customer the caller's number matches, if exactly one
    # every customer the number or the waybill points to (shipper, consignee): 2+ = a choice list
    candidates: tuple[PopCustomer, ...]
    previous_calls: tuple[PopCall, ...]  # newest first, this call left out
    open_cases: tuple[PopCase, ...]  # newest first
    recent_shipments: tuple[PopShipment, ...]  # the customer's, when the waybill gave none
    lookup_error: str | None  # set when the database could not be asked
    rang_at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _customer(c: CustomerView | None) -> PopCustomer | None:
    if c is None:
        return None
    return PopCustomer(id=c.id, name=c.name, kind=str(c.kind), phones=c.phones, note=c.note)


def _shipment(s: ShipmentView) -> PopShipment:
    return PopShipment(
        waybill=s.waybill,
        status=s.status,
        origin=s.origin,
        destination=s.destination,
        shipper_name=s.shipper_name,
        consignee_name=s.consignee_name,
        consignee_phone=s.consignee_phone,
        events=tuple(
            PopShipmentEvent(at=e.at.isoformat(timespec="seconds"), place=e.place, status=e.status, note=e.note)
            for e in s.events
        ),
    )


def _call(c: CallView) -> PopCall:
    return PopCall(
        linkedid=c.linkedid,
        started_at=_iso(c.started_at),
        hotline=c.hotline or "",
        outcome=c.outcome,
        agent=c.agent,
        waybill=c.waybill,
        ivr_path=c.ivr_path,
    )


def _case(c: CaseSummaryView, stages: dict[int, ClaimStage]) -> PopCase:
    stage = stages.get(c.id)
    return PopCase(
        id=c.id,
        number=c.number,
        kind=str(c.kind),
        status=str(c.status),
        subject=c.subject,
        department=str(c.department) if c.department is not None else None,
        created_at=c.created_at.isoformat(timespec="seconds"),
        follow_up_due=_iso(c.follow_up_due),
        claim_stage=stage.value if stage is not None else None,
        claim_stage_zh=stage.label_zh if stage is not None else None,
        claim_stage_en=stage.value.replace("_", " ").capitalize() if stage is not None else None,
    )


def customer_candidates(s: Session, phone: str, shipment: ShipmentView | None) -> tuple[CustomerView, ...]:
    """Customers whose phone matches the caller's number (exactly or by its tail, as
    `cases.customers` matches), and the shipment's shipper and consignee. Read only: an unknown
    caller creates nothing."""
    found: dict[int, CustomerView] = {}
    norm = normalize_phone(phone)
    phones: list[str] = [norm] if norm else []
    if shipment is not None and shipment.consignee_phone:
        phones.append(normalize_phone(shipment.consignee_phone))
    for number in phones:
        key = phone_tail(number)
        stmt = select(CustomerPhone).where(
            CustomerPhone.phone == number if key is None else CustomerPhone.tail == key)
        for row in s.scalars(stmt.limit(50)).all():
            if row.phone == number or phones_match(row.phone, number):
                found.setdefault(row.customer_id, customer_view(row.customer))
    if shipment is not None and shipment.shipper_customer_id is not None and shipment.shipper_customer_id not in found:
        shipper = s.get(Customer, shipment.shipper_customer_id)
        if shipper is not None:
            found[shipper.id] = customer_view(shipper)
    return tuple(found.values())


def build_screen_pop(
    ringing: AgentRinging,
    info: CallInfo | None,
    context: CallerContext | None,
    lookup_error: str | None = None,
    candidates: tuple[CustomerView, ...] = (),
    menus: MenuSource | None = None,
    claim_stages: tuple[tuple[int, ClaimStage], ...] = (),
) -> ScreenPop:
    """Pure: the pop from what the events said, what the database knows (None if it failed) and the
    IVR's menus (default: the shipped menu files)."""
    info = info or CallInfo(linkedid=ringing.linkedid, caller=ringing.caller, queue=ringing.queue)
    waybill = info.waybill
    choices = ivr_choices(info.hotline, info.digits, menus)
    if context is None:
        lookup = "unavailable" if waybill else "none"
    else:
        lookup = str(context.waybill_lookup.value)
    return ScreenPop(
        linkedid=ringing.linkedid,
        agent=ringing.agent,
        queue=ringing.queue,
        caller=info.caller or ringing.caller,
        caller_name=info.caller_name,
        hotline=info.hotline,
        dialed=info.dialed,
        ivr_digits=info.digits,
        ivr_choices=choices,
        ivr_path=info.ivr_path or None,
        suggested_kind=suggested_kind(info.hotline, info.digits, menus),
        waybill=waybill,
        waybill_lookup=lookup,
        shipment=_shipment(context.shipment) if context and context.shipment else None,
        customer=_customer(context.customer) if context else None,
        candidates=tuple(c for c in (_customer(x) for x in candidates) if c is not None),
        previous_calls=tuple(
            _call(c) for c in (context.previous_calls if context else ()) if c.linkedid != ringing.linkedid
        ),
        open_cases=tuple(_case(c, dict(claim_stages)) for c in (context.open_cases if context else ())),
        recent_shipments=tuple(_shipment(x) for x in (context.recent_shipments if context else ())),
        lookup_error=lookup_error,
        rang_at=ringing.at,
    )


@dataclass(frozen=True, slots=True)
class PopLookup:
    """What the database says about a caller (and the IVR's waybill): one per call, shared by every
    phone it rings. `error` is set (and `context` None) when the database could not be asked."""

    caller: str
    waybill: str | None
    context: CallerContext | None
    candidates: tuple[CustomerView, ...] = ()
    error: str | None = None
    claim_stages: tuple[tuple[int, ClaimStage], ...] = ()  # (case id, its claim's stage) of the open claims


class PopBuilder:
    """Looks the caller up in the database and builds the pop; a failed lookup still gives a pop."""

    def __init__(self, db: Database, shipments: ShipmentSource | None = None, menus: MenuSource | None = None) -> None:
        self._db = db
        self._shipments = shipments  # None: the embedded shipments table
        self._menus = menus or shipped_menus()  # the menus the IVR runs: labels and suggested case kind


    @property
    def menus(self) -> MenuSource:
        """The menus the pops label keys from (the IVR's)."""
        return self._menus
    def lookup(self, caller: str, waybill: str | None, linkedid: str) -> PopLookup:
        try:
            with self._db.reading() as s:
                context = caller_context(s, caller, waybill, exclude_linkedid=linkedid, shipments=self._shipments)
                candidates = customer_candidates(s, caller, context.shipment)
                stages = claim_stages(s, (c.id for c in context.open_cases if c.kind is CaseKind.CLAIM))
        except (CasesError, SQLAlchemyError) as exc:
            log.warning("screen pop for %s without caller context: %s", linkedid, exc)
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return PopLookup(caller, waybill, None, error=first_line)
        return PopLookup(caller, waybill, context, candidates, claim_stages=tuple(sorted(stages.items())))

    @staticmethod
    def lookup_key(ringing: AgentRinging, info: CallInfo | None) -> tuple[str, str | None]:
        """(caller, waybill) the lookup for this ring must be made with."""
        caller = info.caller if info is not None and info.caller else ringing.caller
        return caller, (info.waybill if info is not None else None)

    def from_lookup(self, ringing: AgentRinging, info: CallInfo | None, found: PopLookup) -> ScreenPop:
        if found.context is None:
            return build_screen_pop(ringing, info, None, lookup_error=found.error, menus=self._menus)
        return build_screen_pop(ringing, info, found.context, candidates=found.candidates, menus=self._menus,
                                claim_stages=found.claim_stages)

    def build(self, ringing: AgentRinging, info: CallInfo | None) -> ScreenPop:
        caller, waybill = self.lookup_key(ringing, info)
        return self.from_lookup(ringing, info, self.lookup(caller, waybill, ringing.linkedid))
