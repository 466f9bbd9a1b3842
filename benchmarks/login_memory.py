"""Login memory under 50 concurrent wrong logins (issue #16, finding 3).

    .venv/bin/python benchmarks/login_memory.py [--logins 50] [--code DIR]

A console web process (create_app on a seeded SQLite database, served by the threaded server
`hotline serve` uses) in a process of its own; 50 clients each take a login page, then all post a
wrong password at once, each for a username of its own and (behind `trusted_proxies = 1`) from an
address of its own, so the limiter stays out of the way and only the bound on concurrent password
checks holds memory down (a guesser with many addresses, the worst case). The server's RSS is
sampled every 5 ms; printed: RSS before, peak and after, and its own peak RSS (VmHWM). `--no-check`
sends the same requests with an empty password (refused before any password check): what 50
concurrent requests cost without argon2.

`--code DIR` runs the server from another checkout, e.g. the code before the fix:
`git archive 9059570 | tar -x -C /tmp/before` then `--code /tmp/before`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def serve(code: Path, db_url: str, port: int) -> None:
    """The console web process (run as a child: --serve)."""
    sys.path.insert(0, str(code))
    import dataclasses

    from agent_console.app import create_app
    from agent_console.config import ConsoleConfig
    from cases.db import Database
    from cases.demo_seed import seed_demo
    from telephony.events import EventBus

    class NoLive:
        def snapshot(self, now: float | None = None) -> Any:
            from telephony.live import LiveSnapshot

            return LiveSnapshot(at=0.0, queues=(), agents=(), live_calls=0)

    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        seed_demo(s)
    names = {f.name for f in dataclasses.fields(ConsoleConfig)}
    extra = {"trusted_proxies": 1} if "trusted_proxies" in names else {}
    config = ConsoleConfig(secret_key="bench", demo=False, **extra)
    app, socketio = create_app(config, db, EventBus(), NoLive())
    print("ready", flush=True)
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


def attack(base: str, logins: int, password: str) -> dict[str, int]:
    import requests

    sessions: list[tuple[requests.Session, str]] = []
    for _ in range(logins):
        http = requests.Session()
        page = http.get(f"{base}/login", timeout=30).text
        sessions.append((http, page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]))
    codes: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(logins)

    def one(i: int) -> None:
        http, token = sessions[i]
        start.wait()
        r = http.post(f"{base}/login", data={"username": f"bench{i:03d}", "password": password,
                                             "csrf_token": token},
                      headers={"X-Forwarded-For": f"198.51.{i // 250}.{i % 250 + 1}"}, allow_redirects=False,
                      timeout=120)
        with lock:
            codes[str(r.status_code)] = codes.get(str(r.status_code), 0) + 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(logins)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logins", type=int, default=50)
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose console is measured")
    ap.add_argument("--no-check", action="store_true",
                    help="reference: the same requests with an empty password (refused before any password check)")
    ap.add_argument("--serve", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.code.resolve(), args.serve[0], int(args.serve[1]))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from loopback import free_port

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        proc = subprocess.Popen([sys.executable, __file__, "--code", str(args.code.resolve()), "--serve",
                                 f"sqlite:///{tmp}/bench.db", str(port)], cwd=tmp, env=env, text=True,
                                stdout=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            base = f"http://127.0.0.1:{port}"
            import requests

            for _ in range(100):
                try:
                    requests.get(f"{base}/login", timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            time.sleep(0.5)
            before = _status_kib(proc.pid, "VmRSS")
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, _status_kib(proc.pid, "VmRSS"))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            codes = attack(base, args.logins, "" if args.no_check else "wrong-password")
            took = time.monotonic() - started
            done.set()
            sampler.join()
            after = _status_kib(proc.pid, "VmRSS")
            hwm = _status_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(10)
    mib = 1024
    print(f"code: {args.code.resolve()}")
    what = "logins without a password (reference)" if args.no_check else "wrong logins"
    print(f"{args.logins} concurrent {what} in {took:.1f} s, answers {dict(sorted(codes.items()))}")
    print(f"web process RSS: before {before / mib:.0f} MiB, peak {peak / mib:.0f} MiB (+{(peak - before) / mib:.0f}), "
          f"after {after / mib:.0f} MiB; its own peak RSS (VmHWM) {hwm / mib:.0f} MiB")


if __name__ == "__main__":
    main()
