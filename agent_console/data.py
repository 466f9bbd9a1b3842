"""The console's reads and writes, each one transaction through `cases.services`.

HTTP handlers stay thin: they call these and turn the named exceptions into status codes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cases import services
from cases.db import Database
from cases.errors import CasesError
from cases.views import CaseInput, CaseView, UserView
from cases.vocab import CaseKind, CaseStatus, Department

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


def authenticate(db: Database, username: str, password: str) -> UserView | None:
    with db.session() as s:
        return services.authenticate(s, username, password)


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
    if customer_id is not None and (isinstance(customer_id, bool) or not isinstance(customer_id, int)):
        raise BadCaseRequest("case.err.type", "customer_id must be an integer")
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


def create_case(db: Database, payload: object, by: str) -> CaseView:
    """Create a case from the form's JSON; `BadCaseRequest` or a `cases.errors.InvalidInput`."""
    case_input = parse_case_input(payload)
    with db.session() as s:
        case = services.create_case(s, case_input, by)
    log.info("case %s created by %s (call %s)", case.number, by, case_input.linkedid)
    return case


def get_case(db: Database, case_id: int) -> CaseView:
    with db.session() as s:
        return services.get_case(s, case_id)


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
            call = services.get_call(s, linkedid)
    except CasesError as exc:
        raise RecordingUnavailable(str(exc)) from None
    if call is None:
        raise RecordingUnavailable(f"no call {linkedid}")
    return call.recording


def status(db: Database) -> tuple[bool, str | None]:
    """(database reachable, error message)."""
    try:
        db.check()
    except CasesError as exc:
        return False, str(exc)
    return True, None
