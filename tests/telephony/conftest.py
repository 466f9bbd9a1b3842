"""A PBX simulator with its AMI server on a free loopback port, for the telephony tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


@pytest.fixture()
def sim(tmp_path: Path) -> Iterator[tuple[SimulatedPbx, AmiServer]]:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=20.0, seed=7)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    yield pbx, server
    server.shutdown_all()
    pbx.stop()
