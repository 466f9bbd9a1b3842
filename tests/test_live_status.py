"""The live process's own /status and /metrics (`hotline serve --role live --metrics-port PORT`), with the
real Vosk model, a Redis of the test's own (so that it can be stopped), PostgreSQL and a real listener:
the health view names each part and turns degraded (503) while no listener is seen, when Redis goes away
and when the AudioSocket server stops; the Prometheus counters move when real Asterisk captures are
replayed over TCP, refused (peer, busy) or broken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import free_port
from waits import start_redis, stop_processes, wait_until

from hotline_cli.config import Settings
from hotline_cli.livetap import LiveTap, LiveTapSettings
from hotline_cli.pbxrpc import RemotePbx
from hotline_cli.process_metrics import serve_metrics
from hotline_cli.redisbus import EventSubscriber, LiveEventPublisher, LivePublisher
from hotline_cli.roles.live import LiveStatus
from telephony.calls import CallTracker
from telephony.events import EventBus
from telephony.pbxlink import CombinedLive
from tests.test_live_role import wait_log
from tests.test_roles import EXE
from tests.transcripts.audiosocket_replay import capture, replay
from transcripts.audiosocket import (
    KIND_HANGUP,
    KIND_SLIN,
    KIND_UUID,
    LiveResult,
    StreamTranscriber,
    decode_all,
    encode_message,
)
from transcripts.engine import VoskEngine, default_model_dir, model_label, model_sample_rate
from transcripts.live_events import LiveBus

CAPTURE = "as-tap-1-caller-only-chanspy-o"  # the caller's voice as real Asterisk sent it


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of the test's own (it is stopped mid-test); its URL and process."""
    port = free_port()
    proc = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    yield url, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def status(port: int) -> tuple[int, dict[str, Any]]:
    code, body = get(f"http://127.0.0.1:{port}/status")
    return code, json.loads(body)


