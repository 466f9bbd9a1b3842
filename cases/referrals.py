"""Referrals as a department sees them: routed by the department (users.department) and, for a
branch or market area, the unit (users.branch), never by the free text typed with the complaint.

`department_referrals` is a department desk's queue; `referral_is_for` says whether a complaint's
referral belongs to a department (and unit), so its staff may answer it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from cases.complaints import ComplaintView, complaint_view
from cases.models.accounts import User
from cases.models.workflows import Complaint
from cases.vocab import UNIT_DEPARTMENTS, ComplaintStage, Department, Role


@dataclass(frozen=True, slots=True)
class DepartmentQueue:
    department: Department
    unit: str  # the branch or market area; "" for a department referred to as a whole
    waiting: tuple[ComplaintView, ...]  # referred (or sent back), waiting for the department's answer
    answered: tuple[ComplaintView, ...]  # answered, waiting for the centre's verification


def _routed(department: Department, unit: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Complaint.referred_to == department.value]
    if department.value in UNIT_DEPARTMENTS:
        where.append(Complaint.referred_unit == unit)
    return where


def department_referrals(s: Session, department: Department | str, unit: str = "") -> DepartmentQueue:
    """The referrals routed to `department` (and, for a branch or market area, to `unit`: an empty
    unit there sees none), deadline first."""
    dept = Department(department)
    wanted = unit.strip()
    if dept.value in UNIT_DEPARTMENTS and not wanted:
        return DepartmentQueue(dept, "", (), ())
    rows = s.scalars(
        select(Complaint)
        .where(*_routed(dept, wanted),
               Complaint.stage.in_([ComplaintStage.REFERRED.value, ComplaintStage.RECTIFIED.value]))
        .options(selectinload(Complaint.case))
        .order_by(Complaint.referral_deadline.asc().nulls_last(), Complaint.id)
    ).all()
    views = [complaint_view(c) for c in rows]
    return DepartmentQueue(
        department=dept,
        unit=wanted if dept.value in UNIT_DEPARTMENTS else "",
        waiting=tuple(v for v in views if v.stage is ComplaintStage.REFERRED),
        answered=tuple(v for v in views if v.stage is ComplaintStage.RECTIFIED),
    )


def referral_is_for(s: Session, complaint_id: int, department: str | None, unit: str) -> bool | None:
    """None if there is no such complaint; else whether its referral is routed to this department
    (and unit, for a branch or market area)."""
    row = s.execute(
        select(Complaint.referred_to, Complaint.referred_unit).where(Complaint.id == complaint_id)
    ).first()
    if row is None:
        return None
    referred_to, referred_unit = row
    if not department or referred_to != department:
        return False
    return department not in UNIT_DEPARTMENTS or (bool(unit.strip()) and referred_unit == unit.strip())


def known_units(s: Session) -> dict[str, tuple[str, ...]]:
    """The units that have an active desk user, per unit department (for the centre's referral form)."""
    rows = s.execute(
        select(User.department, User.branch).where(
            User.active.is_(True), User.role == Role.BRANCH.value, User.department.in_(sorted(UNIT_DEPARTMENTS)),
            User.branch != "",
        ).distinct()
    ).all()
    out: dict[str, set[str]] = {d: set() for d in sorted(UNIT_DEPARTMENTS)}
    for dept, unit in rows:
        out[str(dept)].add(unit)
    return {d: tuple(sorted(units)) for d, units in out.items()}


def departments_with_desk(s: Session) -> frozenset[str]:
    """The departments with at least one active desk user (a referral elsewhere reaches no desk)."""
    rows = s.scalars(
        select(User.department).where(User.active.is_(True), User.role == Role.BRANCH.value,
                                      User.department.is_not(None)).distinct()
    ).all()
    return frozenset(str(d) for d in rows)
