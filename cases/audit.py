"""The audit log: who did what to which entity, when (table `audit_log`). Every change in `cases` is
recorded here in the same transaction as the change itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.models.audit import AuditEntry
from cases.models.base import utcnow
from cases.views import AuditView


def iso_utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def record_audit(s: Session, who: str, what: str, entity: str, entity_id: object, detail: dict[str, Any]) -> None:
    s.add(AuditEntry(who=who, what=what, entity=entity, entity_id=str(entity_id), detail=detail, at=utcnow()))



def audit_for(s: Session, entity: str, entity_id: object) -> tuple[AuditView, ...]:
    """The audit trail of one entity, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return tuple(
        AuditView(
            id=a.id,
            who=a.who,
            what=a.what,
            entity=a.entity,
            entity_id=a.entity_id,
            at=a.at,
            detail_json=json.dumps(a.detail, ensure_ascii=False, sort_keys=True),
        )
        for a in s.scalars(stmt).all()
    )

