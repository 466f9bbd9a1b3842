"""`hotline asterisk-config`, `hotline prompts build`, `hotline ivr serve`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from hotline_cli.main import main
from ivr.agi_client import AgiCaller
from ivr.config import Prompts
from ivr.prompts import build_prompts
from tests.ivr.conftest import IvrWorld

REPO = Path(__file__).resolve().parents[2]


def test_asterisk_config_matches_the_menus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asterisk-config"]) == 0
    out = capsys.readouterr().out
    assert "exten => 4008001,1,Goto(hotline-hold,service,1)" in out
    assert "exten => 4008002,1,Goto(hotline-hold,claims,1)" in out
    assert " same => n,AGI(${HOTLINE_AGI}/service?lang=zh)" in out and "HOTLINE_AGI = agi://127.0.0.1:4573" in out
    assert " same => n,Goto(ivr-service,s,1)" in out  # fallback when no Redirect comes
    assert "MixMonitor(${RECDIR}/${HOTLINE}-${EXTEN}-${UNIQUEID}.wav,b)" in out
    assert re.search(r"\[complaints\]\(hotline-queue\)\nstrategy = rrmemory", out)
    # manager.conf: least privilege, an allow-list of events; the holding step announces the call
    assert "write = call,originate,agent,reporting" in out and "command" not in out.split("[hotline]")[1]
    assert "read = call,dialplan,dtmf,user,agent,system" in out
    assert "eventfilter(action(include),name(DTMFEnd)) =" in out and "!Event: Newexten" not in out
    assert " same => n,UserEvent(HotlineHold,Hotline: service)" in out
    # queue wait limits: the listener Redirects to [callback-offer],<queue>,1; back into the same queue
    offer = out[out.index("[callback-offer]"):out.index("[to-queue]")]
    assert "exten => _[a-z].,1,NoOp(" in offer and " same => n,Set(CALLBACK_OFFER=${EXTEN})" in offer
    assert " same => n,AGI(${HOTLINE_AGI}/callback-offer?queue=${EXTEN}&hotline=${HOTLINE})" in offer
    assert " same => n,Goto(to-queue,${EXTEN},queue)" in offer and " same => n(queue),Queue(${EXTEN},,,,300)" in out
    assert main(["asterisk-config", "--routing", "dialplan", "--section", "extensions",
                 "--agi-url", "agi://10.0.0.5:4573"]) == 0
    out = capsys.readouterr().out
    assert "exten => 4008001,1,Goto(ivr-service,s,1)" in out and "hotline-hold" not in out
    assert "HOTLINE_AGI = agi://10.0.0.5:4573" in out and "queues.conf" not in out


def test_asterisk_config_writes_the_phones_of_the_settings_technology(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """PJSIP endpoints and PJSIP/ members when the settings' agent_interface is PJSIP (Asterisk 21 and later have
    no chan_sip), chan_sip peers and SIP/ members by default; both checked loaded into a real Asterisk by
    tests/pbx. No Asterisk 12+ rejected keyword in queues.conf."""
    monkeypatch.setenv("HOTLINE_AGENT_INTERFACE", "PJSIP/{agent}")
    assert main(["asterisk-config", "--agents", "agent1001,agent1002", "--carrier", "198.51.100.7"]) == 0
    out = capsys.readouterr().out
    assert ";;;; pjsip.conf" in out and "sip.conf" not in out.replace("pjsip.conf", "")
    assert re.search(r"\[complaints\]\(hotline-queue\)\nstrategy = rrmemory\nmember => PJSIP/agent1001,0,agent1001\n"
                     r"member => PJSIP/agent1002,0,agent1002\n", out)
    assert "[carrier]\ntype = identify\nendpoint = carrier\nmatch = 198.51.100.7" in out
    assert "[agent1002]\ntype = endpoint" in out and "auth = agent1002" in out and "device_state_busy_at = 1" in out
    assert "eventwhencalled" not in out and "eventmemberstatus" not in out
    monkeypatch.delenv("HOTLINE_AGENT_INTERFACE")
    assert main(["asterisk-config", "--section", "phones", "--agents", "agent1001"]) == 0
    out = capsys.readouterr().out
    assert ";;;; sip.conf" in out and "[agent1001]\ntype = friend\nhost = dynamic" in out and "call-limit = 1" in out
    assert main(["asterisk-config", "--section", "queues"]) == 0
    assert ";member => SIP/agent1001,0,agent1001" in capsys.readouterr().out  # no --agents: an example
    assert main(["asterisk-config", "--agents", "agent 1001"]) == 2
    assert "letters, digits, - and _ only" in capsys.readouterr().err


def test_asterisk_config_with_a_broken_menu_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "service.toml").write_text("hotline = ", encoding="utf-8")
    assert main(["asterisk-config", "--menus", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hotline asterisk-config: error: ") and "not valid TOML" in err


def test_prompts_are_rendered_to_8khz_with_sound(tmp_path: Path) -> None:
    prompts = Prompts({"zh": {"goodbye": "感谢您的来电，再见。"}, "en": {"goodbye": "Goodbye."}}, {}, {})
    built = build_prompts(prompts, tmp_path)
    assert [(b.lang, b.name) for b in built] == [("zh", "goodbye"), ("en", "goodbye")]
    for b in built:
        with wave.open(str(b.wav), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            frames = w.readframes(w.getnframes())
        assert b.sln.read_bytes() == frames and 0.3 < b.seconds < 10
        samples = array("h", frames)
        assert max(abs(x) for x in samples) > 1000  # speech, not silence


def test_prompts_build_cli_unknown_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompts", "build", "--out", str(tmp_path), "--lang", "fr"]) == 2
    assert "no prompt texts in language 'fr'" in capsys.readouterr().err


def test_ivr_serve_answers_a_call_and_stops_on_sigterm(ivr_world: IvrWorld, tmp_path: Path) -> None:
    from hotline_cli.demo_ivr import demo_menus

    menus = demo_menus(tmp_path / "menus", tmp_path / "rec")  # open round the clock: the test runs at any hour
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline_cli.main", "ivr", "serve", "--listen", f"127.0.0.1:{port}",
         "--menus", str(menus), "--database", str(ivr_world.db.engine.url)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"FastAGI IVR on 127.0.0.1:{port}" in line, proc.stderr.read() if proc.stderr else ""
        r = AgiCaller("127.0.0.1", port, "service", inputs=["0"]).run()
        assert r.variables["IVR_NEXT"] == "queue" and r.variables["IVR_QUEUE"] == "service"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_ivr_serve_busy_port(capsys: pytest.CaptureFixture[str], ivr_world: IvrWorld) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["ivr", "serve", "--listen", f"127.0.0.1:{port}", "--menus", str(ivr_world.menus),
                     "--database", str(ivr_world.db.engine.url)])
    assert code == 2
    assert "hotline ivr: error: cannot listen on 127.0.0.1" in capsys.readouterr().err



def test_the_words_of_numbers_and_dates_are_trimmed_of_silence(tmp_path: Path) -> None:
    """espeak-ng puts silence around every text: the words of a date (ivr/speech.py) are played one after
    another, so theirs is trimmed and a date does not sound like seven pauses; a whole prompt keeps it."""
    prompts = Prompts({"zh": {"num-6": "六", "goodbye": "六"}, "en": {"num-6": "six", "goodbye": "six"}}, {}, {})
    built = {(b.lang, b.name): b for b in build_prompts(prompts, tmp_path)}
    word, prompt = built[("zh", "num-6")], built[("zh", "goodbye")]
    assert word.seconds < prompt.seconds - 0.2
    samples = array("h", word.sln.read_bytes())
    assert max(abs(x) for x in samples[:80]) > 100  # speech within its first 10 ms
