"""Live transcript settings and the tap's behaviour when Asterisk cannot take the Originates."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_cli.config import ConfigError, load_settings
from hotline_cli.livetap import LiveTap, LiveTapError, LiveTapSettings
from telephony.events import CallAnswered
from telephony.pbxlink import PbxControl
from transcripts.engine import SpeechEngine
from transcripts.live_events import LiveBus


def test_live_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('live_transcripts = true\naudiosocket_host = "0.0.0.0"\naudiosocket_port = 9192\n'
                   'audiosocket_address = "10.0.0.5"\naudiosocket_peers = ["10.0.0.9"]\nlive_max_streams = 40\n')
    s = load_settings(cfg, environ={})
    assert (s.live_transcripts, s.audiosocket_host, s.audiosocket_port, s.audiosocket_address) == \
        (True, "0.0.0.0", 9192, "10.0.0.5")
    assert s.audiosocket_peers == ("10.0.0.9",) and s.live_max_streams == 40
    s = load_settings(cfg, environ={"HOTLINE_LIVE_TRANSCRIPTS": "off", "HOTLINE_AUDIOSOCKET_PORT": "9300"})
    assert s.live_transcripts is False and s.audiosocket_port == 9300
    assert load_settings(None, environ={}).live_transcripts is False  # off unless asked for


@pytest.mark.parametrize("text", ['live_transcripts = "perhaps"', "audiosocket_port = 70000",
                                  "audiosocket_port = true", 'audiosocket_peers = "127.0.0.1"'])
def test_bad_live_settings_are_refused(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(text + "\n")
    with pytest.raises(ConfigError):
        load_settings(cfg, environ={})


def test_prewarm_settings(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    assert load_settings(None, environ={}).live_prewarm == 4
    cfg.write_text('live_max_streams = 10\nlive_prewarm = 10\nlive_warm_up_audio = "/srv/hotline/warm.wav"\n')
    s = load_settings(cfg, environ={})
    assert (s.live_prewarm, s.live_warm_up_audio) == (10, "/srv/hotline/warm.wav")
    for text, says in [("live_max_streams = 10\nlive_prewarm = 11", "live_prewarm: 11 is not from 0 to "
                        "live_max_streams (10)"), ("live_prewarm = -1", "live_prewarm: -1"),
                       ("live_max_streams = 0\nlive_prewarm = 0", "live_max_streams: 0"),
                       ('live_prewarm = "many"', "live_prewarm")]:
        cfg.write_text(text + "\n")
        with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
            load_settings(cfg, environ={})


def test_a_warm_up_file_that_is_not_audio_stops_the_start_with_its_name(tmp_path: Path) -> None:
    from transcripts.engine import VoskEngine, default_model_dir

    bad = tmp_path / "warm.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    tap = LiveTap(LiveTapSettings(listen_port=0, prewarm=1, warm_up_audio=bad), PbxControl([]),
                  lambda: VoskEngine(default_model_dir()), LiveBus())
    with pytest.raises(LiveTapError, match="warm.wav"):
        tap.start(wait=True)
    assert tap.server is None and not tap.ready.is_set()


def test_originates_that_cannot_be_sent_are_counted_and_forgotten() -> None:
    def no_engine() -> SpeechEngine:
        raise AssertionError("the model is not needed to send Originates")

    tap = LiveTap(LiveTapSettings(listen_port=9092), PbxControl([]), no_engine, LiveBus())
    tap._tap(CallAnswered("1796029404.29", "agent1001", "service", 1.0, "1796029404.29", "1796029404.30"))
    assert tap.calls_tapped == 1 and tap.originates_failed == 2 and tap.originates_sent == 0
    assert tap.transcriber.streams_of("1796029404.29") == []  # nothing waits for streams that never come
    # a call taken up by a resync (no channel Uniqueids) or before the server is up is not tapped
    tap.on_event(CallAnswered("1796029404.29", "agent1001", "service", 1.0))
    assert tap.calls_tapped == 1


def test_streams_that_never_came_are_forgotten_after_the_call() -> None:
    from transcripts.live import tap_call

    def no_engine() -> SpeechEngine:
        raise AssertionError("not needed")

    tap = LiveTap(LiveTapSettings(listen_port=9092), PbxControl([]), no_engine, LiveBus())
    for stream in tap_call("c.1", "1796000000.1", "1796000000.2"):
        tap.transcriber.register(stream, "agent1001")
    tap.transcriber.register(tap_call("c.2", "1796000000.3", "1796000000.4")[0], "agent1002")
    tap._forget("c.1")
    assert tap.transcriber.streams_of("c.1") == [] and len(tap.transcriber.streams_of("c.2")) == 1
