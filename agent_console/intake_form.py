"""The screen pop's new-case form, the fields of each kind (cases.intake): a complaint's type (投诉类型,
default 其他) and branch (相关分公司); a claim's accident cause (事故原因, default 其他), amount claimed (理赔金额,
optional: 0) and branch; a change request's field (更改项目) and new value, both or neither. Checked before
anything is written: a field of another kind, an unknown choice or a malformed amount is a `BadIntakeField`
(`key`: an i18n key) and nothing is stored."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from flask import url_for

from cases.errors import InvalidWorkflowInput
from cases.intake import ChangeIntake, ClaimIntake, ComplaintIntake, Details, IntakeView
from cases.money import to_fen
from cases.vocab import AccidentCause, CaseKind, ChangeField, ClaimChannel, ComplaintType

BRANCH_MAX_LEN = 100

# the form's fields of each kind (besides the case's own: kind, subject, waybill ...)
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    CaseKind.COMPLAINT.value: ("complaint_type", "branch"),
    CaseKind.CLAIM.value: ("accident_cause", "claimed", "branch"),
    CaseKind.CHANGE_REQUEST.value: ("change_field", "change_value"),
}
INTAKE_FIELDS = frozenset(f for fields in KIND_FIELDS.values() for f in fields)


class BadIntakeField(Exception):
    """A kind's field was rejected before anything was written. `key` is an i18n key."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key


def split_intake(payload: object) -> tuple[dict[str, Any], object]:
    """(the kind's fields, the rest of the form: the case's own fields)."""
    if not isinstance(payload, dict):
        return {}, payload
    mine = {k: v for k, v in payload.items() if k in INTAKE_FIELDS}
    rest = {k: v for k, v in payload.items() if k not in INTAKE_FIELDS}
    return mine, rest


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadIntakeField("case.err.type", f"{name} must be a string")
    return value.strip()


def _choice(fields: dict[str, Any], name: str, enum: type[StrEnum], default: str) -> str:
    value = _text(fields, name) or default
    if value not in {m.value for m in enum}:
        raise BadIntakeField(f"intake.err.{name}",
                             f"{name}: unknown {value!r}; expected one of {', '.join(m.value for m in enum)}")
    return value


def _amount(fields: dict[str, Any]) -> Decimal:
    raw = fields.get("claimed")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Decimal(0)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise BadIntakeField("intake.err.claimed", "claimed must be an amount of yuan")
    text = str(raw).strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        amount = Decimal(text)
        to_fen(amount, "claimed amount")
    except (InvalidOperation, InvalidWorkflowInput) as exc:
        detail = str(exc) if isinstance(exc, InvalidWorkflowInput) else f"claimed: {raw!r} is not an amount of yuan"
        raise BadIntakeField("intake.err.claimed", detail) from None
    return amount


def _branch(fields: dict[str, Any]) -> str:
    branch = _text(fields, "branch")
    if len(branch) > BRANCH_MAX_LEN:
        raise BadIntakeField("intake.err.branch", f"branch is longer than {BRANCH_MAX_LEN} characters")
    return branch


def parse_details(kind: str, fields: dict[str, Any], *, waybill: str | None) -> Details | None:
    """The kind's details from its fields (`fields`: only the form's kind fields, see `split_intake`)."""
    allowed = KIND_FIELDS.get(kind, ())
    stray = sorted(f for f, v in fields.items() if f not in allowed and v not in (None, ""))
    if stray:
        raise BadIntakeField("intake.err.not_for_kind", f"a {kind} case does not take {', '.join(stray)}")
    if kind == CaseKind.COMPLAINT:
        return ComplaintIntake(complaint_type=_choice(fields, "complaint_type", ComplaintType, ComplaintType.OTHER),
                               branch=_branch(fields))
    if kind == CaseKind.CLAIM:
        return ClaimIntake(channel=ClaimChannel.AGENT.value,
                           accident_cause=_choice(fields, "accident_cause", AccidentCause, AccidentCause.OTHER),
                           claimed=_amount(fields), branch=_branch(fields))
    if kind == CaseKind.CHANGE_REQUEST:
        field, value = _text(fields, "change_field"), _text(fields, "change_value")
        if not field and not value:
            return None
        if not field or not value:
            raise BadIntakeField("intake.err.change_pair", "a change needs both the field and the new value")
        field = _choice(fields, "change_field", ChangeField, "")
        if not waybill:
            raise BadIntakeField("intake.err.change_waybill", "a change needs the waybill of the shipment to change")
        return ChangeIntake(field=field, new_value=value, reason="来电 call")
    return None


def intake_json(taken: IntakeView, case_json: dict[str, Any]) -> dict[str, Any]:
    """The form's answer: the case (`case_json`) and its workflow record, with the desk page it is on."""
    body = dict(case_json)
    body["complaint_id"] = taken.complaint.id if taken.complaint is not None else None
    body["claim_id"] = taken.claim.id if taken.claim is not None else None
    body["claim_stage"] = str(taken.claim.stage) if taken.claim is not None else None
    body["change_request_id"] = taken.change.id if taken.change is not None else None
    if taken.complaint is not None:
        body["desk_url"] = url_for("complaints.page", complaint_id=taken.complaint.id)
    elif taken.claim is not None:
        body["desk_url"] = url_for("claims.claim_page", claim_id=taken.claim.id)
    else:
        body["desk_url"] = None
    return body
