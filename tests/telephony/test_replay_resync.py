"""`hotline replay` of successive connections resyncs as the live listener does: the snapshot answers a
capture holds (CoreShowChannels, QueueStatus, whatever their ActionID) are applied where they stand,
so a capture with a cut replays to the calls the live listener stores for the same bytes, and a call
that began while no connection was open is taken up from the next connection's snapshot.

The cuts are made of real captures (`recorded_ami.cut`): the messages a cut loses are left out, and
the next connection begins with the snapshot answers of the state those messages left. The live
listener (AmiClient, resync, CallTracker) gets the same connections over loopback TCP
(`recorded_ami.live_records`)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from recorded_ami import Capture, cut, live_records, read_capture

from telephony.records import CallRecord
from telephony.replay import replay_files

T01 = "01-service-hotline-dtmf1-agent-answers-caller-hangs-up.ami"
T05 = "05-ami-actions.ami"
T06 = ("06-core-stop-now.conn1-before-stop.ami", "06-core-stop-now.conn2-after-restart.ami")
T07 = "07-load-service-hotline.ami.gz"
CALL01 = "1796026732.0"
# ActionIDs of snapshot answers: Hotline's own, the lab client's (trace 05), any, none at all
ID_STYLES = {"hotline": ("hl-coreshowchannels-7", "hl-queuestatus-8"),
             "lab-client": ("coreshowchannels-21", "queuestatus-15"), "any": ("42", "x"), "none": (None, None)}


def facts(records: list[CallRecord]) -> dict[str, tuple[object, ...]]:
    """What a record says apart from its times (live takes them from the clock, replay from the capture)."""
    return {r.linkedid: (r.caller, r.caller_name, r.dialed, r.hotline, r.digits, r.queue, r.outcome, r.agent,
                         r.agents, r.rang, r.hangup_by, r.recording, r.ivr_path, r.reconciled,
                         r.wait_s is None, r.talk_s is None) for r in records}


def replay(tmp_path: Path, *captures: Capture) -> list[CallRecord]:
    return replay_files([c.write(tmp_path, f"conn{i + 1}") for i, c in enumerate(captures)])


def test_the_06_restart_replays_as_the_live_listener_stores_it(traces: Path) -> None:
    replayed = replay_files([traces / n for n in T06])
    live = live_records([read_capture(traces / n) for n in T06])
    assert facts(replayed) == facts(live)
    [r] = replayed
    assert (r.linkedid, r.caller, r.hotline, r.digits, r.queue) == ("1796026830.16", "49306666001", "service", "1",
                                                                     "service")
    assert (r.outcome, r.agent, r.agents, r.rang, r.hangup_by, r.reconciled) == (
        "answered", "agent1001", ["agent1001"], [], None, False)
    # `core stop now` ended the call in the first connection: before the second one's login at 08:20:36
    assert r.started_at and r.answered_at and r.ended_at and r.started_at < r.answered_at < r.ended_at < 1796026836.2
    assert r.talk_s is not None and 0 < r.talk_s < r.ended_at - r.started_at


# where the second connection takes up the stream of trace 01: the messages before are lost in the cut
STAGES = {
    "in-the-ivr": 10,  # before the key 1 (24)
    "waiting-in-the-queue": 41,  # after QueueCallerJoin (40), before the agent's phone rings
    "agent-ringing": 60,  # after AgentCalled (53), before AgentConnect (87)
    "talking": 96,  # both legs bridged (89, 90) at 08:18:54.97, 3 s into the talk; the caller hangs up at 117
}


@pytest.mark.parametrize("stage", STAGES)
def test_a_call_begun_during_a_cut_is_taken_up_as_live_takes_it_up(traces: Path, tmp_path: Path,
                                                                     stage: str) -> None:
    whole = read_capture(traces / T01)
    [full] = replay_files([traces / T01])
    first_newchannel = next(i for i, f in enumerate(whole.frames) if f.msg.event == "Newchannel")
    conn1, conn2 = cut(whole, first_newchannel, STAGES[stage], ID_STYLES["lab-client"])
    assert CALL01.encode() not in b"".join(f.raw for f in conn1.frames)  # only the snapshot tells of it
    replayed = replay(tmp_path, conn1, conn2)
    assert facts(replayed) == facts(live_records([conn1, conn2]))
    [r] = replayed
    assert (r.linkedid, r.caller, r.hotline, r.outcome) == (CALL01, "49305551001", "service", "answered")
    assert (r.agent, r.agents, r.hangup_by, r.reconciled) == ("agent1001", ["agent1001"], "caller", True)
    assert r.digits == ("1" if stage == "in-the-ivr" else "")  # a key pressed during the cut is lost
    # a call taken up while talking: out of the queue, so not in QueueStatus (the live listener's limit too)
    assert r.queue == (None if stage == "talking" else "service")
    # its start comes from the snapshot's Duration (whole seconds), its end from its own events
    assert full.started_at and r.started_at and abs(r.started_at - full.started_at) < 1.5
    assert r.ended_at == full.ended_at
    assert r.talk_s is not None and full.wait_s is not None and full.talk_s is not None
    if stage == "talking":  # its talk is known from the snapshot's bridge on: shorter than the whole; no wait
        assert r.wait_s is None and 0 < r.talk_s < full.talk_s
    elif stage == "in-the-ivr":  # every queue and agent event came in the second connection
        assert (r.wait_s, r.talk_s) == (full.wait_s, full.talk_s)
    else:  # its wait so far is the snapshot's (whole seconds), and the stream resumes 0.5 s after the cut
        assert r.wait_s == pytest.approx(full.wait_s, abs=1.5) and r.talk_s == pytest.approx(full.talk_s, abs=0.6)


def test_a_call_that_ended_during_the_cut_is_closed_by_the_next_snapshot_as_live_closes_it(
        traces: Path, tmp_path: Path) -> None:
    whole = read_capture(traces / T01)
    conn1, conn2 = cut(whole, STAGES["talking"], len(whole.frames) - 1, ID_STYLES["hotline"])
    replayed = replay(tmp_path, conn1, conn2)
    assert facts(replayed) == facts(live_records([conn1, conn2]))
    [r] = replayed
    # answered (its talk was seen); who hung up and when is not knowable: it ends at the snapshot
    assert (r.linkedid, r.outcome, r.agent, r.hangup_by, r.reconciled) == (CALL01, "answered", "agent1001", None,
                                                                           True)
    assert r.ended_at == conn2.frames[0].at


@pytest.mark.parametrize("ids", ID_STYLES.values(), ids=list(ID_STYLES))
def test_a_snapshot_answer_is_applied_whatever_its_action_id(traces: Path, tmp_path: Path,
                                                             ids: tuple[str | None, str | None]) -> None:
    whole = read_capture(traces / T01)
    conn1, conn2 = cut(whole, 4, STAGES["waiting-in-the-queue"], ids)
    [r] = replay(tmp_path, conn1, conn2)
    assert (r.linkedid, r.outcome, r.agent, r.reconciled) == (CALL01, "answered", "agent1001", True)


def test_without_its_snapshot_answer_the_call_of_the_cut_is_never_known(traces: Path, tmp_path: Path) -> None:
    """The control of the tests above: the same second connection without the answers."""
    whole = read_capture(traces / T01)
    conn1, conn2 = cut(whole, 4, STAGES["talking"], ID_STYLES["hotline"])
    bare = Capture(conn2.banner, tuple(f for f in conn2.frames if f.msg.get("ActionID") != "hl-coreshowchannels-7"
                                       and f.msg.get("ActionID") != "hl-queuestatus-8"))
    assert replay(tmp_path, conn1, bare) == []


def test_a_connection_lost_inside_its_snapshot_answer_applies_none_of_it(
        traces: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """As the live resync, which drops a snapshot its connection lost; the next connection's applies."""
    whole = read_capture(traces / T01)
    conn1, conn2 = cut(whole, 4, STAGES["talking"], ID_STYLES["hotline"])
    n = next(i for i, f in enumerate(conn2.frames) if f.msg.event == "CoreShowChannel")
    lost = Capture(conn2.banner, conn2.frames[: n + 1])
    with caplog.at_level(logging.WARNING, logger="telephony.replay"):
        assert replay(tmp_path, conn1, lost) == []
    assert "the connection ends inside the answer to an action (channels)" in caplog.text
    [r] = replay(tmp_path, conn1, lost, conn2)
    assert (r.linkedid, r.outcome, r.reconciled) == (CALL01, "answered", True)


