"""The workflows of migration 0003: complaints, claims (evidence, liabilities, offers), change requests,
inspections with their findings, rewards and penalties, and business settled outside the centre.

Money is stored as integer fen (分, 1/100 yuan) and shown as Decimal yuan; liability shares as basis
points (10000 = 100 %). Both are exact on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.models.base import Base, UTCDateTime, in_values, in_values_or_null, utcnow
from cases.models.case import Case
from cases.models.follow_ups import ComplaintFollowUp
from cases.vocab import (
    AccidentCause,
    ChangeField,
    ChangeStage,
    ClaimChannel,
    ClaimStage,
    ComplaintCause,
    ComplaintStage,
    ComplaintType,
    Department,
    FindingStage,
    InspectionKind,
    InsurerStatus,
    LiableParty,
    MajorStatus,
    OfferBy,
    SanctionKind,
    SettledBy,
    values,
)


class Complaint(Base):
    """The complaint (投诉) workflow of a case of kind complaint."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(in_values("stage", values(ComplaintStage)), name="stage"),
        CheckConstraint(in_values("complaint_type", values(ComplaintType)), name="complaint_type"),
        CheckConstraint(in_values_or_null("cause", values(ComplaintCause)), name="cause"),
        CheckConstraint(in_values_or_null("responsible_department", values(Department)), name="responsible_department"),
        CheckConstraint(in_values_or_null("referred_to", values(Department)), name="referred_to"),
        Index("ix_complaints_stage_deadline", "stage", "referral_deadline"),
        Index("ix_complaints_recorded_at", "recorded_at"),
        Index("ix_complaints_referred", "referred_to", "referred_unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    stage: Mapped[str] = mapped_column(String(20))
    complaint_type: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100), default="")
    cause: Mapped[str | None] = mapped_column(String(20))
    responsible_department: Mapped[str | None] = mapped_column(String(20))
    responsible_unit: Mapped[str] = mapped_column(String(100), default="")  # which branch / market area (0014)
    analysis: Mapped[str] = mapped_column(Text, default="")
    referred_to: Mapped[str | None] = mapped_column(String(20))
    referred_unit: Mapped[str] = mapped_column(String(100), default="")  # which branch / market area (0014)
    referral_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectification: Mapped[str] = mapped_column(Text, default="")
    rectified_by: Mapped[str | None] = mapped_column(String(64))  # 0014: who answered (the department's user)
    verified_by: Mapped[str | None] = mapped_column(String(64))  # 0014: the centre's verification (验证)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verification_note: Mapped[str] = mapped_column(Text, default="")  # 0014: why it was sent back, or what was seen
    customer_reply: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    analysed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customer_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    follow_ups: Mapped[list[ComplaintFollowUp]] = relationship(
        order_by="ComplaintFollowUp.id", lazy="selectin", cascade="all, delete-orphan"
    )


