"""claims_on_time: claim stage clocks, refused/withdrawn endings, the supervisor's 重大事故 decision

Issue #17.

- `claims.stage_since`: when the claim entered its stage (the clock of the per-stage deadlines). Existing rows
  get it from their own timestamps: the column of the step that led into the stage (closed_at, paid_at,
  notified_at, agreed_at, the first offer, liability_fixed_at), for `investigating` the audited
  claim.start_investigation, else reported_at.
- The stage `insurer_claimed` is gone: the insurer's claim is its own track (insurer_status, payout) beside the
  customer's, recordable from liability fixed onward. Claims in it go back to `parties_notified` (the stage
  they filed from; their insurer columns are kept).
- The stages `refused` (拒赔) and `withdrawn` (客户撤回) with `claims.end_reason`.
- 重大事故 is the supervisor's decision: `major_status` suggested / confirmed / declined, `major_decided_by`,
  `major_decided_at`, `major_note`. Rows that were flagged automatically before (major, escalated) had no
  supervisor's decision: they become `suggested`, `major` false and no longer escalated, waiting for one.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STAGES = ("reported", "investigating", "liability_fixed", "negotiating", "amount_agreed", "parties_notified",
              "insurer_claimed", "paid", "closed")
NEW_STAGES = ("reported", "investigating", "liability_fixed", "negotiating", "amount_agreed", "parties_notified",
              "paid", "closed", "refused", "withdrawn")


def _stages(values: tuple[str, ...]) -> str:
    return f"stage IN ({', '.join(repr(v) for v in values)})"


claims = sa.table(
    "claims",
    sa.column("id", sa.Integer), sa.column("stage", sa.String), sa.column("major", sa.Boolean),
    sa.column("escalated_to", sa.String), sa.column("major_status", sa.String),
    sa.column("stage_since", sa.DateTime(timezone=True)), sa.column("reported_at", sa.DateTime(timezone=True)),
    sa.column("liability_fixed_at", sa.DateTime(timezone=True)), sa.column("agreed_at", sa.DateTime(timezone=True)),
    sa.column("notified_at", sa.DateTime(timezone=True)), sa.column("paid_at", sa.DateTime(timezone=True)),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)
offers = sa.table("claim_offers", sa.column("claim_id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)))
audit = sa.table("audit_log", sa.column("what", sa.String), sa.column("entity", sa.String),
                 sa.column("entity_id", sa.String), sa.column("at", sa.DateTime(timezone=True)))


def _since(stage: str) -> sa.ColumnElement[object]:
    """When a claim in `stage` entered it, from the row's own timestamps (reported_at at the latest)."""
    first_offer = (sa.select(sa.func.min(offers.c.at)).where(offers.c.claim_id == claims.c.id)
                   .scalar_subquery())
    started = (sa.select(sa.func.max(audit.c.at))
               .where(audit.c.entity == "claim", audit.c.what == "claim.start_investigation",
                      audit.c.entity_id == sa.cast(claims.c.id, sa.String))
               .scalar_subquery())
    col = {
        "closed": claims.c.closed_at, "paid": claims.c.paid_at, "parties_notified": claims.c.notified_at,
        "amount_agreed": claims.c.agreed_at, "negotiating": first_offer, "liability_fixed": claims.c.liability_fixed_at,
        "investigating": started,
    }.get(stage)
    return claims.c.reported_at if col is None else sa.func.coalesce(col, claims.c.reported_at)


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("stage_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("end_reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("major_status", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("major_decided_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("major_decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("major_note", sa.Text(), nullable=False, server_default=""))
        batch.drop_constraint(op.f("ck_claims_stage"), type_="check")
    op.execute(claims.update().where(claims.c.stage == "insurer_claimed").values(stage="parties_notified"))
    for stage in NEW_STAGES:
        op.execute(claims.update().where(claims.c.stage == stage).values(stage_since=_since(stage)))
    op.execute(claims.update().where(claims.c.major.is_(True))
               .values(major_status="suggested", major=False, escalated_to=None))
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("stage_since", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_check_constraint("stage", _stages(NEW_STAGES))
        batch.create_check_constraint(
            "major_status", "major_status IS NULL OR major_status IN ('suggested', 'confirmed', 'declined')")
        batch.create_index("ix_claims_stage_since", ["stage", "stage_since"], unique=False)


def downgrade() -> None:
    """Refused and withdrawn claims become closed (their reason is lost); a confirmed 重大事故 stays major."""
    with op.batch_alter_table("claims") as batch:
        batch.drop_constraint(op.f("ck_claims_stage"), type_="check")
    op.execute(claims.update().where(claims.c.stage.in_(["refused", "withdrawn"])).values(stage="closed"))
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_stage_since")
        batch.drop_constraint(op.f("ck_claims_major_status"), type_="check")
        batch.create_check_constraint("stage", _stages(OLD_STAGES))
        batch.drop_column("major_note")
        batch.drop_column("major_decided_at")
        batch.drop_column("major_decided_by")
        batch.drop_column("major_status")
        batch.drop_column("end_reason")
        batch.drop_column("stage_since")
