"""The change requests of the period (客服员 3.4: 协调、帮助客户处理更改收货人、联系电话…), a section of the
weekly complaint summary: the requests made in the period per field, by how they stand now (申请 /
已更改 / 已驳回 / 待审批), and each one (案件号, 运单号, field, from → to, who decided, the outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from cases.models.case import Case
from cases.models.shipments import Shipment
from cases.models.workflows import ChangeRequest
from cases.reports.data import DETAIL_LIMIT, Period
from cases.vocab import ChangeField, ChangeStage


@dataclass(frozen=True, slots=True)
class ChangeFieldCount:
    field: str
    label: str
    requested: int  # requested in the period, whatever became of them
    applied: int
    refused: int
    pending: int


@dataclass(frozen=True, slots=True)
class ChangeRow:
    case_number: str
    waybill: str
    field: str  # the field's zh-CN label
    old_value: str
    new_value: str
    requested_by: str
    requested_at: datetime
    decided_by: str  # "" while pending
    outcome: str  # 已更改 | 已驳回 | 待审批
    reason: str  # why the customer asked
    decision_note: str  # why it was refused (or the approver's note)


@dataclass(frozen=True, slots=True)
class ChangesSection:
    requested: int
    applied: int
    refused: int
    pending: int
    by_field: tuple[ChangeFieldCount, ...]  # every field, in the standard's order
    rows: tuple[ChangeRow, ...]


def change_requests(s: Session, period: Period) -> ChangesSection:
    """The change requests made in the period, counted per field by their stage now, and listed."""
    inp = and_(ChangeRequest.requested_at >= period.start, ChangeRequest.requested_at < period.end)
    found = s.execute(
        select(ChangeRequest, Case.number, Shipment.waybill)
        .join(Case, Case.id == ChangeRequest.case_id)
        .join(Shipment, Shipment.id == ChangeRequest.shipment_id)
        .where(inp)
        .order_by(ChangeRequest.requested_at, ChangeRequest.id)
    ).all()
    stages = [(c.field, c.stage) for c, _, _ in found]

    def n(fld: str | None, stage: ChangeStage | None) -> int:
        return sum(1 for f, st in stages if fld in (None, f) and (stage is None or st == stage.value))

    by_field = tuple(
        ChangeFieldCount(f.value, f.label_zh, n(f.value, None), n(f.value, ChangeStage.APPLIED),
                         n(f.value, ChangeStage.REJECTED), n(f.value, ChangeStage.REQUESTED))
        for f in ChangeField
    )
    rows = tuple(
        ChangeRow(number, waybill, ChangeField(c.field).label_zh, c.old_value, c.new_value, c.requested_by,
                  c.requested_at, c.decided_by or "", ChangeStage(c.stage).label_zh, c.reason, c.decision_note)
        for c, number, waybill in found[:DETAIL_LIMIT]
    )
    return ChangesSection(len(stages), n(None, ChangeStage.APPLIED), n(None, ChangeStage.REJECTED),
                          n(None, ChangeStage.REQUESTED), by_field, rows)
