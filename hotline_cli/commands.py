"""Subcommands beyond replay (simulator, demo, transcribe, serve)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    _ = sub
    _ = argparse
