"""Shared test fixtures: where the real Asterisk captures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _traces_dir() -> Path:
    env = os.environ.get("HOTLINE_TRACES")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "asterisk-traces", REPO / "tests" / "fixtures" / "asterisk-traces"]
    for cand in candidates:
        if (cand / "README.md").exists():
            return cand
    raise RuntimeError(
        "the real Asterisk captures were not found: set HOTLINE_TRACES to the asterisk-traces folder "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


@pytest.fixture(scope="session")
def traces() -> Path:
    return _traces_dir()
