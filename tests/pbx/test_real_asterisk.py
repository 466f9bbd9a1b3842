"""Hotline on a real Asterisk 20 loaded with the generated configuration (tests/pbx/asterisk_lab.py): real SIP
callers and agents' phones (sipp), `hotline serve` with routing `ami` and `hotline ivr serve`. Each call is
checked where a site would look: the stored call record, the case, Asterisk's own log and queue state."""

from __future__ import annotations

import re
import subprocess
import time

from sqlalchemy import select
from waits import wait_until

from cases.models.calls import Call
from cases.models.case import Case
from pbx.asterisk_lab import AGENTS, Key
from pbx.hotline_site import BLOCKED, KEY_ACCOUNT, Site
from tests.test_roles import agent_client, login

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


def test_the_generated_configuration_loads_without_a_warning(site: Site) -> None:
    log = site.lab.verbose_log()
    own = [line for line in log.splitlines() if ("WARNING" in line or "ERROR" in line)
           and any(f in line for f in ("extensions.conf", "queues.conf", "manager.conf", "pjsip.conf", "app_queue.c:",
                                       " manager.c:", "pbx_config.c:", "chan_sip.c: Unknown", "res_sorcery_config.c:",
                                       "res_pjsip.c:", "res_pjsip_endpoint_identifier_ip.c:"))
           and "Unable to load config file" not in line]  # the lab's unused modules' optional files
    assert own == []
    assert "Manager 'hotline' logged on" in log  # the generated AMI user, with the site's secret


def test_a_tracking_call_is_routed_keeps_its_keys_waybill_and_path_and_reaches_an_agent(site: Site) -> None:
    caller = "13800138001"
    http = login(site.base, "agent1001")
    pops: list[dict[str, object]] = []
    sio = agent_client(site.base, "agent1001", pops, http)
    try:
        proc = site.sipp.call(caller, "4008001", [Key(2.0, "1"), Key(4.0, WAYBILL + "#"), Key(16.0, "0")],
                              hangup_s=26.0)
        wait_exit(proc)
        call = stored(site, caller)
    finally:
        sio.disconnect()
    [pop] = [p for p in pops if p["caller"] == caller]  # on the agent's console as the phone rang
    assert pop["waybill"] == WAYBILL and pop["hotline"] == "service" and pop["waybill_lookup"] == "found"
    assert str(pop["ivr_path"]).startswith(f"menu=1:tracking>waybill={WAYBILL}")
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
    assert call.outcome == "rejected" and call.ivr_path in (None, "")
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


def test_a_caller_served_by_the_ivr_hears_the_date_in_mandarin_and_is_self_served(site: Site) -> None:
    """Keys as RFC 2833 events this time (peer carrier2833); no key after the status: goodbye."""
    caller = "13900139003"
    proc = site.sipp.call(caller, "4008001", [Key(2.0, "1"), Key(4.0, WAYBILL)], hangup_s=70.0, rfc2833=True)
    wait_exit(proc)
    call = stored(site, caller)
    assert call.digits == f"1{WAYBILL}" and call.waybill == WAYBILL
    assert call.ivr_path is not None and call.ivr_path.endswith(">goodbye")
    assert call.outcome == "self_served"
    files = played(site)
    last_scan = files.index("hotline/zh/last-scan.slin")
    assert files[last_scan + 1].startswith("hotline/zh/month-")  # the date: 十二月 … from Hotline's words
    assert "hotline/zh/date-day.slin" in files and not any(f.startswith("digits/") for f in files)


def test_an_out_of_hours_call_has_its_own_outcome(site: Site) -> None:
    caller = "13400134007"
    proc = site.sipp.call(caller, "4008002", hangup_s=30.0)  # the claims hotline: closed (lab_menus)
    wait_exit(proc)
    call = stored(site, caller)
    assert call.hotline == "claims" and call.outcome == "out_of_hours"
    assert call.ivr_path is not None and call.ivr_path.startswith("closed>")


def test_an_abandoned_ivr_call_keeps_its_waybill_and_path(site: Site) -> None:
    caller = "13500135005"
    proc = site.sipp.call(caller, "4008001", [Key(2.0, "1"), Key(4.0, WAYBILL + "#")], hangup_s=10.0)
    wait_exit(proc)
    call = stored(site, caller)
    assert call.outcome == "abandoned_in_ivr" and call.waybill == WAYBILL
    assert call.ivr_path is not None and call.ivr_path.startswith(f"menu=1:tracking>waybill={WAYBILL}")
    assert call.ivr_path.endswith("hangup")


def paused(site: Site, agent: str, queue: str = "service") -> str | None:
    """How Asterisk itself shows `agent` in `queue` when paused ("paused:wrap-up ..."), else None."""
    for line in site.lab.rx(f"queue show {queue}").splitlines():
        if f"({site.lab.tech}/{agent})" in line:
            found = re.search(r"\((paused[^)]*)\)", line)
            return found.group(1) if found else None
    raise AssertionError(f"{agent} is no member of {queue}")


def waiting(site: Site, queue: str = "service") -> int:
    found = re.search(rf"^{queue} has (\d+) calls", site.lab.rx(f"queue show {queue}"), re.M)
    return int(found.group(1)) if found else 0


def test_a_key_account_is_served_before_a_caller_who_waited_longer(site: Site) -> None:
    for agent in AGENTS:
        site.lab.rx(f"queue pause member {site.lab.tech}/{agent} queue service reason meeting")
    wait_until(lambda: all(paused(site, a) for a in AGENTS), 10, "every agent paused")
    first = site.sipp.call("13800000011", "4008001", [Key(2.0, "0")], hangup_s=40.0)
    wait_until(lambda: waiting(site) == 1, 30, "the first caller queued", every=0.2)
    key = site.sipp.call(KEY_ACCOUNT, "4008001", [Key(2.0, "0")], hangup_s=30.0)
    wait_until(lambda: waiting(site) == 2, 30, "the key account queued", every=0.2)
    assert "prio: 10" in site.lab.rx("queue show service")  # QUEUE_PRIO from the IVR
    site.lab.rx(f"queue unpause member {site.lab.tech}/agent1001 queue service")
    wait_exit(key)
    wait_exit(first)
    served, waited = stored(site, KEY_ACCOUNT), stored(site, "13800000011")
    assert (served.outcome, served.agent) == ("answered", "agent1001")
    assert waited.started_at is not None and served.started_at is not None and waited.started_at < served.started_at
    assert waited.outcome == "abandoned_in_queue" and waited.agent is None


def test_a_restart_during_a_wrap_up_never_strands_the_agent(site: Site) -> None:
    site.serve.terminate()
    site.serve.wait(20)
    first = site.start_serve("serve-long-wrap-up", HOTLINE_WRAP_UP_S="300")
    proc = site.sipp.call("13800000012", "4008001", [Key(2.0, "0")], hangup_s=14.0)
    wait_exit(proc)
    assert stored(site, "13800000012").agent == "agent1001"
    wait_until(lambda: "wrap-up" in (paused(site, "agent1001") or ""), 30, "the wrap-up pause", every=0.3)
    first.kill()  # mid wrap-up: nothing will unpause the agent now
    first.wait(10)
    time.sleep(1)
    assert "wrap-up" in (paused(site, "agent1001") or "")
    site.start_serve("serve-after-restart", HOTLINE_WRAP_UP_S="2")
    wait_until(lambda: paused(site, "agent1001") is None, 60, "agent1001 ready again", every=0.3)
    assert "wrap-up of agent1001 taken up" in site.log_of("serve-after-restart")
