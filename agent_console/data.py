"""The console's reads and writes, each one transaction through `cases`.

HTTP handlers stay thin: they call these and turn the named exceptions into status codes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from agent_console.intake_form import BadIntakeField, parse_details, split_intake
from cases import accounts, call_access, call_records, case_records, changes, wrap_ups
from cases.changes import ChangeRequestView
from cases.db import Database
from cases.errors import CallNotFound, CaseNotFound, CasesError, InvalidCaseInput, ShipmentSourceError
from cases.ids import MAX_ID, is_row_id
from cases.intake import IntakeView, take_in
from cases.local_time import CHINA_TZ
from cases.prompt_faults import recent_prompt_faults
from cases.shipment_sources import ShipmentSource, copy_into_table
from cases.views import UNSET, CaseInput, CaseSummaryView, CaseUpdate, CaseView, UserView
from cases.vocab import CaseKind, CaseStatus, Department, Role

log = logging.getLogger(__name__)

CASE_FIELDS = ("kind", "subject", "description", "department", "waybill", "linkedid", "customer_id")


class ConsoleError(Exception):
    """Base of the console's own named errors."""


class BadCaseRequest(ConsoleError):
    """The case form's JSON was rejected before anything was written. `key` is an i18n key."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key


class RecordingUnavailable(ConsoleError):
    """No such call, no recording, or the file is not where the console may serve from."""


class CallRefused(ConsoleError):
    """The user may not link the call to a case: an agent that was not on it (403), or a call that is
    neither stored nor live (404, and nothing is stored). `key` is an i18n key."""

    def __init__(self, key: str, detail: str, status: int) -> None:
        super().__init__(detail)
        self.key = key
        self.status = status


@dataclass(frozen=True, slots=True)
class CallUser:
    """Who links a call to a case or reads a case's calls, as the console knows them at this request.

    `all_calls`: a role that sees every call (security capability "all_calls": supervisors, claims,
    inspectors, admins); otherwise an agent, who sees the calls it was on or was assigned
    (cases.call_access.may_see_call). `live(linkedid)`: the call is live with this user now (its pop, the
    call it talks on, or one just ended whose record is on its way to the database; for `all_calls`
    users: live at all) — a call being answered right now is not stored yet, and only such a call
    may be linked before it is (a pending row that the call's record fills in at its end)."""

    username: str
    all_calls: bool
    live: Callable[[str], bool]


def _may_link(s: Session, linkedid: str, user: CallUser) -> bool:
    """Whether `user` may link the call; True: it is not stored yet but live with the user (link as
    pending). CallRefused otherwise."""
    lid = linkedid.strip()
    if user.all_calls:
        if call_records.get_call(s, lid) is not None:
            return False
        if user.live(lid):
            return True
        raise CallRefused("case.err.no_call", f"no call {lid}", 404)
    seen = call_access.agent_may_see_call(s, lid, user.username)
    if seen:
        return False
    if user.live(lid):
        return seen is None
    if seen is None:
        raise CallRefused("case.err.no_call", f"no call {lid}", 404)
    log.warning("%s refused: link call %s to a case (not on the call)", user.username, lid)
    raise CallRefused("case.err.not_your_call", f"{user.username} was not on call {lid}", 403)


def authenticate(db: Database, username: str, password: str) -> UserView | None:
    """Verify in a read-only session (no write lock while argon2 works); an older hash is upgraded
    to argon2id afterwards in a short write."""
    with db.reading() as s:
        check = accounts.check_login(s, username, password)
    if check.new_hash is not None:
        with db.session() as s:
            accounts.upgrade_password_hash(s, check)
    return check.user


def _optional_text(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadCaseRequest("case.err.type", f"{field} must be a string")
    return value.strip() or None


def parse_case_input(payload: object) -> CaseInput:
    """Check the case form's JSON: {kind, subject, description?, department?, waybill?, linkedid?,
    customer_id?} (the pop's customer: the call itself may not be recorded yet).

    A department means the case is referred (转交) to it at once.
    """
    if not isinstance(payload, dict):
        raise BadCaseRequest("case.err.json", "the body must be a JSON object")
    unknown = sorted(set(payload) - set(CASE_FIELDS))
    if unknown:
        raise BadCaseRequest("case.err.unknown_field", f"unknown fields: {', '.join(unknown)}")
    kind = _optional_text(payload, "kind")
    if kind not in {k.value for k in CaseKind}:
        raise BadCaseRequest("case.err.kind", f"kind must be one of {', '.join(k.value for k in CaseKind)}")
    subject = _optional_text(payload, "subject")
    if subject is None:
        raise BadCaseRequest("case.err.subject", "subject is required")
    department = _optional_text(payload, "department")
    if department is not None and department not in {d.value for d in Department}:
        raise BadCaseRequest("case.err.department", f"unknown department {department!r}")
    waybill = _optional_text(payload, "waybill")
    customer_id = payload.get("customer_id")
    if customer_id is not None and not is_row_id(customer_id):
        raise BadCaseRequest("case.err.type", f"customer_id must be a customer's id (1 to {MAX_ID})")
    return CaseInput(
        kind=kind,
        subject=subject,
        description=_optional_text(payload, "description") or "",
        waybill=waybill.replace(" ", "") if waybill else None,
        linkedid=_optional_text(payload, "linkedid"),
        customer_id=customer_id,
        department=department,
        status=CaseStatus.REFERRED if department else CaseStatus.OPEN,
    )


def create_case(db: Database, payload: object, user: CallUser, shipments: ShipmentSource | None = None) -> IntakeView:
    """Create a case from the form's JSON with its workflow record (cases.intake: a complaint's, a claim's, a
    change request's, from the kind's fields, agent_console.intake_form); `BadCaseRequest` or a
    `cases.errors.InvalidInput`. With a transport-management system as the shipment source, a waybill only
    it knows is copied into the table first (an unreachable system is an `InvalidCaseInput`, and nothing is
    stored). Its call (`linkedid`) only as `CallUser` says: `CallRefused` for a call the user may not link."""
    kind_fields, rest = split_intake(payload)
    case_input = parse_case_input(rest)
    try:
        details = parse_details(case_input.kind, kind_fields, waybill=case_input.waybill)
    except BadIntakeField as exc:
        raise BadCaseRequest(exc.key, str(exc)) from None
    by = user.username
    with db.session() as s:
        pending_ok = _may_link(s, case_input.linkedid, user) if case_input.linkedid else False
        if shipments is not None and case_input.waybill:
            try:
                copy_into_table(s, shipments, case_input.waybill)
            except ShipmentSourceError as exc:
                raise InvalidCaseInput(
                    f"waybill {case_input.waybill}: the shipment cannot be looked up now ({exc})") from None
        try:
            taken = take_in(s, case_input, by, details, pending_ok=pending_ok)
        except CallNotFound:  # stored by nobody meanwhile: as if unknown
            raise CallRefused("case.err.no_call", f"no call {case_input.linkedid}", 404) from None
    log.info("case %s created by %s (call %s)", taken.case.number, by, case_input.linkedid)
    return taken


def get_case(db: Database, case_id: int, user: CallUser) -> CaseView:
    """The case as `user` may see it: an agent gets the calls it was not on (nor assigned, nor live with
    it now: a pending row) without their recording, transcripts, check and entities (`withheld`)."""
    with db.session() as s:
        case = case_records.get_case(s, case_id)
    if user.all_calls:
        return case
    calls = tuple(c if call_access.may_see_call(c, user.username) or user.live(c.call.linkedid)
                  else replace(c, transcripts=(), check=None, entities=(), withheld=True,
                               call=replace(c.call, recording=None))
                  for c in case.calls)
    return replace(case, calls=calls)


def recording_file(db: Database, linkedid: str, recordings_dir: Path | None) -> Path:
    """The call's WAV file, only if it lies under `recordings_dir` and exists."""
    if recordings_dir is None:
        raise RecordingUnavailable("no recordings directory configured")
    recording = _recording_of(db, linkedid)
    if not recording:
        raise RecordingUnavailable(f"call {linkedid} has no recording")
    root = recordings_dir.resolve()
    path = Path(recording)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root):
        log.warning("recording of %s lies outside %s: %s", linkedid, root, path)
        raise RecordingUnavailable(f"recording of {linkedid} is outside the recordings directory")
    if path.suffix.lower() != ".wav" or not path.is_file():
        raise RecordingUnavailable(f"recording of {linkedid} not found")
    return path


def _recording_of(db: Database, linkedid: str) -> str | None:
    """The recording path stored on the call."""
    try:
        with db.session() as s:
            call = call_records.get_call(s, linkedid)
    except CasesError as exc:
        raise RecordingUnavailable(str(exc)) from None
    if call is None:
        raise RecordingUnavailable(f"no call {linkedid}")
    return call.recording


def prompt_faults(db: Database) -> list[dict[str, Any]] | None:
    """The prompts the PBX could not play in the last day (cases.prompt_faults), for /status; None when they
    cannot be read."""
    try:
        with db.reading() as s:
            faults = recent_prompt_faults(s, datetime.now(UTC))
    except (CasesError, SQLAlchemyError) as exc:
        log.warning("prompt faults not read: %s", exc)
        return None
    return [{"prompt": f.prompt, "hotline": f.hotline, "count": f.count, "first_at": f.first_at.isoformat(),
             "last_at": f.last_at.isoformat()} for f in faults]


def status(db: Database) -> tuple[bool, str | None]:
    """(database reachable, error message)."""
    try:
        db.check()
    except CasesError as exc:
        return False, str(exc)
    return True, None


# --- case work from the pop -------------------------------------------------------------------

UPDATE_FIELDS = ("status", "note", "department", "follow_up_due", "wrap_up_code")
CALLBACK_MARKER = "回电请求"  # the IVR's callback cases: subject "IVR: 回电请求 callback request"
IVR_USER = "ivr"


def _parse_due(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadCaseRequest("case.err.type", "follow_up_due must be an ISO 8601 date-time")
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        raise BadCaseRequest("case.err.due", f"follow_up_due {value!r} is not an ISO 8601 date-time") from None
    if due.tzinfo is None:
        due = due.replace(tzinfo=CHINA_TZ)  # a browser's datetime-local is the centre's local time
    return due


def parse_case_update(payload: object, wrap_up_labels: dict[str, str]) -> CaseUpdate:
    """{status?, note?, department? (refers the case), follow_up_due? (ISO), wrap_up_code?}."""
    if not isinstance(payload, dict):
        raise BadCaseRequest("case.err.json", "the body must be a JSON object")
    unknown = sorted(set(payload) - set(UPDATE_FIELDS))
    if unknown:
        raise BadCaseRequest("case.err.unknown_field", f"unknown fields: {', '.join(unknown)}")
    status = _optional_text(payload, "status")
    note = _optional_text(payload, "note")
    department = _optional_text(payload, "department")
    if department is not None and department not in {d.value for d in Department}:
        raise BadCaseRequest("case.err.department", f"unknown department {department!r}")
    code = _optional_text(payload, "wrap_up_code")
    if code is not None:
        if code not in wrap_up_labels:
            raise BadCaseRequest("case.err.wrap_up", f"unknown wrap-up code {code!r}")
        line = f"话后代码 wrap-up: {code} ({wrap_up_labels[code]})"
        note = f"{line}\n{note}" if note else line
    due = _parse_due(payload.get("follow_up_due"))
    if department is not None and status is None:
        status = CaseStatus.REFERRED.value
    return CaseUpdate(
        status=status,
        note=note,
        department=department if department is not None else UNSET,
        follow_up_due=due if "follow_up_due" in payload else UNSET,
    )


def update_case(db: Database, case_id: int, payload: object, by: str, wrap_up_labels: dict[str, str]) -> CaseView:
    update = parse_case_update(payload, wrap_up_labels)
    code = payload.get("wrap_up_code") if isinstance(payload, dict) else None
    with db.session() as s:
        case = case_records.update_case(s, case_id, update, by)
        if isinstance(code, str) and code.strip() in wrap_up_labels:  # the note line stays, for the history
            wrap_ups.record_wrap_up(s, case_id, code.strip(), wrap_up_labels[code.strip()], by)
    log.info("case %s updated by %s", case.number, by)
    return case


def request_change(db: Database, case_id: int, payload: object, by: str) -> ChangeRequestView:
    """{field: consignee_name|consignee_phone|consignee_address, new_value, reason?} → a change request on
    the case (decided on the changes desk: agent_console.changes_desk)."""
    if not isinstance(payload, dict):
        raise BadCaseRequest("case.err.json", "the body must be a JSON object")
    unknown = sorted(set(payload) - {"field", "new_value", "reason"})
    if unknown:
        raise BadCaseRequest("case.err.unknown_field", f"unknown fields: {', '.join(unknown)}")
    fld = _optional_text(payload, "field")
    value = _optional_text(payload, "new_value")
    if fld is None or value is None:
        raise BadCaseRequest("change.err.missing", "field and new_value are required")
    with db.session() as s:
        return changes.request_change(s, case_id, field=fld, new_value=value,
                                      reason=_optional_text(payload, "reason") or "", by=by)


@dataclass(frozen=True, slots=True)
class CallbackTask:
    case_id: int
    number: str  # case number
    caller: str  # the number to call back
    subject: str
    created_at: str
    status: str
    assigned_to: str | None


def callback_tasks(db: Database, limit: int = 50) -> tuple[CallbackTask, ...]:
    """Open callback requests the IVR registered (inquiry cases by the IVR with the callback marker)."""
    out: list[CallbackTask] = []
    with db.session() as s:
        for summary in case_records.list_cases(s, kind=CaseKind.INQUIRY.value, limit=500):
            if summary.created_by != IVR_USER or CALLBACK_MARKER not in summary.subject:
                continue
            if summary.status not in (CaseStatus.OPEN, CaseStatus.IN_PROGRESS):
                continue
            case = case_records.get_case(s, summary.id)
            caller = next((c.call.caller for c in case.calls if c.call.caller), "")
            if not caller and case.customer is not None and case.customer.phones:
                caller = case.customer.phones[0]
            out.append(CallbackTask(case.id, case.number, caller, case.subject,
                                    case.created_at.isoformat(timespec="seconds"), str(case.status),
                                    case.assigned_to))
            if len(out) >= limit:
                break
    return tuple(out)


def callback_task(db: Database, case_id: int) -> CallbackTask:
    for task in callback_tasks(db, limit=500):
        if task.case_id == case_id:
            return task
    raise CaseNotFound(f"case {case_id} is no open callback request")


def accept_callback(db: Database, task: CallbackTask, user: CallUser) -> CaseView:
    """The callback task is the user's; an agent is given the case's calls no agent was on (the IVR's:
    the caller's message), so it sees their recording and transcript."""
    by = user.username
    with db.session() as s:
        case = case_records.update_case(s, task.case_id, CaseUpdate(
            status=CaseStatus.IN_PROGRESS.value if task.status == CaseStatus.OPEN.value else None,
            note=f"回电 callback: {by} 接受回电任务，呼叫 {task.caller}", assigned_to=by), by)
        if not user.all_calls:
            for linked in case.calls:
                if not (linked.call.agent or linked.call.agents or linked.call.rang):
                    call_access.assign_call(s, linked.call.linkedid, by, by, via="callback")
        return case


def recording_allowed(db: Database, linkedid: str, agent: str) -> bool | None:
    """An agent may hear the calls it was on (took, talked on, rang for) or was assigned; None: no such call."""
    with db.session() as s:
        return call_access.agent_may_see_call(s, linkedid, agent)


def active_agents(db: Database) -> tuple[UserView, ...]:
    """Users of role agent that may log in: whom a supervisor may give a call."""
    with db.reading() as s:
        return tuple(u for u in accounts.list_users(s) if u.role is Role.AGENT and u.active)


def assign_call(db: Database, linkedid: str, agent: str, by: str) -> bool:
    """A supervisor gives an agent a call (cases.call_access.assign_call)."""
    with db.session() as s:
        return call_access.assign_call(s, linkedid, agent, by)


def recent_cases(db: Database, limit: int = 100) -> tuple[CaseSummaryView, ...]:
    with db.session() as s:
        return case_records.list_cases(s, limit=limit)
