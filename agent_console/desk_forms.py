"""What the desks' pages share (claims, inspections, branch and complaints desks): the logged-in user,
form fields parsed (a missing or malformed one is a `FormError`), the banner for a step done or refused
(`notice_for`: 409 for a step the stage does not allow, 400 for bad input, 503 when the database is away),
and vocabulary, money and times in the page's language (`template_helpers`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask import request

from agent_console.auth import SessionUser, current_user
from agent_console.i18n import current_language, translate
from cases.errors import DatabaseUnavailable, EvidenceRejected, IllegalTransition, InvalidInput
from cases.ids import parse_row_id
from cases.vocab import ClaimStage, ComplaintStage, FindingStage, IncidentStage

log = logging.getLogger(__name__)

CENTRE_TZ = ZoneInfo("Asia/Shanghai")  # the forms' date-times are the centre's local time


class FormError(Exception):
    """A form field is missing or malformed; `key` is an i18n key, `detail` what was wrong."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.key = key
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Notice:
    """The banner above a page: what happened (ok) or why nothing happened (error)."""

    kind: str  # "ok" | "error"
    text: str
    detail: str = ""


def signed_in_user() -> SessionUser:
    user = current_user()
    assert user is not None  # requires() ran first
    return user


def _t(key: str) -> str:
    return translate(current_language(), key)


def label(member: StrEnum | None) -> str:
    """A vocabulary value in the page's language: the standard's Chinese word, or English."""
    if member is None:
        return "–"
    if current_language() == "zh-CN":
        zh: str = getattr(member, "label_zh", member.value)
        return zh
    key = f"vocab.{type(member).__name__}.{member.value}"
    found = _t(key)
    return found if found != key else member.value.replace("_", " ").capitalize()


def action_label(workflow: str, action: str) -> str:
    return _t(f"action.{workflow}.{action}")


def money(value: Decimal | None) -> str:
    return "–" if value is None else f"¥{value:,.2f}"


def percent(value: Decimal) -> str:
    """33.33 -> "33.33", 70.00 -> "70" (no exponent)."""
    text = f"{value.normalize():f}"
    return text


def local(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(CENTRE_TZ).strftime("%Y-%m-%d %H:%M")


def template_helpers() -> dict[str, Any]:
    """The desks' template helpers (app-wide: the reports page uses them too)."""
    return {"label": label, "action_label": action_label, "money": money, "local": local, "percent": percent}


# --- form parsing ----------------------------------------------------------------------------------


def form_field(name: str, *, required: bool = False, max_len: int = 10_000) -> str:
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise FormError("work.err.required", f"{name} is required")
    if len(value) > max_len:
        raise FormError("work.err.too_long", f"{name} is longer than {max_len} characters")
    return value


def form_amount(name: str, *, required: bool = True) -> Decimal | None:
    raw = form_field(name, required=required).replace(",", "").replace("¥", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FormError("work.err.amount", f"{name}: {raw!r} is not an amount of money") from None
    if not value.is_finite():
        raise FormError("work.err.amount", f"{name}: {raw!r} is not an amount of money")
    return value


def form_when(name: str, *, required: bool = True) -> datetime | None:
    raw = form_field(name, required=required)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise FormError("work.err.datetime", f"{name}: {raw!r} is not a date and time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=CENTRE_TZ)


def form_choice(name: str, enum: type[StrEnum]) -> str:
    value = form_field(name, required=True)
    if value not in {m.value for m in enum}:
        raise FormError("work.err.choice", f"{name}: {value!r} is not one of {', '.join(m.value for m in enum)}")
    return value


def form_row_id(name: str) -> int:
    """A form field naming a row (finding_id ...): ASCII digits of an id the database can hold."""
    raw = form_field(name, required=True)
    found = parse_row_id(raw)
    if found is None:
        raise FormError("work.err.required", f"{name}: {raw[:40]!r} is not an id")
    return found


# --- errors -> notices --------------------------------------------------------------------------


def _stage_label(workflow: str, stage: str) -> str:
    enum: dict[str, type[StrEnum]] = {"claim": ClaimStage, "complaint": ComplaintStage, "finding": FindingStage,
                                      "incident": IncidentStage}
    cls = enum.get(workflow)
    if cls is None:
        return stage
    try:
        return label(cls(stage))
    except ValueError:
        return stage


def notice_for(exc: Exception) -> tuple[Notice, int]:
    """The banner and HTTP status for a refused step."""
    if isinstance(exc, IllegalTransition):
        allowed = "、".join(action_label(exc.workflow, a) for a in exc.allowed) or _t("work.none_final")
        if current_language() != "zh-CN":
            allowed = allowed.replace("、", ", ")
        text = _t("work.err.illegal").format(
            stage=_stage_label(exc.workflow, exc.stage), action=action_label(exc.workflow, exc.action), allowed=allowed
        )
        return Notice("error", text, str(exc)), 409
    if isinstance(exc, FormError):
        return Notice("error", _t(exc.key), exc.detail), 400
    if isinstance(exc, EvidenceRejected):
        return Notice("error", _t("work.err.evidence"), str(exc)), 400
    if isinstance(exc, InvalidInput):
        message = str(exc)
        key = "work.err.invalid"
        if "sum to" in message:
            key = "work.err.shares"
        elif "was never offered" in message:
            key = "work.err.not_offered"
        elif "is not the agreed" in message:
            key = "work.err.not_agreed"
        elif "gather evidence" in message:
            key = "work.err.no_evidence"
        elif "重大事故" in message:
            key = "work.err.major"
        elif "the insurer claim" in message:
            key = "work.err.insurer"
        return Notice("error", _t(key), message), 400
    if isinstance(exc, DatabaseUnavailable):
        log.error("case work not saved: %s", exc)
        return Notice("error", _t("work.err.database"), str(exc)), 503
    raise exc


REFUSED = (IllegalTransition, FormError, InvalidInput, DatabaseUnavailable)


def done_notice() -> Notice | None:
    done = request.args.get("done", "")
    if not done:
        return None
    workflow, _, action = done.partition(".")
    return Notice("ok", _t("work.done").format(action=action_label(workflow, action)))