class Claim(Base):
    """The claim (理赔) workflow of a case of kind claim."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(in_values("stage", values(ClaimStage)), name="stage"),
        CheckConstraint(in_values("channel", values(ClaimChannel)), name="channel"),
        CheckConstraint(in_values("accident_cause", values(AccidentCause)), name="accident_cause"),
        CheckConstraint(in_values_or_null("insurer_status", values(InsurerStatus)), name="insurer_status"),
        CheckConstraint("claimed_fen >= 0", name="claimed_fen"),
        CheckConstraint(in_values_or_null("major_status", values(MajorStatus)), name="major_status"),
        Index("ix_claims_reported_at", "reported_at"),
        Index("ix_claims_stage_since", "stage", "stage_since"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    stage: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    accident_cause: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100), default="")
    claimed_fen: Mapped[int] = mapped_column(BigInteger)
    agreed_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_to: Mapped[str | None] = mapped_column(String(64))
    insurer: Mapped[str] = mapped_column(String(100), default="")
    policy_no: Mapped[str] = mapped_column(String(64), default="")
    insurer_claim_no: Mapped[str] = mapped_column(String(64), default="")
    insurer_status: Mapped[str | None] = mapped_column(String(20))
    insurer_payout_fen: Mapped[int | None] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    liability_fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # migration 0013: the stage's clock (set on every step that changes the stage), the reason a claim was
    # refused or withdrawn, and the supervisor's 重大事故 decision (the amount only suggests it)
    stage_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    major_status: Mapped[str | None] = mapped_column(String(10))
    major_decided_by: Mapped[str | None] = mapped_column(String(64))
    major_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    major_note: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship()
    evidence: Mapped[list[ClaimEvidence]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimEvidence.id"
    )
    liabilities: Mapped[list[ClaimLiability]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimLiability.id"
    )
    offers: Mapped[list[ClaimOffer]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimOffer.id"
    )


class ClaimEvidence(Base):
    """A file (photo, document, recording) kept under the evidence folder, named by its SHA-256."""

    __tablename__ = "claim_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="evidence")


class ClaimLiability(Base):
    __tablename__ = "claim_liabilities"
    __table_args__ = (
        CheckConstraint(in_values("party", values(LiableParty)), name="party"),
        CheckConstraint("share_bp > 0 AND share_bp <= 10000", name="share_bp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100), default="")
    share_bp: Mapped[int] = mapped_column(Integer)
    owed_fen: Mapped[int | None] = mapped_column(BigInteger)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    claim: Mapped[Claim] = relationship(back_populates="liabilities")


class ClaimOffer(Base):
    __tablename__ = "claim_offers"
    __table_args__ = (
        CheckConstraint(in_values("offered_by", values(OfferBy)), name="offered_by"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    offered_by: Mapped[str] = mapped_column(String(10))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="offers")


class ChangeRequest(Base):
    """A change of the consignee's name, phone or address (更改收货人/联系电话/收货地址): requested by an
    agent, approved (the shipment source is updated) or refused by a supervisor (cases.changes)."""

    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint(in_values("field", values(ChangeField)), name="field"),
        CheckConstraint(in_values("stage", values(ChangeStage)), name="stage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str] = mapped_column(String(200), default="")  # 200: an address (migration 0012)
    new_value: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class Inspection(Base):
    """One spot check (监察) of a branch or person; freight-rate checks carry quoted vs tariff."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(in_values("kind", values(InspectionKind)), name="kind"),
        Index("ix_inspections_inspected_at", "inspected_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), default="")
    inspector: Mapped[str] = mapped_column(String(64))
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    passed: Mapped[bool] = mapped_column(Boolean)
    quoted_fen: Mapped[int | None] = mapped_column(BigInteger)
    tariff_fen: Mapped[int | None] = mapped_column(BigInteger)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    findings: Mapped[list[InspectionFinding]] = relationship(
        back_populates="inspection", cascade="all, delete-orphan", order_by="InspectionFinding.id"
    )


class InspectionFinding(Base):
    """A problem found by an inspection → rectification task with a deadline → verification."""

    __tablename__ = "inspection_findings"
    __table_args__ = (
        CheckConstraint(in_values("stage", values(FindingStage)), name="stage"),
        Index("ix_inspection_findings_stage_deadline", "stage", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(10))
    assignee: Mapped[str] = mapped_column(String(100), default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    rectification: Mapped[str] = mapped_column(Text, default="")
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inspection: Mapped[Inspection] = relationship(back_populates="findings")


SANCTION_SOURCES = ("inspection_id", "complaint_id", "claim_id", "incident_id")
SANCTION_ONE_SOURCE = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in SANCTION_SOURCES) + " <= 1"
SANCTION_COLLECTED = ("(collected_at IS NULL AND collected_by IS NULL) OR "
                      "(collected_at IS NOT NULL AND collected_by IS NOT NULL AND kind = 'penalty')")


class Sanction(Base):
    """A reward or penalty (奖罚) for a branch or a person, from an inspection, a complaint, a claim or an
    incident (or none); a penalty's collection (已收缴) is recorded with who and when."""

    __tablename__ = "sanctions"
    __table_args__ = (
        CheckConstraint(in_values("kind", values(SanctionKind)), name="kind"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
        CheckConstraint(SANCTION_ONE_SOURCE, name="one_source"),
        CheckConstraint(SANCTION_COLLECTED, name="collected"),
        Index("ix_sanctions_decided_at", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    branch: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), default="")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # migration 0015: the other sources (at most one source in all), and a penalty collected (已收缴)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id", ondelete="SET NULL"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="SET NULL"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_by: Mapped[str | None] = mapped_column(String(64))


class SelfSettled(Base):
    """Business the market, a branch, a driver or a loader settled with a customer themselves."""

    __tablename__ = "self_settled"
    __table_args__ = (
        CheckConstraint(in_values("settled_by", values(SettledBy)), name="settled_by"),
        CheckConstraint(in_values("issue", values(ComplaintType)), name="issue"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
        Index("ix_self_settled_settled_at", "settled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settled_by: Mapped[str] = mapped_column(String(10))
    branch: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), default="")
    waybill: Mapped[str | None] = mapped_column(String(14))
    issue: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