def test_the_lab_clients_snapshot_answers_are_applied_and_agree_with_its_stream(
        traces: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Trace 05 asked QueueStatus once and CoreShowChannels twice (ActionIDs `queuestatus-15`,
    `coreshowchannels-21`, `-24`), each alone, in a stream with nothing lost: each is applied and
    changes nothing."""
    with caplog.at_level(logging.INFO, logger="telephony.calls"):
        recs = replay_files([traces / T05])
    resyncs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resync:")]
    assert resyncs == ["resync: 0 calls closed, 0 taken up, 0 updated"] * 3
    assert len(recs) == 3 and not any(r.reconciled for r in recs)


def test_a_cut_through_the_load_run_replays_as_the_live_listener_stores_it(traces: Path, tmp_path: Path) -> None:
    """The first 60 s of trace 07 (a call every 2 s) with 12 s lost: calls that ended, began, were
    answered or went on while no connection was open."""
    whole = read_capture(traces / T07)
    start = whole.frames[0].at
    until = next(i for i, f in enumerate(whole.frames) if f.at > start + 60)
    part = Capture(whole.banner, whole.frames[:until])
    lost_from = next(i for i, f in enumerate(part.frames) if f.at > start + 25)
    lost_until = next(i for i, f in enumerate(part.frames) if f.at > start + 37)
    conn1, conn2 = cut(part, lost_from, lost_until, ID_STYLES["lab-client"])
    replayed = replay(tmp_path, conn1, conn2)
    assert facts(replayed) == facts(live_records([conn1, conn2]))
    by_id = {r.linkedid: r for r in replayed}
    channels: dict[str, str] = {}  # the channels up when the first connection ends -> their call
    for f in conn1.frames:
        if f.msg.event == "Newchannel":
            channels[f.msg.get("Uniqueid")] = f.msg.get("Linkedid")
        elif f.msg.event == "Hangup":
            channels.pop(f.msg.get("Uniqueid"), None)
    in_snapshot = {f.msg.get("Linkedid") for f in conn2.frames if f.msg.event == "CoreShowChannel"}
    begun_in_the_cut = in_snapshot - set(channels.values()) - {f.msg.get("Linkedid") for f in conn1.frames}
    ended_in_the_cut = set(channels.values()) - in_snapshot
    talked = {f.msg.get("Linkedid") for f in conn1.frames if f.msg.event == "AgentConnect"}
    assert begun_in_the_cut and ended_in_the_cut and set(by_id) >= begun_in_the_cut | ended_in_the_cut
    assert all(by_id[lid].reconciled for lid in begun_in_the_cut | ended_in_the_cut)
    assert all(by_id[lid].outcome == "answered" for lid in begun_in_the_cut)
    # a call gone during the cut: answered if its talk was seen, else nobody can tell what became of it
    assert {lid: by_id[lid].outcome for lid in ended_in_the_cut} == {
        lid: "answered" if lid in talked else "interrupted" for lid in ended_in_the_cut}
    assert talked & ended_in_the_cut and ended_in_the_cut - talked
    full = {r.linkedid: r for r in replay_files([part.write(tmp_path, "whole")])}
    untouched = [r for r in replayed if not r.reconciled]
    assert untouched and all(facts([r]) == facts([full[r.linkedid]]) for r in untouched)


def test_cli_replay_takes_up_the_call_of_a_cut(traces: Path, tmp_path: Path) -> None:
    whole = read_capture(traces / T01)
    conn1, conn2 = cut(whole, 4, STAGES["waiting-in-the-queue"], ID_STYLES["any"])
    files = [str(conn1.write(tmp_path, "conn1")), str(conn2.write(tmp_path, "conn2"))]
    out = subprocess.run([sys.executable, "-m", "hotline_cli.main", "replay", *files, "--json"],
                         capture_output=True, text=True, check=True)
    [line] = out.stdout.splitlines()
    rec = json.loads(line)
    assert (rec["linkedid"], rec["outcome"], rec["agent"], rec["reconciled"]) == (CALL01, "answered", "agent1001",
                                                                                  True)


def test_a_core_show_channels_answer_alone_closes_and_takes_up_calls(traces: Path, tmp_path: Path) -> None:
    """A client that asked CoreShowChannels alone: its answer is applied; what only QueueStatus tells
    (who waits in which queue, which channels are agents') stays as the events left it."""
    whole = read_capture(traces / T01)
    conn1, conn2 = cut(whole, 4, STAGES["waiting-in-the-queue"], ID_STYLES["any"])
    alone = Capture(conn2.banner, tuple(f for f in conn2.frames if f.msg.get("ActionID") != "x"))
    assert not any(f.msg.event == "QueueStatusComplete" for f in alone.frames)
    [r] = replay(tmp_path, conn1, alone)
    assert (r.linkedid, r.outcome, r.agent, r.reconciled) == (CALL01, "answered", "agent1001", True)
    assert r.queue is None and r.wait_s is None
    conn1, conn2 = cut(whole, STAGES["talking"], len(whole.frames) - 1, ID_STYLES["any"])
    alone = Capture(conn2.banner, tuple(f for f in conn2.frames if f.msg.get("ActionID") != "x"))
    [r] = replay(tmp_path, conn1, alone)
    assert (r.linkedid, r.outcome, r.hangup_by, r.reconciled, r.ended_at) == (
        CALL01, "answered", None, True, conn2.frames[0].at)
