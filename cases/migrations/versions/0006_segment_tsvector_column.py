"""transcript search on PostgreSQL: a stored tsvector column instead of an expression index

Phrase queries ("运单 号", or a term jieba cuts into several words) make PostgreSQL recheck every
candidate row; with an expression index that recomputes to_tsvector for each, with a stored column
it reads it. SQLite (FTS5) is unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_transcript_segments_tokens_fts")
    op.execute("ALTER TABLE transcript_segments ADD COLUMN tokens_tsv tsvector "
               "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, tokens)) STORED")
    op.execute("CREATE INDEX ix_transcript_segments_tokens_fts ON transcript_segments USING gin (tokens_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_transcript_segments_tokens_fts")
    op.execute("ALTER TABLE transcript_segments DROP COLUMN tokens_tsv")
    op.execute("CREATE INDEX ix_transcript_segments_tokens_fts ON transcript_segments "
               "USING gin (to_tsvector('simple'::regconfig, tokens))")
