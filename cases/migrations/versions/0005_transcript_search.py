# ruff: noqa: E501
"""transcript search (FTS5 / tsvector over jieba-segmented turns), call checks and entities

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TRIGGERS = (
    """CREATE TRIGGER transcript_segments_ai AFTER INSERT ON transcript_segments BEGIN
         INSERT INTO transcript_fts(rowid, tokens) VALUES (new.id, new.tokens);
       END""",
    """CREATE TRIGGER transcript_segments_ad AFTER DELETE ON transcript_segments BEGIN
         INSERT INTO transcript_fts(transcript_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens);
       END""",
    """CREATE TRIGGER transcript_segments_au AFTER UPDATE ON transcript_segments BEGIN
         INSERT INTO transcript_fts(transcript_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens);
         INSERT INTO transcript_fts(rowid, tokens) VALUES (new.id, new.tokens);
       END""",
)


def upgrade() -> None:
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(length=10), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.CheckConstraint("speaker IN ('customer', 'agent', 'unknown')", name=op.f("ck_transcript_segments_speaker")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_transcript_segments_call_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["transcript_id"], ["transcripts.id"],
                                name=op.f("fk_transcript_segments_transcript_id_transcripts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_segments")),
    )
    op.create_index(op.f("ix_transcript_segments_call_id"), "transcript_segments", ["call_id"], unique=False)
    op.create_index(op.f("ix_transcript_segments_transcript_id"), "transcript_segments", ["transcript_id"],
                    unique=False)
    op.create_table(
        "call_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 100", name=op.f("ck_call_checks_score")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_checks_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_checks")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_checks_call_id")),
    )
    op.create_table(
        "call_check_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=True),
        sa.Column("speaker", sa.String(length=10), nullable=True),
        sa.Column("phrase", sa.String(length=100), nullable=True),
        sa.Column("deduction", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["check_id"], ["call_checks.id"], name=op.f("fk_call_check_findings_check_id_call_checks"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_check_findings")),
    )
    op.create_index(op.f("ix_call_check_findings_check_id"), "call_check_findings", ["check_id"], unique=False)
    op.create_table(
        "call_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("speaker", sa.String(length=10), nullable=True),
        sa.Column("at_s", sa.Float(), nullable=True),
        sa.CheckConstraint("kind IN ('waybill', 'phone', 'amount')", name=op.f("ck_call_entities_kind")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_entities_call_id_calls"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_entities")),
    )
    op.create_index("ix_call_entities_call_id_kind_value", "call_entities", ["call_id", "kind", "value"], unique=True)
    op.create_index("ix_call_entities_kind_value", "call_entities", ["kind", "value"], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE transcript_fts USING fts5(tokens, content='transcript_segments', "
                   "content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
        for trigger in FTS_TRIGGERS:
            op.execute(trigger)
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_transcript_segments_tokens_fts ON transcript_segments "
                   "USING gin (to_tsvector('simple'::regconfig, tokens))")

    # backfill: segment every transcript stored before this revision
    from cases.search import reindex_all

    reindex_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("transcript_segments_ai", "transcript_segments_ad", "transcript_segments_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS transcript_fts")
    op.drop_index("ix_call_entities_kind_value", table_name="call_entities")
    op.drop_index("ix_call_entities_call_id_kind_value", table_name="call_entities")
    op.drop_table("call_entities")
    op.drop_index(op.f("ix_call_check_findings_check_id"), table_name="call_check_findings")
    op.drop_table("call_check_findings")
    op.drop_table("call_checks")
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_transcript_segments_tokens_fts")
    op.drop_index(op.f("ix_transcript_segments_transcript_id"), table_name="transcript_segments")
    op.drop_index(op.f("ix_transcript_segments_call_id"), table_name="transcript_segments")
    op.drop_table("transcript_segments")
