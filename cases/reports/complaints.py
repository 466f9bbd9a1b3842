"""The weekly complaint summary (每周汇总表) of the service standard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cases.models.case import Case
from cases.models.customers import Customer
from cases.models.shipments import Shipment
from cases.models.workflows import (
    Complaint,
)
from cases.reports.changes import ChangesSection, change_requests
from cases.reports.data import DETAIL_LIMIT, Count, DayCount, Period, count_rows, daily_trend
from cases.vocab import (
    ComplaintCause,
    ComplaintStage,
    ComplaintType,
    Department,
)


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    case_number: str
    recorded_at: datetime
    complaint_type: str
    branch: str
    cause: str
    stage: str
    referred_to: str
    subject: str
    waybill: str  # the shipment's waybill ("" when the case has none)
    customer: str  # the customer's name, else the shipment's consignee
    rectification: str  # 整改结果
    customer_reply: str  # 答复客户
    handler: str  # 处理人: the case's assignee, else who recorded it


@dataclass(frozen=True, slots=True)
class ComplaintSummary:
    period: Period
    total: int
    previous_total: int
    closed: int
    overdue_referrals: int
    by_type: tuple[Count, ...]
    by_branch: tuple[Count, ...]
    by_cause: tuple[Count, ...]
    by_stage: tuple[Count, ...]
    by_department: tuple[Count, ...]
    trend: tuple[DayCount, ...]
    rows: tuple[ComplaintRow, ...]
    changes: ChangesSection  # 更改收货人/联系电话/地址 (客服员 3.4), cases.reports.changes


def complaint_summary(s: Session, period: Period, *, now: datetime | None = None) -> ComplaintSummary:
    """Complaints recorded in the period by type, branch, cause, stage, responsible department; per day;
    against the previous period of the same length; overdue referrals as of `now` (default: period end)."""
    when = now or min(period.end, datetime.now(UTC))
    inp = and_(Complaint.recorded_at >= period.start, Complaint.recorded_at < period.end)
    prev = period.previous()
    n = func.count()

    def by(col: Any, enum: type[StrEnum] | None) -> tuple[Count, ...]:
        return count_rows(s, select(col, n).where(inp).group_by(col), enum)

    total = int(s.scalar(select(n).select_from(Complaint).where(inp)) or 0)
    previous_total = int(
        s.scalar(
            select(n)
            .select_from(Complaint)
            .where(Complaint.recorded_at >= prev.start, Complaint.recorded_at < prev.end)
        )
        or 0
    )
    closed = int(
        s.scalar(select(n).select_from(Complaint).where(inp, Complaint.stage == ComplaintStage.CLOSED.value)) or 0
    )
    overdue = int(
        s.scalar(
            select(n)
            .select_from(Complaint)
            .where(inp, Complaint.stage == ComplaintStage.REFERRED.value, Complaint.referral_deadline < when)
        )
        or 0
    )
    detail = s.execute(
        select(Complaint, Case, Shipment.waybill, Shipment.consignee_name, Customer.name)
        .join(Case, Case.id == Complaint.case_id)
        .outerjoin(Shipment, Shipment.id == Case.shipment_id)
        .outerjoin(Customer, Customer.id == Case.customer_id)
        .where(inp)
        .order_by(Complaint.recorded_at, Complaint.id)
        .limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        ComplaintRow(
            case_number=case.number,
            recorded_at=c.recorded_at,
            complaint_type=ComplaintType(c.complaint_type).label_zh,
            branch=c.branch,
            cause=ComplaintCause(c.cause).label_zh if c.cause else "",
            stage=ComplaintStage(c.stage).label_zh,
            referred_to=Department(c.referred_to).label_zh if c.referred_to else "",
            subject=case.subject,
            waybill=waybill or "",
            customer=customer or consignee or "",
            rectification=c.rectification,
            customer_reply=c.customer_reply,
            handler=case.assigned_to or case.created_by,
        )
        for c, case, waybill, consignee, customer in detail
    )
    return ComplaintSummary(
        period=period,
        total=total,
        previous_total=previous_total,
        closed=closed,
        overdue_referrals=overdue,
        by_type=by(Complaint.complaint_type, ComplaintType),
        by_branch=by(Complaint.branch, None),
        by_cause=by(Complaint.cause, ComplaintCause),
        by_stage=by(Complaint.stage, ComplaintStage),
        by_department=by(Complaint.responsible_department, Department),
        trend=daily_trend(s, Complaint.recorded_at, inp, period),
        rows=rows,
        changes=change_requests(s, period),
    )
