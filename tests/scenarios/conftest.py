"""The role scenarios (issue #17: each role of the standard does its duty in the product) run on the console
fixtures of tests/agent_console/conftest.py: the real app on the seeded SQLite database (demo accounts
agent1001, supervisor, claims, inspector, branch_zz, warehouse), logged in over the Flask test client."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "agent_console" / "conftest.py"
_SPEC = importlib.util.spec_from_file_location("agent_console_fixtures", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
fixtures = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = fixtures
_SPEC.loader.exec_module(fixtures)

Console = fixtures.Console
console = fixtures.console
db = fixtures.db
db_both = fixtures.db_both
