"""The ORM schema (SQLAlchemy 2.0 typed declarative), one module per concept, every table on the one
declarative `cases.models.base.Base`. The schema itself is created by the Alembic migrations in
`cases/migrations/versions`; a test checks that models and migrations agree.

Importing any of these modules imports them all (below), so `Base.metadata` always holds every
table, for Alembic (`cases/migrations/env.py`), `create_all` and backups, and every relationship
finds the class it names.
"""

from cases.models import (  # noqa: F401  (declares every table on Base.metadata)
    accounts,
    audit,
    call_analysis,
    calls,
    case,
    change_callbacks,
    customers,
    follow_ups,
    incidents,
    probes,
    report_analyses,
    shipments,
    workflows,
    wrap_ups,
)
