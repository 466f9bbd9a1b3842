"""What the `hotline` commands of `cases` share (`cases.cli`, `cases.search_cli`): the exit code of an
error, and the argparse type of a day."""

from __future__ import annotations

import argparse
from datetime import date

EXIT_ERROR = 2


def day_arg(value: str) -> date:
    """argparse type of a day given as YYYY-MM-DD."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
