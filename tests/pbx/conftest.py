"""Fixtures of the real-Asterisk tests: they run when HOTLINE_ASTERISK names an Asterisk 20 install and are
skipped otherwise (Asterisk is not packaged for these machines; DEVELOPERS.md builds one)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbx.asterisk_lab import AGENTS, EXE, asterisk_prefix, hotline_env
from pbx.hotline_site import Site, open_site

PREFIX = asterisk_prefix()


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


@pytest.fixture(params=["SIP", "PJSIP"])
def site(request: pytest.FixtureRequest, asterisk_install: Path, prompts: Path, tmp_path: Path) -> Iterator[Site]:
    """The site with chan_sip phones (its own sip.conf) and with PJSIP ones (the generated pjsip.conf; Asterisk
    21 and later have only PJSIP); every agent a member of every queue, as `--agents` generates them."""
    with open_site(asterisk_install, prompts, tmp_path, request.param, AGENTS) as site:
        yield site
