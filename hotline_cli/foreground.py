"""A process that runs in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import threading
from typing import Any


def sigterm_as_interrupt() -> None:
    """SIGTERM (and SIGINT, even when a script's `&` left it ignored) raise KeyboardInterrupt in the
    main thread, so a process stops as on Ctrl-C; werkzeug's request lines are quieted."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        # also when started from a script with `&`, which leaves SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def wait_forever() -> None:
    """Block until Ctrl-C or SIGTERM (with `sigterm_as_interrupt`)."""
    stop = threading.Event()
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass

