"""A PBX simulator with its AMI server on a free loopback port, for the telephony tests.

`sim` answers as Asterisk answers Hotline's generated AMI user (telephony.ami_user): what the product
gets. `lab_sim` and `lab_manager` answer as the lab's Asterisk answered when the captures were made
(asterisk-traces/conf/manager.conf: read and write all, `[general] channelvars = HOTLINE`): what the
tests comparing the simulator with the captures, event for event, and those of every action need."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.manager_rights import ManagerConf, parse_manager_conf
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer, Credentials


@pytest.fixture(scope="session")
def lab_manager(traces: Path) -> ManagerConf:
    """The captures' manager.conf, its user's secret set to the tests' ("hotline")."""
    conf = parse_manager_conf((traces / "conf" / "manager.conf").read_text(encoding="utf-8"))
    user = conf.users[Credentials().username]
    return dataclasses.replace(conf, users={user.username: dataclasses.replace(user, secret=Credentials().secret)})


def _sim(tmp_path: Path, manager: ManagerConf | None) -> Iterator[tuple[SimulatedPbx, AmiServer]]:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=20.0, seed=7)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx, manager=manager)
    server.serve_in_thread()
    yield pbx, server
    server.shutdown_all()
    pbx.stop()


@pytest.fixture()
def sim(tmp_path: Path) -> Iterator[tuple[SimulatedPbx, AmiServer]]:
    yield from _sim(tmp_path, None)


@pytest.fixture()
def lab_sim(tmp_path: Path, lab_manager: ManagerConf) -> Iterator[tuple[SimulatedPbx, AmiServer]]:
    yield from _sim(tmp_path, lab_manager)
