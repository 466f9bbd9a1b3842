"""A Hotline site on a real Asterisk (asterisk_lab): the Asterisk, Hotline's processes (`hotline serve` with
routing ami, `hotline ivr serve`) on a seeded SQLite database, and the agents' phones answering. Used by the
tests of tests/pbx and by benchmarks/real_pbx_pop.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from waits import stop_processes, wait_until

from cases.db import Database
from cases.local_time import CHINA_TZ
from hotline_cli.demo_ivr import demo_menus
from pbx.asterisk_lab import AMI_SECRET, EXE, AsteriskLab, Sipp, hotline_env
from tests.test_roles import wait_http

BLOCKED = "13666666666"
KEY_ACCOUNT = "13777777777"
WRAP_UP_S = 4
QUEUES = ("service", "complaints", "claims")


def lab_menus(target: Path, recordings: Path) -> Path:
    """The shipped menus with the service hotline open round the clock and the claims hotline closed (a
    holiday yesterday, today and tomorrow in China), whenever the tests run."""
    demo_menus(target, recordings)
    today = datetime.now(CHINA_TZ).date()
    days = ", ".join(f'"{today + timedelta(days=d)}"' for d in (-1, 0, 1))
    claims = target / "claims.toml"
    text = claims.read_text(encoding="utf-8")
    first_table = text.index("\n[")
    claims.write_text(text[:first_table] + f"""
[hours]
utc_offset = "+08:00"
open = "08:00"
close = "21:00"
days = [1, 2, 3, 4, 5, 6, 7]
holidays = [{days}]
""" + text[first_table:], encoding="utf-8")
    return target


@dataclass
class Site:
    """Asterisk with the generated configuration, Hotline (`hotline serve`, routing ami, and `hotline ivr
    serve`) on a seeded SQLite database, the agents' phones answering."""

    lab: AsteriskLab
    sipp: Sipp
    root: Path
    menus: Path
    db: Database
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    serves: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.lab.ports.http}"

    @property
    def serve(self) -> subprocess.Popen[str]:
        """The `hotline serve` started last."""
        return self.serves[-1]

    def env(self, **more: str) -> dict[str, str]:
        p = self.lab.ports
        return hotline_env({
            "HOTLINE_CONFIG": str(self.root / "hotline.toml"), "HOTLINE_HTTP_PORT": str(p.http),
            "HOTLINE_AMI_PORT": str(p.ami), "HOTLINE_AMI_USER": "hotline", "HOTLINE_AMI_SECRET": AMI_SECRET,
            "HOTLINE_ROUTING": "ami", "HOTLINE_WRAP_UP_S": str(WRAP_UP_S),
            "HOTLINE_AGENT_INTERFACE": f"{self.lab.tech}/{{agent}}"} | more)

    def _start(self, name: str, *args: str, **more: str) -> subprocess.Popen[str]:
        log = (self.root / f"{name}.log").open("w")
        proc = subprocess.Popen([*EXE, *args], cwd=self.root, stdout=log, stderr=subprocess.STDOUT, text=True,
                                env=self.env(**more))
        self.procs.append(proc)
        return proc

    def start_ivr(self) -> None:
        self._start("ivr", "ivr", "serve", "--listen", f"127.0.0.1:{self.lab.ports.agi}", "--menus", str(self.menus))
        wait_until(lambda: "FastAGI IVR on" in self.log_of("ivr"), 60, "the IVR server")

    def start_serve(self, name: str, **more: str) -> subprocess.Popen[str]:
        proc = self._start(name, "serve", **more)
        self.serves.append(proc)
        wait_http(f"{self.base}/login", proc)
        wait_until(lambda: "resync: " in self.log_of(name), 60, f"{name}'s first resync")
        return proc

    def log_of(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""




@contextmanager
def open_site(prefix: Path, prompts: Path, root: Path, tech: str, agents: Sequence[str],
              ring_ms: int = 600) -> Iterator[Site]:
    """The whole site under `root`, every agent a member of every queue; everything stopped at the end."""
    menus = lab_menus(root / "menus", root / "ivr-recordings")
    lab = AsteriskLab(prefix, root / "asterisk", prompts, menus, dict.fromkeys(QUEUES, tuple(agents)), tech)
    lab.write()
    (root / "hotline.toml").write_text(f"""database_url = "sqlite:///{root / 'hotline.db'}"
data_dir = "{root / 'data'}"
recordings_dir = "{lab.recordings}"
blocked_callers = ["{BLOCKED}"]
key_account_callers = ["{KEY_ACCOUNT}"]
""")
    db = Database(f"sqlite:///{root / 'hotline.db'}")
    site = Site(lab, Sipp(root, lab.ports.sip, lab.caller_ip), root, menus, db)
    lab.start()
    try:
        for agent in lab.agents:
            site.sipp.phone(agent, lab.ports.agents[agent], ring_ms)
        subprocess.run([*EXE, "db", "--seed-demo"], check=True, capture_output=True, timeout=120, env=site.env())
        site.start_ivr()
        site.start_serve("serve")
        yield site
    finally:
        site.sipp.stop()
        stop_processes(site.procs)
        site.db.dispose()
        lab.stop()