def metric_values(port: int) -> dict[str, float]:
    """Every sample of /metrics: 'name{labels}' -> value."""
    code, body = get(f"http://127.0.0.1:{port}/metrics")
    assert code == 200, body
    out: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_live_process_status_and_metrics(tmp_path: Path, pg_url: str,
                                         redis_server: tuple[str, subprocess.Popen[bytes]]) -> None:
    redis_url, redis_proc = redis_server
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    ami_port, as_port, metrics_port = free_port(), free_port(), free_port()
    config = tmp_path / "hotline.toml"
    config.write_text("live_max_streams = 1\nlive_prewarm = 1\n")  # a second stream at once is refused as busy
    procs: dict[str, subprocess.Popen[str]] = {}

    def start(name: str, *args: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"{name}.log").open("w")
        procs[name] = subprocess.Popen(
            [*EXE, *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
            env={**base_env, "HOTLINE_CONFIG": str(config), "HOTLINE_DATABASE_URL": pg_url,
                 "HOTLINE_REDIS_URL": redis_url, "HOTLINE_DATA_DIR": str(tmp_path / name),
                 "HOTLINE_AMI_PORT": str(ami_port), "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"),
                 "HOTLINE_LIVE_TRANSCRIPTS": "1", "HOTLINE_AUDIOSOCKET_PORT": str(as_port)})
        return procs[name]

    try:
        live = start("live", "serve", "--role", "live", "--metrics-port", str(metrics_port))
        wait_log(tmp_path / "live.log", "Hotline live transcripts:", live)  # model loaded, subscribed
        # no listener yet: the live process is up but cannot have calls tapped
        code, body = status(metrics_port)
        assert code == 503 and body["status"] == "degraded" and body["ok"] is False, body
        assert body["listener"]["seen"] is False and any("no listener" in p for p in body["problems"]), body
        model_dir = default_model_dir()
        assert body["model"] == {"loaded": True, "name": model_label(model_dir), "dir": str(model_dir),
                                 "sample_rate": model_sample_rate(model_dir), "error": None}, body
        assert body["audiosocket"]["listening"] is True and body["audiosocket"]["port"] == as_port, body
        assert body["redis"]["reachable"] is True and body["redis"]["events_subscribed"] is True, body
        assert body["recognizers"]["in_use"] == 0 and body["recognizers"]["max"] == 1, body
        assert body["recognizers"]["cpu_s"] == 0.0, body  # no stream yet (prewarming is not a stream's)

        seed = subprocess.run([*EXE, "db"], cwd=tmp_path, capture_output=True, text=True,
                              env={**base_env, "HOTLINE_DATABASE_URL": pg_url}, timeout=120)
        assert seed.returncode == 0, seed.stderr
        (tmp_path / "rec").mkdir()
        start("simulator", "simulator", "--listen", f"127.0.0.1:{ami_port}", "--interval", "0")
        start("listener", "serve", "--role", "listener")
        code, body = wait_until(lambda: (s := status(metrics_port))[0] == 200 and s, 60, "live /status ok")
        assert body["ok"] is True and body["status"] == "ok" and body["problems"] == [], body
        assert body["listener"]["seen"] is True and body["listener"]["control_requests_waiting"] == 0, body
        body = wait_until(lambda: (s := status(metrics_port)[1])["recognizers"]["prewarmed"] == 1 and s, 120,
                          "recogniser prewarmed")
        assert body["recognizers"]["idle"] == 1 and body["recognizers"]["in_use"] == 0, body
        assert body["streams"] == {"active": 0, "accepted": 0, "refused_peer": 0, "refused_busy": 0,
                                   "protocol_errors": 0, "ended": 0}, body
        before = metric_values(metrics_port)
        assert before["hotline_live_streams_accepted_total"] == 0
        assert before['hotline_live_results_total{kind="final"}'] == 0

        # a real capture replayed: one stream accepted, recognised, its recogniser back in the pool
        replay(as_port, capture(CAPTURE))
        body = wait_until(lambda: (s := status(metrics_port)[1])["streams"]["ended"] == 1 and s, 60, "stream ended")
        assert body["streams"]["accepted"] == 1 and body["streams"]["active"] == 0, body
        assert body["recognizers"]["in_use"] == 0 and body["recognizers"]["idle"] == 1, body
        assert body["results"]["final"] >= 1 and body["results"]["partial"] >= 1, body
        assert body["results"]["unknown_stream"] == body["results"]["partial"] + body["results"]["final"], body
        m = metric_values(metrics_port)
        assert m["hotline_live_streams_accepted_total"] == 1 and m["hotline_live_streams_active"] == 0
        assert m['hotline_live_recognizers{state="idle"}'] == 1 and m['hotline_live_recognizers{state="in_use"}'] == 0
        assert m["hotline_live_recognizers_max"] == 1
        for kind in ("partial", "final"):
            assert m[f'hotline_live_results_total{{kind="{kind}"}}'] == body["results"][kind], (kind, m, body)
            # every result's lag behind the call was observed
            assert m[f'hotline_live_result_lag_seconds_count{{kind="{kind}"}}'] == body["results"][kind], kind
        assert m["hotline_live_recognizer_cpu_seconds_total"] > 0

        # refused: a peer not allowed (127.0.0.2 is loopback too, but not in audiosocket_peers)
        stranger = socket.socket()
        stranger.bind(("127.0.0.2", 0))
        stranger.connect(("127.0.0.1", as_port))
        stranger.close()
        wait_until(lambda: status(metrics_port)[1]["streams"]["refused_peer"] == 1, 30, "peer refused")
        # refused: busy (live_max_streams = 1 and one stream holds the recogniser)
        holder = socket.create_connection(("127.0.0.1", as_port))
        holder.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes) + encode_message(KIND_SLIN, bytes(320)))
        wait_until(lambda: status(metrics_port)[1]["recognizers"]["in_use"] == 1, 30, "recogniser in use")
        assert metric_values(metrics_port)["hotline_live_streams_active"] == 1
        second = socket.create_connection(("127.0.0.1", as_port))
        second.settimeout(10)
        second.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes) + encode_message(KIND_SLIN, bytes(320)))
        assert second.recv(10) == bytes([KIND_HANGUP, 0, 0])
        second.close()
        holder.close()
        # a protocol error: audio before the UUID
        broken = socket.create_connection(("127.0.0.1", as_port))
        broken.sendall(encode_message(KIND_SLIN, bytes(320)))
        wait_until(lambda: status(metrics_port)[1]["streams"]["protocol_errors"] == 1, 30, "protocol error")
        broken.close()
        body = wait_until(lambda: (s := status(metrics_port)[1])["streams"]["ended"] == 4 and s, 30, "streams ended")
        assert body["streams"] | {"ended": 0} == {"active": 0, "accepted": 4, "refused_peer": 1, "refused_busy": 1,
                                                   "protocol_errors": 1, "ended": 0}, body
        m = metric_values(metrics_port)
        assert m['hotline_live_streams_refused_total{reason="peer"}'] == 1
        assert m['hotline_live_streams_refused_total{reason="busy"}'] == 1
        assert m["hotline_live_stream_protocol_errors_total"] == 1
        assert m["hotline_live_streams_accepted_total"] == 4  # the refused peer was never accepted

        # Redis goes away: degraded, and /metrics still answers with the process's own figures
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        code, body = wait_until(lambda: (s := status(metrics_port))[0] == 503 and s, 30, "degraded without Redis")
        assert body["status"] == "degraded" and body["redis"]["reachable"] is False and body["redis"]["error"], body
        assert any(p.startswith("Redis unreachable") for p in body["problems"]), body
        assert body["audiosocket"]["listening"] is True and body["model"]["loaded"] is True, body
        assert metric_values(metrics_port)["hotline_live_streams_accepted_total"] == 4
    finally:
        stop_processes(procs.values())
    out = (tmp_path / "live.log").read_text()
    assert "Traceback" not in out and "status failed" not in out, out[-3000:]


