"""Prompts the PBX could not play: the IVR counts each fault here (`record_prompt_fault`), and /status and the
supervisors' wallboard list those seen lately (`recent_prompt_faults`), until `hotline prompts build` and a
copy to Asterisk's sounds folder fix them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cases.errors import InvalidInput
from cases.models.probes import PromptFault

RECENT = timedelta(hours=24)  # a fault not seen again for a day is taken as fixed


class InvalidPromptFault(InvalidInput):
    """A fault that cannot be stored (no prompt name, a naive time)."""


@dataclass(frozen=True, slots=True)
class PromptFaultView:
    prompt: str
    hotline: str
    count: int
    first_at: datetime
    last_at: datetime


def record_prompt_fault(s: Session, prompt: str, hotline: str, at: datetime) -> PromptFaultView:
    """One more failure to play `prompt` (on a call to `hotline`); two IVR threads missing the same new prompt
    at once both count (the loser of the insert adds to the winner's row)."""
    if not prompt or len(prompt) > 200:
        raise InvalidPromptFault(f"prompt name must be 1 to 200 characters, got {prompt!r}")
    if at.tzinfo is None:
        raise InvalidPromptFault("the time of a prompt fault must be timezone-aware")
    for _ in range(2):
        bumped = s.execute(  # one statement: two IVR threads bumping the same row never lose a count
            update(PromptFault).where(PromptFault.prompt == prompt)
            .values(count=PromptFault.count + 1, hotline=hotline,
                    last_at=case((PromptFault.last_at < at, at), else_=PromptFault.last_at))
            .execution_options(synchronize_session=False))
        if bumped.rowcount:  # type: ignore[attr-defined]
            row = s.scalars(select(PromptFault).where(PromptFault.prompt == prompt)
                            .execution_options(populate_existing=True)).one()
            return _view(row)
        try:
            with s.begin_nested():
                row = PromptFault(prompt=prompt, hotline=hotline, count=1, first_at=at, last_at=at)
                s.add(row)
            return _view(row)
        except IntegrityError:
            continue  # inserted by another IVR thread meanwhile: count on its row
    raise AssertionError("prompt fault row neither found nor inserted")  # pragma: no cover


def recent_prompt_faults(s: Session, now: datetime, within: timedelta = RECENT) -> tuple[PromptFaultView, ...]:
    """Faults seen within `within` of `now`, the latest first."""
    rows = s.scalars(select(PromptFault).where(PromptFault.last_at >= now - within)
                     .order_by(PromptFault.last_at.desc(), PromptFault.prompt)).all()
    return tuple(_view(r) for r in rows)


def _view(r: PromptFault) -> PromptFaultView:
    return PromptFaultView(r.prompt, r.hotline, r.count, r.first_at, r.last_at)
