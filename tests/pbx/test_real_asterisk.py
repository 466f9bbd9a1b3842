"""Hotline on a real Asterisk 20 loaded with the generated configuration (tests/pbx/asterisk_lab.py): real SIP
callers and agents' phones (sipp), `hotline serve` with routing `ami` and `hotline ivr serve`. Each call is
checked where a site would look: the stored call record, the case, Asterisk's own log and queue state."""

from __future__ import annotations

import re
import subprocess

from sqlalchemy import select
from waits import wait_until

from cases.models import Call, Case
from pbx.asterisk_lab import Key
from pbx.conftest import BLOCKED, Site

WAYBILL = "800012345678"  # a demo shipment


def stored(site: Site, caller: str, timeout: float = 60) -> Call:
    """The call record of `caller`'s call once it has ended (the listener stores it at the end)."""

    def ended() -> Call | None:
        with site.db.reading() as s:
            call = s.scalars(select(Call).where(Call.caller == caller, Call.ended_at.is_not(None))).first()
            if call is not None:
                s.expunge(call)
            return call

    return wait_until(ended, timeout, f"the stored call of {caller}", every=0.3)  # type: ignore[no-any-return]


def wait_exit(proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    proc.wait(timeout)


def played(site: Site) -> list[str]:
    """Every sound file Asterisk played, from its verbose log."""
    return re.findall(r"Playing '([^']+)'", site.lab.verbose_log())


def test_a_tracking_call_is_routed_keeps_its_keys_waybill_and_path_and_reaches_an_agent(site: Site) -> None:
    caller = "13800138001"
    proc = site.sipp.call(caller, "4008001", [Key(2.0, "1"), Key(4.0, WAYBILL + "#"), Key(16.0, "0")],
                          hangup_s=26.0)
    wait_exit(proc)
    call = stored(site, caller)
    assert call.hotline == "service" and call.waybill == WAYBILL
    assert call.digits == f"1{WAYBILL}#0"  # every key, from DTMFEnd (SIP INFO)
    assert call.ivr_path is not None and call.ivr_path.startswith(f"menu=1:tracking>waybill={WAYBILL}>status=")
    assert call.ivr_path.endswith("agent=service")
    assert call.outcome == "answered" and call.agent == "agent1001"  # linear: the first member
    log = site.lab.verbose_log()
    assert "no Redirect within 3 s" not in log  # routed by the listener, not by the fall-through
    files = played(site)
    assert files and all(f.startswith("hotline/zh/") or f == "beep" for f in files), files  # no English sound


def test_a_blocked_caller_is_refused(site: Site) -> None:
    proc = site.sipp.call(BLOCKED, "4008001", hangup_s=20.0)
    wait_exit(proc)
    call = stored(site, BLOCKED)
    assert call.outcome == "blocked" and call.ivr_path in (None, "")
    assert "AGI(" not in site.lab.verbose_log()  # never reached the IVR


def test_a_complaint_message_ended_by_hanging_up_becomes_a_case(site: Site) -> None:
    caller = "13600136004"
    proc = site.sipp.call(caller, "4008001", [Key(2.0, "2"), Key(5.0, "#")], hangup_s=16.0)
    wait_exit(proc)
    call = stored(site, caller)
    assert call.ivr_path is not None and ">recorded=" in call.ivr_path and call.ivr_path.endswith("hangup")
    case_number = re.search(r"case=(C[0-9-]+)", call.ivr_path)
    assert case_number is not None
    with site.db.reading() as s:
        case = s.scalars(select(Case).where(Case.number == case_number.group(1))).one()
        assert case.kind == "complaint"
