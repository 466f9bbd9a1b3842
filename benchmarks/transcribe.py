"""Transcription benchmark: live AudioSocket streams at real time, and post-call throughput.

    .venv/bin/python benchmarks/transcribe.py [--max-streams 12] [--seconds 10]

Live: N clients replay the real captured AudioSocket stream (as-tap-1, 8 kHz) over TCP paced at real
time (one 20 ms message every 20 ms) to one AudioSocketServer; per N it prints the real-time factor
(decode time / audio time per stream), the time from the first speech frame to the first partial,
and resident memory per stream. Post-call: audio hours transcribed per CPU hour (one file, serial).

Delivery (`--delivery`): the same streams, but every result goes the whole live path — AudioSocket
server, LiveTranscriber (stream -> call and speaker), LiveBus, the console's dispatcher, Socket.IO —
to the page of the agent on the first stream's call (an in-process Socket.IO test client logged in
as that agent, polled every 2 ms). For each partial: time from sending the 20 ms speech frame that
completed the audio it was decoded from to its arrival at the client.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transcripts.audiosocket import AudioSocketServer, LiveResult, RecognizerPool, decode_all  # noqa: E402
from transcripts.engine import VoskEngine, default_model_dir  # noqa: E402

CAPTURE = REPO / "tests/transcripts/fixtures/audiosocket/as-tap-1-caller-only-chanspy-o.from-asterisk.bin"
RECORDING = REPO / "tests/fixtures/asterisk-traces/recordings/mm-1796029431.41-stereo.converted-by-sox.wav"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def live_round(engine: VoskEngine, n: int) -> tuple[float, float, float]:
    messages, _ = decode_all(CAPTURE.read_bytes())
    first_speech = next(i for i, m in enumerate(messages) if m.kind == 0x10 and any(m.payload)) - 1
    lock = threading.Lock()
    first_partial: dict[str, float] = {}
    started: dict[str, float] = {}

    def on_result(r: LiveResult) -> None:
        with lock:
            first_partial.setdefault(r.stream, time.monotonic())

    cpu_before = time.process_time()
    rss_before = rss_mb()
    ended = threading.Semaphore(0)
    pool = RecognizerPool(engine, max_streams=n)
    server = AudioSocketServer(pool, on_result, on_stream_end=lambda s: ended.release())
    server.start()
    wall = time.monotonic()

    def client(k: int) -> None:
        import uuid

        sid = uuid.uuid4()
        sock = socket.create_connection(("127.0.0.1", server.port))
        t0 = time.monotonic()
        for i, m in enumerate(messages):
            payload = sid.bytes if m.kind == 0x01 else m.payload
            sock.sendall(bytes([m.kind]) + len(payload).to_bytes(2, "big") + payload)
            if i == first_speech:
                with lock:
                    started[str(sid)] = time.monotonic()
            if m.kind != 0x01:
                delay = t0 + i * 0.02 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        sock.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    peak = rss_before
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb())
        time.sleep(0.2)
    for _ in range(n):
        ended.acquire(timeout=120)
    lag = time.monotonic() - wall - len(messages) * 0.02
    server.stop()
    cpu = time.process_time() - cpu_before
    audio_s = n * (len(messages) - 1) * 0.02
    latencies = [first_partial[s] - started[s] for s in started if s in first_partial]
    print(
        f"live streams={n:2d}  cpu/audio={cpu / audio_s:.3f}  finish lag={lag:5.2f} s  "
        f"speech->first partial median={sorted(latencies)[len(latencies) // 2] if latencies else float('nan'):.2f} s  "
        f"memory/stream={(peak - rss_before) / n:.0f} MB"
    )
    return cpu / audio_s, lag, peak


def delivery_round(engine: VoskEngine, n: int, workdir: Path) -> None:
    """n real-time streams through the whole live path; latency measured on the first one."""
    import uuid

    from agent_console.app import create_app, dispatcher
    from agent_console.config import ConsoleConfig
    from cases.db import Database
    from cases.demo_data import DEMO_PASSWORD
    from cases.services import seed_demo
    from telephony.events import EventBus
    from telephony.live import LiveSnapshot
    from transcripts.live import tap_call
    from transcripts.live_events import LiveBus, LiveTranscriber

    class NoLive:
        def live_call_ids(self) -> list[str]:
            return []

        def snapshot(self, now: float | None = None) -> LiveSnapshot:
            return LiveSnapshot(time.time(), (), (), 0)

    db = Database(f"sqlite:///{workdir / f'bench-{n}.db'}")
    db.migrate()
    with db.session() as s:
        seed_demo(s)
    live_bus = LiveBus()
    app, socketio = create_app(ConsoleConfig(secret_key="bench", demo=True, recordings_dir=workdir), db, EventBus(),
                               NoLive(), live_bus=live_bus)
    http = app.test_client()
    with http.session_transaction() as sess:  # the CSRF token the login form would carry
        sess["csrf"] = token = "b" * 40
    resp = http.post("/login", data={"username": "agent1001", "password": DEMO_PASSWORD},
                     headers={"X-CSRF-Token": token})
    assert resp.status_code == 302, resp.status_code
    page = socketio.test_client(app, flask_test_client=http)
    page.get_received()
    arrivals: list[tuple[float, dict[str, object]]] = []
    polling = threading.Event()

    def poll() -> None:
        while not polling.is_set():
            now = time.monotonic()
            for m in page.get_received():
                if m["name"] == "live_transcript":
                    arrivals.append((now, m["args"][0]))
            time.sleep(0.002)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    transcriber = LiveTranscriber(live_bus)
    ended = threading.Semaphore(0)
    produced: dict[tuple[str, float], float] = {}  # (stream, audio_s) -> when Vosk gave the result

    def on_result(r: LiveResult) -> None:
        produced[(r.stream, round(r.audio_s, 3))] = r.monotonic
        transcriber.on_result(r)

    server = AudioSocketServer(RecognizerPool(engine, max_streams=n), on_result,
                               on_stream_end=lambda s: ended.release())
    server.start()
    messages, _ = decode_all(CAPTURE.read_bytes())
    sent_at: dict[int, float] = {}  # audio frame index of the first stream -> when it was sent
    streams = []
    for k in range(n):
        cust, _ = tap_call(f"bench.{k}", f"1796000000.{2 * k}", f"1796000000.{2 * k + 1}")
        transcriber.register(cust, "agent1001" if k == 0 else f"agent{2001 + k}")
        streams.append(uuid.UUID(cust.stream_uuid))
    cpu0 = time.process_time()

    def client(k: int) -> None:
        sock = socket.create_connection(("127.0.0.1", server.port))
        t0 = time.monotonic()
        frame = 0
        for i, m in enumerate(messages):
            payload = streams[k].bytes if m.kind == 0x01 else m.payload
            sock.sendall(bytes([m.kind]) + len(payload).to_bytes(2, "big") + payload)
            if m.kind == 0x10:
                frame += 1
                if k == 0:
                    sent_at[frame] = time.monotonic()
            if m.kind != 0x01:
                delay = t0 + i * 0.02 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        sock.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(n):
        ended.acquire(timeout=120)
    assert dispatcher(app).wait_idle(10)
    time.sleep(0.1)
    polling.set()
    poller.join()
    cpu = time.process_time() - cpu0
    server.stop()
    dispatcher(app).stop()
    db.dispose()
    partials = [(at, e) for at, e in arrivals if not e["final"]
                and round(float(str(e["audio_s"])) / 0.02) in sent_at]

    def sent(e: dict[str, object]) -> float:
        return sent_at[round(float(str(e["audio_s"])) / 0.02)]

    def made(e: dict[str, object]) -> float:
        return produced[(str(e["stream"]), float(str(e["audio_s"])))]

    lat = sorted(at - sent(e) for at, e in partials)
    recog = sorted(made(e) - sent(e) for _, e in partials)
    deliver = sorted(at - made(e) for at, e in partials)
    audio_s = n * (len(messages) - 1) * 0.02
    if not lat:
        print(f"delivery streams={n:2d}: no partial reached the page")
        return
    print(f"delivery streams={n:2d}  partials at the agent's page={len(lat)}  frame sent -> partial delivered: "
          f"median {lat[len(lat) // 2] * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95)] * 1000:.0f} ms, "
          f"max {lat[-1] * 1000:.0f} ms (of which recognition: median {recog[len(recog) // 2] * 1000:.0f} ms; "
          f"Vosk result -> page: median {deliver[len(deliver) // 2] * 1000:.1f} ms, max {deliver[-1] * 1000:.1f} ms)  "
          f"cpu/audio={cpu / audio_s:.3f}  load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-streams", type=int, default=12)
    ap.add_argument("--delivery", type=int, nargs="*", default=None,
                    help="only the whole-path delivery measurement, with these numbers of streams (e.g. 1 4 8)")
    args = ap.parse_args()
    t = time.monotonic()
    engine = VoskEngine(default_model_dir())
    print(f"model load {time.monotonic() - t:.2f} s, process RSS {rss_mb():.0f} MB")
    if args.delivery is not None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            for n in args.delivery or [1, 4, 8]:
                delivery_round(engine, n, Path(tmp))
        return 0
    cpu0 = time.process_time()
    transcript = engine.transcribe_wav(RECORDING)
    cpu = time.process_time() - cpu0
    audio_h = 2 * transcript.duration_s / 3600  # two channels
    rate = audio_h / (cpu / 3600)
    print(f"post-call: {audio_h * 3600:.1f} s of speaker audio in {cpu:.2f} CPU s = {rate:.1f} audio h per CPU h")
    best = 0
    n = 1
    while n <= args.max_streams:
        _, lag, _ = live_round(engine, n)
        if lag < 1.0:  # every stream finished within 1 s of its audio ending: keeping up with real time
            best = n
        else:
            break
        n = n * 2 if n < 4 else n + 4
    print(f"live streams keeping real time (all results within 1 s of the end of audio): {best}")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
