"""Fixtures of the real-Asterisk tests: they run when HOTLINE_ASTERISK names an Asterisk 20 install and are
skipped otherwise (Asterisk is not packaged for these machines; DEVELOPERS.md builds one)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from waits import stop_processes, wait_until

from cases.db import Database
from cases.services import CHINA_TZ
from hotline_cli.demo_ivr import demo_menus
from pbx.asterisk_lab import AGENTS, AMI_SECRET, EXE, AsteriskLab, Sipp, asterisk_prefix, hotline_env
from tests.test_roles import wait_http

PREFIX = asterisk_prefix()
BLOCKED = "13666666666"
KEY_ACCOUNT = "13777777777"
WRAP_UP_S = 4
QUEUES = ("service", "complaints", "claims")


@pytest.fixture(scope="session")
def asterisk_install() -> Path:
    """HOTLINE_ASTERISK's prefix; the tests are skipped without one."""
    if PREFIX is None:
        pytest.skip("HOTLINE_ASTERISK does not name an Asterisk 20 install (DEVELOPERS.md)")
    return PREFIX


@pytest.fixture(scope="session")
def prompts(asterisk_install: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hotline's Mandarin prompts rendered once (`hotline prompts build`), as a site copies them to the PBX."""
    out = tmp_path_factory.mktemp("prompts")
    subprocess.run([*EXE, "prompts", "build", "--out", str(out), "--lang", "zh"], check=True, capture_output=True,
                   timeout=300, env=hotline_env())
    return out


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


@pytest.fixture(params=["SIP", "PJSIP"])
def site(request: pytest.FixtureRequest, asterisk_install: Path, prompts: Path, tmp_path: Path) -> Iterator[Site]:
    """The site with chan_sip phones (its own sip.conf) and with PJSIP ones (the generated pjsip.conf; Asterisk
    21 and later have only PJSIP); every agent a member of every queue, as `--agents` generates them."""
    tech: str = request.param
    menus = lab_menus(tmp_path / "menus", tmp_path / "ivr-recordings")
    lab = AsteriskLab(asterisk_install, tmp_path / "asterisk", prompts, menus, dict.fromkeys(QUEUES, AGENTS), tech)
    lab.write()
    (tmp_path / "hotline.toml").write_text(f"""database_url = "sqlite:///{tmp_path / 'hotline.db'}"
data_dir = "{tmp_path / 'data'}"
recordings_dir = "{lab.recordings}"
blocked_callers = ["{BLOCKED}"]
key_account_callers = ["{KEY_ACCOUNT}"]
""")
    site = Site(lab, Sipp(tmp_path, lab.ports.sip, lab.caller_ip), tmp_path, menus,
                Database(f"sqlite:///{tmp_path / 'hotline.db'}"))
    lab.start()
    try:
        for agent in AGENTS:
            site.sipp.phone(agent, lab.ports.agents[agent])
        subprocess.run([*EXE, "db", "--seed-demo"], check=True, capture_output=True, timeout=120, env=site.env())
        site.start_ivr()
        site.start_serve("serve")
        yield site
    finally:
        site.sipp.stop()
        stop_processes(site.procs)
        site.db.dispose()
        lab.stop()
