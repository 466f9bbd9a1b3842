"""Transcription benchmark: live AudioSocket streams at real time, and post-call throughput.

    .venv/bin/python benchmarks/transcribe.py [--streams 1 2 4 6 8 10 12 14] [--chunk-ms 20 100] [--no-post-call]

Live, for each number of streams N, rounds in the same run (bare Vosk, then ours per `--chunk-ms`):
- ours: N clients in a child process replay the real captured AudioSocket stream (as-tap-1, 8 kHz)
  over TCP paced at real time (one 20 ms message every 20 ms) to one AudioSocketServer, whose results
  go through LiveTranscriber to a LiveBus (the live path up to where Redis or Socket.IO takes over).
  This process does nothing else, so its CPU time is our pipeline's cost.
- bare Vosk: N threads of this process, each a KaldiRecognizer at 8 kHz (words on, as ours) fed the
  same audio in 20 ms pieces at real time, PartialResult after every piece that ends no utterance:
  what using Vosk directly costs on this machine at this moment.
`--chunk-ms 20 100 200`: a round of ours per size of the pieces our server hands Vosk (Asterisk
sends 20 ms). Per N: CPU seconds per audio second of each and their ratio (our overhead), how late
the last result of a stream came after the end of its audio (kept up with real time: every stream within
1 s), speech -> first partial (from sending the first 20 ms message with speech to the partial),
frame -> partial for every partial, and the clients' own CPU (what an earlier version of this
benchmark counted as ours: its clients ran in the measuring process). Memory per stream is measured
once, on fresh recognisers, before the rounds. The machine's load average is
printed with every line: other processes' CPU use lowers both figures alike, the ratio much less.

Post-call: audio hours transcribed per CPU hour (one stereo call recording, serial): on new recognisers,
then on an engine whose kept recogniser has transcribed another call first (a worker after one job).

Delivery (`--delivery`): the same streams, but every result goes the whole live path — AudioSocket
server, LiveTranscriber (stream -> call and speaker), LiveBus, the console's dispatcher, Socket.IO —
to the page of the agent on the first stream's call (an in-process Socket.IO test client logged in
as that agent, polled every 2 ms). For each partial: time from sending the 20 ms speech frame that
completed the audio it was decoded from to its arrival at the client.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transcripts.audiosocket import (  # noqa: E402
    DEFAULT_CHUNK_MS,
    KIND_SLIN,
    KIND_UUID,
    AudioSocketServer,
    LiveResult,
    RecognizerPool,
    decode_all,
    encode_message,
    warm_up_pcm,
)
from transcripts.engine import VoskEngine, default_model_dir  # noqa: E402

CAPTURE = REPO / "tests/transcripts/fixtures/audiosocket/as-tap-1-caller-only-chanspy-o.from-asterisk.bin"
RECORDING = REPO / "tests/fixtures/asterisk-traces/recordings/mm-1796029431.41-stereo.converted-by-sox.wav"
FRAME_S = 0.02
WARM = True  # --recognisers: warm (prewarmed on the shipped clip, another call's audio) or cold (new ones)
WARMERS = os.cpu_count() or 1  # threads making the recognisers ready before a round (not measured)
KEPT_UP_S = 1.0  # a stream keeps up with real time when its last result comes within this of its audio's end


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def capture_frames() -> list[bytes]:
    messages, _ = decode_all(CAPTURE.read_bytes())
    return [m.payload for m in messages if m.kind == KIND_SLIN]


def first_speech(frames: list[bytes]) -> int:
    """Index of the first 20 ms frame that is not digital silence (the capture starts with silence)."""
    return next(i for i, f in enumerate(frames) if any(f))


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def run_clients(port: int, streams: list[str]) -> None:
    """Child process: one paced AudioSocket client per stream UUID; prints {stream: [send time of each
    frame]} as JSON (time.monotonic() is the same clock in every process)."""
    frames = capture_frames()
    sent: dict[str, list[float]] = {}

    def client(sid: uuid.UUID) -> None:
        times: list[float] = []
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(encode_message(KIND_UUID, sid.bytes))
        t0 = time.monotonic()
        for i, frame in enumerate(frames):
            sock.sendall(encode_message(KIND_SLIN, frame))
            times.append(time.monotonic())
            delay = t0 + (i + 1) * FRAME_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sock.close()
        sent[str(sid)] = times

    threads = [threading.Thread(target=client, args=(uuid.UUID(s),)) for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(sent))


def memory_per_stream(engine: VoskEngine, n: int = 4, seconds: float = 3.0) -> tuple[float, float]:
    """Resident memory of one live recogniser: n fresh ones (first thing after the model loads, before
    freed memory of other rounds could be reused), each fed `seconds` of the capture's speech; then the
    same after each has also decoded the warm-up clip and the whole capture (a warm one's graph cache)."""
    frames = capture_frames()
    start = first_speech(frames)
    pcm = b"".join(frames[start : start + int(seconds / FRAME_S)])
    before = rss_mb()
    recognizers = [engine.stream_recognizer(8000) for _ in range(n)]
    for rec in recognizers:
        for i in range(0, len(pcm), 3200):
            rec.accept(pcm[i : i + 3200])
        rec.partial()
    fresh = (rss_mb() - before) / n
    more = warm_up_pcm(8000) + b"".join(frames)
    for rec in recognizers:
        for i in range(0, len(more), 1600):
            if rec.accept(more[i : i + 1600]):
                rec.result()
        rec.final()
        rec.reset()
    warm = (rss_mb() - before) / n
    del recognizers
    return fresh, warm


def ours_round(engine: VoskEngine, n: int, chunk_ms: int) -> dict[str, float]:
    from transcripts.live import tap_call
    from transcripts.live_events import LiveBus, LiveTranscriber

    frames = capture_frames()
    audio_s = len(frames) * FRAME_S
    lock = threading.Lock()
    results: dict[str, list[LiveResult]] = {}
    ended = threading.Semaphore(0)
    bus = LiveBus()
    bus.subscribe(lambda e: None)
    transcriber = LiveTranscriber(bus)

    def on_result(r: LiveResult) -> None:
        with lock:
            results.setdefault(r.stream, []).append(r)
        transcriber.on_result(r)

    streams = [str(uuid.uuid4()) for _ in range(n)]
    for k, stream in enumerate(streams):  # each stream is the customer's side of a call of its own
        cust, _ = tap_call(f"bench.{k}", f"1796000000.{2 * k}", f"1796000000.{2 * k + 1}",
                           new_uuid=lambda s=stream: uuid.UUID(s))  # type: ignore[misc]
        transcriber.register(cust, f"agent{1001 + k}")
    pool = RecognizerPool(engine, max_streams=n)
    if WARM:  # as a running live process has them: made ready at start, or used by earlier calls
        with ThreadPoolExecutor(WARMERS) as warmers:  # on every core (Vosk runs without the GIL)
            list(warmers.map(lambda k: pool.prewarm(8000, warm_up_pcm(8000), len(range(k, n, WARMERS))),
                             range(WARMERS)))
    server = AudioSocketServer(pool, on_result, on_stream_end=lambda s: ended.release(), chunk_ms=chunk_ms)
    server.start()
    cpu0 = time.process_time()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen([sys.executable, __file__, "--clients", str(server.port), *streams],
                             stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate()
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    clients_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    for _ in range(n):
        ended.acquire(timeout=300)
    cpu = time.process_time() - cpu0
    server.stop()
    sent: dict[str, list[float]] = json.loads(out)
    assert transcriber.unknown_results == 0 and transcriber.lines == sum(len(v) for v in results.values())
    speech = first_speech(frames)
    lags, first, every = [], [], []
    for stream, times in sent.items():
        got = results.get(stream, [])
        audio_end = times[0] + audio_s  # when the last frame's audio ended at the caller
        lags.append(max((r.monotonic for r in got), default=audio_end) - audio_end)
        partials = [r for r in got if not r.final]
        if partials:
            first.append(partials[0].monotonic - times[speech])
        for r in partials:
            frame = max(0, min(len(times) - 1, round(r.audio_s / FRAME_S) - 1))
            every.append(r.monotonic - times[frame])
    return {"cpu": cpu / (n * audio_s), "lag": max(lags), "first": pct(first, 0.5), "every50": pct(every, 0.5),
            "every95": pct(every, 0.95), "clients": clients_cpu / (n * audio_s)}


def bare_round(engine: VoskEngine, n: int) -> dict[str, float]:
    import vosk

    frames = capture_frames()
    audio_s = len(frames) * FRAME_S
    model = engine._model
    lags: list[float] = []
    lock = threading.Lock()

    warm_up = warm_up_pcm(8000)

    def recognizer(_: int) -> vosk.KaldiRecognizer:
        rec = vosk.KaldiRecognizer(model, 8000.0)
        rec.SetWords(True)
        if WARM:  # the same clip as ours, through Vosk's own API
            for i in range(0, len(warm_up), 1600):
                if rec.AcceptWaveform(warm_up[i : i + 1600]):
                    rec.Result()
            rec.FinalResult()
            rec.Reset()
        return rec

    with ThreadPoolExecutor(WARMERS) as warmers:
        recognizers = list(warmers.map(recognizer, range(n)))

    def stream(rec: vosk.KaldiRecognizer) -> None:
        t0 = time.monotonic()
        for i, frame in enumerate(frames):
            if rec.AcceptWaveform(frame):
                rec.Result()
            else:
                rec.PartialResult()
            delay = t0 + (i + 1) * FRAME_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        rec.FinalResult()
        with lock:
            lags.append(time.monotonic() - t0 - audio_s)

    cpu0 = time.process_time()
    threads = [threading.Thread(target=stream, args=(rec,)) for rec in recognizers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time() - cpu0
    return {"cpu": cpu / (n * audio_s), "lag": max(lags)}


def live_rounds(engine: VoskEngine, counts: list[int], chunks: list[int]) -> None:
    print(f"live: {len(capture_frames()) * FRAME_S:.1f} s capture per stream, paced at real time; recognisers "
          + ("warm (each decoded the 20 s warm-up clip, another call, first)" if WARM else "cold (new ones)") + "; "
          f"ours feeds Vosk {'/'.join(map(str, chunks))} ms pieces; model {engine.model_name} at "
          f"{engine.sample_rate} Hz, streams at 8000 Hz (Vosk resamples)")
    names = ["bare Vosk", *(f"ours {c} ms" for c in chunks)]
    kept = dict.fromkeys(names, 0)
    keeping = dict.fromkeys(names, True)
    cost: dict[str, list[float]] = {name: [] for name in names}
    for n in counts:
        if not any(keeping.values()):
            break
        bare = bare_round(engine, n)
        rounds = {"bare Vosk": bare} | {f"ours {c} ms": ours_round(engine, n, c) for c in chunks}
        for name, r in rounds.items():
            cost[name].append(r["cpu"] / bare["cpu"] if name != "bare Vosk" else r["cpu"])
            keeping[name] = keeping[name] and r["lag"] < KEPT_UP_S
            if keeping[name]:
                kept[name] = n
        print(f"streams={n:2d}  bare Vosk: CPU-s per audio-s {bare['cpu']:.3f}, last result {bare['lag']:+.2f} s "
              f"after audio end  |  {load()}", flush=True)
        for c in chunks:
            r = rounds[f"ours {c} ms"]
            print(f"           ours {c:3d} ms: CPU-s per audio-s {r['cpu']:.3f} "
                  f"(ratio to bare {r['cpu'] / bare['cpu']:.2f}),"
                  f" last result {r['lag']:+.2f} s after audio end, speech->first partial median {r['first']:.2f} s,"
                  f" frame->partial median {r['every50']:.2f} s p95 {r['every95']:.2f} s; the clients (Asterisk's "
                  f"part, another process) {r['clients']:.3f}  |  {load()}", flush=True)
    cores = os.cpu_count() or 1
    print(f"streams sustained at RTF<1 (every result within {KEPT_UP_S:g} s of the end of its audio): "
          + ", ".join(f"{name} {kept[name]}" for name in names) + f"  ({load()})")
    bare_cost = sorted(cost["bare Vosk"])[len(cost["bare Vosk"]) // 2]
    for c in chunks:
        ratio = sorted(cost[f"ours {c} ms"])[len(cost[f"ours {c} ms"]) // 2]
        print(f"ours {c} ms: median ratio to bare Vosk {ratio:.2f} (our overhead {100 * (ratio - 1):+.0f} %); "
              f"at bare Vosk's median {bare_cost:.3f} CPU-s per audio-s, all {cores} cores would carry "
              f"{cores / (bare_cost * ratio):.1f} streams (bare Vosk {cores / bare_cost:.1f})")


def delivery_round(engine: VoskEngine, n: int, workdir: Path) -> None:
    """n real-time streams through the whole live path; latency measured on the first one."""
    import uuid

    from agent_console.app import create_app, dispatcher
    from agent_console.config import ConsoleConfig
    from cases.db import Database
    from cases.demo_data import DEMO_PASSWORD
    from cases.demo_seed import seed_demo
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


def post_call(label: str, engine: VoskEngine) -> None:
    cpu0 = time.process_time()
    transcript = engine.transcribe_wav(RECORDING)
    cpu = time.process_time() - cpu0
    audio_h = 2 * transcript.duration_s / 3600  # two channels
    print(f"post-call ({label}): {audio_h * 3600:.1f} s of speaker audio in {cpu:.2f} CPU s = "
          f"{audio_h / (cpu / 3600):.1f} audio h per CPU h")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 6, 8, 10, 12, 14])
    ap.add_argument("--chunk-ms", type=int, nargs="+", default=[DEFAULT_CHUNK_MS],
                    help="audio per Vosk call in our pipeline; several: one round of ours for each")
    ap.add_argument("--no-post-call", action="store_true", help="skip the post-call throughput")
    ap.add_argument("--delivery", type=int, nargs="*", default=None,
                    help="only the whole-path delivery measurement, with these numbers of streams (e.g. 1 4 8)")
    ap.add_argument("--recognisers", choices=["warm", "cold"], default="warm",
                    help="warm: each stream's recogniser has decoded another call's audio first, as in a live "
                         "process that has run a while or made them ready at start (live_prewarm); cold: new ones, "
                         "whose first seconds cost several times more")
    ap.add_argument("--clients", nargs="+", metavar="PORT UUID", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global WARM
    WARM = args.recognisers == "warm"
    if args.clients:
        run_clients(int(args.clients[0]), args.clients[1:])
        return 0
    t = time.monotonic()
    engine = VoskEngine(default_model_dir())
    print(f"model load {time.monotonic() - t:.2f} s, process RSS {rss_mb():.0f} MB; {load()}")
    if args.delivery is None:
        fresh, warm = memory_per_stream(engine)
        print(f"memory per live stream: {fresh:.0f} MB (4 fresh recognisers, 3 s of speech each), {warm:.0f} MB "
              "once each has also decoded the warm-up clip and the capture")
    if args.delivery is not None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            for n in args.delivery or [1, 4, 8]:
                delivery_round(engine, n, Path(tmp))
        return 0
    if not args.no_post_call:
        post_call("new recognisers", engine)
        other = VoskEngine(default_model_dir())  # a worker after one job: its recognisers kept from another call
        other.transcribe_wav(CAPTURE.with_name(CAPTURE.name.replace(".from-asterisk.bin", ".audio.wav")))
        post_call("recognisers kept from another call", other)
        del other
    live_rounds(engine, args.streams, args.chunk_ms)
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