def test_stream_start_and_lag_of_results() -> None:
    """A result carries when its stream's audio began (the first audio's arrival less its length) and
    its lag: its time less the time the audio it covers ended."""
    engine = VoskEngine(default_model_dir())
    messages, rest = decode_all(capture(CAPTURE))
    audio = [m for m in messages if m.kind == KIND_SLIN]
    assert rest == 0 and audio
    results: list[LiveResult] = []
    st = StreamTranscriber("s", engine.stream_recognizer(8000), results.append)
    first_len_s = len(audio[0].payload) / 2 / 8000
    t0 = time.monotonic()
    st.feed(audio[0].payload)
    t1 = time.monotonic()
    for m in audio[1:]:
        st.feed(m.payload)
    st.finish()
    assert st.started is not None and t0 - first_len_s <= st.started <= t1 - first_len_s
    assert results and {r.stream_started for r in results} == {st.started}
    for r in results:
        assert r.lag_s == r.monotonic - (st.started + r.audio_s)
    assert st.cpu_s > 0


def test_status_turns_degraded_when_the_audiosocket_server_stops(
        redis_server: tuple[str, subprocess.Popen[bytes]]) -> None:
    """In one process: the real model and AudioSocket server, the listener's real LivePublisher (the
    picture the live process looks for) and the events subscriber on Redis; the server stops."""
    redis_url, _ = redis_server
    settings = Settings(redis_url=redis_url, audiosocket_port=free_port(), live_transcripts=True,
                        pbx_control_key=f"test-live-status-{uuid.uuid4().hex}")
    model_dir = default_model_dir()
    live_bus = LiveBus()
    tap = LiveTap(LiveTapSettings(settings.audiosocket_host, settings.audiosocket_port),
                  RemotePbx(redis_url, settings.pbx_control_key), lambda: VoskEngine(model_dir), live_bus)
    listener_picture = LivePublisher(redis_url, CombinedLive([CallTracker(lambda e: None)]))
    events = EventSubscriber(redis_url, EventBus())
    health = LiveStatus(settings, model_dir, tap, LiveEventPublisher(redis_url, live_bus), events)
    port = free_port()
    server = serve_metrics(port, health)
    assert server is not None
    try:
        tap.start(wait=True, timeout=120)
        code, body = wait_until(lambda: (s := status(port))[0] == 200 and s, 30, "status ok")
        assert body["audiosocket"] | {"port": 0} == {"listening": True, "host": "127.0.0.1", "port": 0,
                                                     "address": "127.0.0.1", "allowed_peers": ["127.0.0.1", "::1"]}
        assert tap.server is not None
        tap.server.stop()
        code, body = status(port)
        assert code == 503 and body["status"] == "degraded", body
        assert body["audiosocket"]["listening"] is False and body["problems"] == ["AudioSocket server not listening"]
        assert body["redis"]["reachable"] is True and body["listener"]["seen"] is True, body
    finally:
        server.shutdown()
        server.server_close()
        tap.stop()
        events.stop()
        listener_picture.stop()
