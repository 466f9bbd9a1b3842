"""`hotline replay` gives the right record for every call of every shared capture.

Scenarios 01-06 are checked against what the capture README says happened; the load runs 07 and
07b are checked call by call against Asterisk's own counters inside the same capture
(AgentConnect/AgentComplete HoldTime, TalkTime, MemberName) and the capture's analysis.json.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from telephony.frames import parse_all
from telephony.records import CallRecord
from telephony.replay import ReplayError, replay_files

T01 = "01-service-hotline-dtmf1-agent-answers-caller-hangs-up.ami"
T02 = "02-claims-hotline-menu-timeout-agent-hangs-up.ami"
T03 = "03-complaints-queue-caller-abandons-agents-paused.ami"
T04 = "04-service-queue-ring-no-answer-next-agent.ami"
T05 = "05-ami-actions.ami"
T06 = ["06-core-stop-now.conn1-before-stop.ami", "06-core-stop-now.conn2-after-restart.ami"]


def one(traces: Path, *names: str) -> list[CallRecord]:
    return replay_files([traces / n for n in names])


def test_01_service_dtmf1_answered_caller_hangs_up(traces: Path) -> None:
    [r] = one(traces, T01)
    assert (r.linkedid, r.caller, r.dialed, r.hotline) == ("1796026732.0", "49305551001", "4008001", "service")
    assert (r.digits, r.queue, r.outcome) == ("1", "service", "answered")
    assert (r.agent, r.agents, r.rang, r.hangup_by) == ("agent1001", ["agent1001"], [], "caller")
    assert r.recording == "/var/spool/asterisk/monitor/service-service-1796026732.0.wav"
    # agent rang ~0.8 s; AgentComplete says TalkTime 8
    assert r.wait_s is not None and 0.5 < r.wait_s < 1.2
    assert r.talk_s is not None and 7.0 < r.talk_s <= 8.5
    assert r.started_at and r.answered_at and r.ended_at
    assert r.started_at < r.answered_at < r.ended_at
    assert r.to_json_dict()["started_at"].startswith("2026-11-30T08:18:52")


def test_02_claims_timeout_ringall_agent_hangs_up(traces: Path) -> None:
    [r] = one(traces, T02)
    assert (r.hotline, r.dialed, r.digits, r.queue) == ("claims", "4008002", "", "claims")
    assert (r.outcome, r.agent, r.agents) == ("answered", "agent1002", ["agent1002"])
    assert r.rang == ["agent1003"]  # cancelled: answered elsewhere
    assert r.hangup_by == "agent"
    assert r.talk_s is not None and 3.5 < r.talk_s < 5


def test_03_complaints_abandoned_in_queue(traces: Path) -> None:
    [r] = one(traces, T03)
    assert (r.hotline, r.digits, r.queue, r.outcome) == ("service", "2", "complaints", "abandoned_in_queue")
    assert (r.agent, r.agents, r.rang, r.hangup_by) == (None, [], [], "caller")
    assert r.wait_s is not None and 10 < r.wait_s < 12  # QueueCallerAbandon HoldTime: 11
    assert r.talk_s is None and r.answered_at is None


def test_04_invalid_key_then_ring_no_answer_next_agent(traces: Path) -> None:
    [r] = one(traces, T04)
    assert (r.digits, r.queue, r.outcome) == ("91", "service", "answered")
    assert (r.agent, r.agents, r.rang, r.hangup_by) == ("agent1002", ["agent1002"], ["agent1001"], "caller")


def test_05_actions_redirect_spy_and_callback(traces: Path) -> None:
    recs = {r.linkedid: r for r in one(traces, T05)}
    assert set(recs) == {"1796026804.9", "1796026811.11", "1796026818.13"}
    main = recs["1796026804.9"]
    assert (main.caller, main.hotline, main.digits) == ("49309995001", "service", "2")
    # answered by agent1001 in complaints, redirected to claims, answered by agent1002, hung up by AMI
    assert (main.queue, main.outcome, main.agents, main.agent) == (
        "claims", "answered", ["agent1001", "agent1002"], "agent1002")
    assert main.hangup_by is None  # the AMI Hangup action, neither party
    assert main.recording and main.recording.endswith("service-claims-1796026804.9.wav")
    spy = recs["1796026811.11"]
    assert (spy.hotline, spy.outcome, spy.queue) == (None, "internal", None)
    callback = recs["1796026818.13"]
    assert (callback.caller, callback.queue, callback.outcome, callback.agent) == (
        "4930111222", "service", "answered", "agent1001")


def test_06_core_stop_and_restart(traces: Path) -> None:
    [r] = one(traces, *T06)
    assert (r.outcome, r.agent, r.queue, r.digits) == ("answered", "agent1001", "service", "1")
    # `core stop now` hung the channels up itself: no phone sent BYE
    assert r.hangup_by is None
    assert r.ended_at is not None and not r.reconciled


def test_call_open_when_capture_ends_is_reported_interrupted(traces: Path, tmp_path: Path) -> None:
    data = (traces / T01).read_bytes()
    cut = data.index(b"Event: AgentConnect")
    cut = data.rindex(b"\r\n\r\n", 0, cut) + 4
    part = tmp_path / "cut.ami"
    part.write_bytes(data[:cut])
    [r] = replay_files([part])
    assert r.outcome == "interrupted" and r.queue == "service" and r.agent is None
    assert r.rang == ["agent1001"]  # its ring never got an answer


def _asterisk_counters(path: Path) -> dict[str, dict[str, str]]:
    msgs = parse_all(gzip.decompress(path.read_bytes()))
    out: dict[str, dict[str, str]] = {}
    for m in msgs:
        # an AgentComplete sent after the caller channel is gone carries no channel fields at all
        if m.event in ("AgentConnect", "AgentComplete") and "Linkedid" in m:
            d = out.setdefault(m["Linkedid"], {})
            d[m.event + ".Interface"] = m["Interface"]
            for key in ("HoldTime", "TalkTime"):
                if key in m:
                    d[m.event + "." + key] = m[key]
    return out


@pytest.mark.parametrize("name", ["07-load-service-hotline", "07b-burst-service-hotline-overload"])
def test_load_runs_every_call_matches_asterisk_counters(traces: Path, name: str) -> None:
    path = traces / f"{name}.ami.gz"
    analysis = json.loads((traces / f"{name}.analysis.json").read_text())
    recs = replay_files([path])
    counters = _asterisk_counters(path)
    assert len(recs) == len(counters) == analysis["AgentConnect"]
    assert len({r.linkedid for r in recs}) == len(recs)
    for r in recs:
        c = counters[r.linkedid]
        assert (r.hotline, r.dialed, r.digits, r.queue, r.outcome) == ("service", "4008001", "1", "service", "answered")
        assert r.agent == c["AgentConnect.Interface"].split("/")[1]
        assert r.agents == [r.agent] and r.rang == [] and r.hangup_by == "caller"
        assert r.wait_s is not None and r.talk_s is not None
        assert abs(r.wait_s - int(c["AgentConnect.HoldTime"])) <= 1.0
        if "AgentComplete.TalkTime" in c:
            assert abs(r.talk_s - int(c["AgentComplete.TalkTime"])) <= 1.0
        assert r.recording == f"/var/spool/asterisk/monitor/service-service-{r.linkedid}.wav"
    per_agent = Counter(r.agent for r in recs)
    assert sorted(per_agent.values(), reverse=True) == sorted(
        Counter(c["AgentConnect.Interface"] for c in counters.values()).values(), reverse=True)


def test_07_and_07b_as_successive_connections(traces: Path) -> None:
    recs = replay_files([traces / "07-load-service-hotline.ami.gz",
                         traces / "07b-burst-service-hotline-overload.ami.gz"])
    assert len(recs) == 500 and all(r.outcome == "answered" for r in recs)


def test_replay_without_timeline_uses_stream_times(traces: Path, tmp_path: Path) -> None:
    copy = tmp_path / "01.ami"
    copy.write_bytes((traces / T01).read_bytes())
    [r] = replay_files([copy])
    assert r.outcome == "answered" and r.agent == "agent1001"
    assert r.started_at == 1796026732.0  # from the Uniqueid, 1 s resolution


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"", "not an AMI capture"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an AMI capture"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, content: bytes, expect: str) -> None:
    bad = tmp_path / "bad.ami"
    bad.write_bytes(content)
    with pytest.raises(ReplayError, match=expect):
        replay_files([bad])


def test_cli_replay_json_and_errors(traces: Path, tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "hotline_cli.main"]
    out = subprocess.run([*exe, "replay", str(traces / T02), "--json"], capture_output=True, text=True,
                         check=True)
    [line] = out.stdout.splitlines()
    rec = json.loads(line)
    assert rec["hotline"] == "claims" and rec["rang"] == ["agent1003"]
    assert set(rec) >= {"linkedid", "caller", "dialed", "hotline", "digits", "queue", "outcome", "agent",
                        "agents", "rang", "hangup_by", "wait_s", "talk_s", "recording", "started_at",
                        "answered_at", "ended_at"}
    missing = subprocess.run([*exe, "replay", str(tmp_path / "nope.ami")], capture_output=True, text=True)
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr and "no such file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    truncated = tmp_path / "t.ami"
    truncated.write_bytes((traces / T01).read_bytes()[:5000])
    res = subprocess.run([*exe, "replay", str(truncated), "--json"], capture_output=True, text=True)
    assert res.returncode == 0 and "ends inside a message" in res.stderr
    assert json.loads(res.stdout.splitlines()[0])["outcome"] in ("interrupted", "abandoned_in_ivr")
