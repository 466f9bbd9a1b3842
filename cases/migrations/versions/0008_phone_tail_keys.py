"""indexed phone tail keys: calls.caller_tail and customer_phones.tail

The screen pop matched a caller's number to stored ones with `LIKE '%<last 8 digits>'`, which no
index can serve: every lookup scanned calls and customer_phones. The tail key
(`cases.phones.phone_tail`: the last 8 digits after the leading zeros, NULL for shorter numbers) is
now stored and indexed, and existing rows are backfilled with the same rule written in SQL that
SQLite and PostgreSQL both run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 19:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, number column, tail column)
TAILS = (("calls", "caller_norm", "caller_tail"), ("customer_phones", "phone", "tail"))


def _backfill(table: str, number: str, tail: str) -> None:
    stripped = f"ltrim({number}, '0')"
    op.execute(f"UPDATE {table} SET {tail} = substr({stripped}, length({stripped}) - 7) "
               f"WHERE length({stripped}) >= 8")


def upgrade() -> None:
    for table, number, tail in TAILS:
        op.add_column(table, sa.Column(tail, sa.String(length=8), nullable=True))
        _backfill(table, number, tail)
        op.create_index(op.f(f"ix_{table}_{tail}"), table, [tail], unique=False)


def downgrade() -> None:
    for table, _number, tail in TAILS:
        op.drop_index(op.f(f"ix_{table}_{tail}"), table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column(tail)
