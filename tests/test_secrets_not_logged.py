"""Secrets never reach the logs, at the most verbose level (-v): the AMI secret (a good login and a
refused one), the database password, the session key, users' passwords (right and wrong) and the
session cookie. Real processes: the PBX simulator, `hotline serve` on PostgreSQL, `hotline ami-check`.

The Redis and database passwords of processes by role (issue #16, finding 4): `hotline db`, the
listener's, web's and worker's start-up lines, and the warning a web process repeats every second
while its Redis is away, with a redis-server of the test's own that wants a password."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from loopback import free_port
from waits import start_redis, stop_processes, wait_until

from cases.accounts import create_user
from cases.db import Database
from cases.demo_seed import seed_demo
from telephony.connection import AmiConnection, AmiEndpoint

EXE = [sys.executable, "-m", "hotline_cli.main", "-v"]
AMI_SECRET = "Ami-Secret-7f3c91"
WRONG_AMI_SECRET = "Wrong-Ami-Secret-55d2"
DB_PASSWORD = "Db-Passw0rd-a81e"
SESSION_KEY = "Session-Key-0d9b4c7e6f"
USER_PASSWORD = "User-Passw0rd-c42a"
WRONG_PASSWORD = "Wrong-Passw0rd-9b17"
REDIS_PASSWORD = "Redis-Passw0rd-e6a0"
pytestmark = pytest.mark.slow


def test_no_secret_in_any_log(tmp_path: Path, pg_url: str) -> None:
    # trust authentication ignores the password, so the URL may carry one: it must not be logged
    url = pg_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    assert DB_PASSWORD in url
    db = Database(pg_url)
    db.migrate()
    with db.session() as s:
        seed_demo(s)
        create_user(s, "opsagent", USER_PASSWORD, "agent", "Ops Agent")
    db.dispose()
    ami_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATABASE_URL": url, "HOTLINE_AMI_PORT": str(ami_port), "HOTLINE_AMI_SECRET": AMI_SECRET,
            "HOTLINE_SECRET_KEY": SESSION_KEY, "HOTLINE_DATA_DIR": str(tmp_path / "var"),
            "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec")}
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("simulator", "serve")}
    procs = [subprocess.Popen([*EXE, "simulator", "--listen", f"127.0.0.1:{ami_port}", "--secret", AMI_SECRET,
                               "--interval", "0", "--speed", "5"], cwd=tmp_path, env=env, text=True,
                              stdout=logs["simulator"], stderr=subprocess.STDOUT)]
    cookie = ""
    try:
        time.sleep(1.0)
        procs.append(subprocess.Popen([*EXE, "serve", "--port", str(http_port)], cwd=tmp_path, env=env, text=True,
                                      stdout=logs["serve"], stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        http = requests.Session()
        for password, expected in ((WRONG_PASSWORD, 401), (USER_PASSWORD, 302)):
            page = http.get(f"{base}/login", timeout=10).text
            token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            r = http.post(f"{base}/login", data={"username": "opsagent", "password": password, "csrf_token": token},
                          allow_redirects=False, timeout=10)
            assert r.status_code == expected
        cookie = http.cookies.get("session") or ""
        assert cookie and http.get(f"{base}/agent", timeout=10).status_code == 200
        # some traffic through the AMI link, and an AMI login refused for a wrong secret
        conn = AmiConnection(AmiEndpoint("127.0.0.1", ami_port, "hotline", AMI_SECRET), lambda m: None)
        conn.connect_and_login()
        threading.Thread(target=lambda: [conn.read_once() for _ in range(20)], daemon=True).start()
        conn.send_action("SimulateCall", {"Scenario": "service_answered", "TalkSeconds": "2"}, timeout=10)
        conn.close()
        check = subprocess.run([*EXE, "ami-check", "--ami", f"127.0.0.1:{ami_port}"], cwd=tmp_path, text=True,
                               capture_output=True, timeout=60,
                               env=env | {"HOTLINE_AMI_SECRET": WRONG_AMI_SECRET})
        assert check.returncode == 2
        time.sleep(3)
        status = requests.get(f"{base}/status", timeout=10)
        assert status.status_code in (200, 503)
    finally:
        stop_processes(procs, timeout=20)
        for f in logs.values():
            f.close()
    texts = {name: (tmp_path / f"{name}.log").read_text() for name in logs}
    texts["ami-check"] = check.stdout + check.stderr
    texts["status"] = status.text
    assert "AMI pbx1 connected" in texts["serve"]  # verbose logs of a working process
    assert "opsagent" in texts["serve"]  # the logins were logged (without what was typed)
    for name, text in texts.items():
        for secret in (AMI_SECRET, WRONG_AMI_SECRET, DB_PASSWORD, SESSION_KEY, USER_PASSWORD, WRONG_PASSWORD,
                       cookie):
            assert secret not in text, f"{secret!r} in the {name} log"
    print(f"\nsecrets in logs: none in {sum(len(t) for t in texts.values())} characters of "
          f"{', '.join(texts)} (verbose)")


def test_no_redis_or_database_password_in_the_logs_of_processes_by_role(tmp_path: Path, pg_url: str) -> None:
    """`hotline db`, the listener, a web process and a worker with passwords in both URLs; then Redis
    goes away and the web process warns every second that it lost its subscriptions."""
    url = pg_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    assert DB_PASSWORD in url
    redis_port, ami_port, http_port = free_port(), free_port(), free_port()
    redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATABASE_URL": url, "HOTLINE_REDIS_URL": redis_url, "HOTLINE_AMI_PORT": str(ami_port),
            "HOTLINE_AMI_SECRET": AMI_SECRET, "HOTLINE_SECRET_KEY": SESSION_KEY,
            "HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"),
            "HOTLINE_JOB_QUEUE": f"secrets-{redis_port}", "HOTLINE_REPORT_QUEUE": f"secrets-{redis_port}-reports"}
    db = subprocess.run([*EXE, "db", "--seed-demo"], cwd=tmp_path, env=env, text=True, capture_output=True,
                        timeout=120)
    assert db.returncode == 0, db.stderr
    redis_server = start_redis(redis_port, tmp_path, password=REDIS_PASSWORD)
    names = ("simulator", "listener", "web", "worker")
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in names}
    args = {"simulator": ["simulator", "--listen", f"127.0.0.1:{ami_port}", "--secret", AMI_SECRET,
                          "--interval", "0"],
            "listener": ["serve", "--role", "listener"], "web": ["serve", "--role", "web", "--port", str(http_port)],
            "worker": ["serve", "--role", "worker"]}
    procs = [subprocess.Popen([*EXE, *args[name]], cwd=tmp_path, env=env, text=True, stdout=logs[name],
                              stderr=subprocess.STDOUT) for name in names]

    def log_of(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text()

    def shows(name: str, text: str) -> Callable[[], bool]:
        return lambda: text in log_of(name)

    def answers(page: str) -> Callable[[], bool]:
        def check() -> bool:
            try:
                return requests.get(page, timeout=2).status_code == 200
            except requests.RequestException:
                return False
        return check

    try:
        for name, banner in (("listener", "Hotline listener:"), ("web", "Hotline web:"), ("worker", "Hotline worker:")):
            wait_until(shows(name, banner), 90, f"the {name}'s start-up line")
        wait_until(answers(f"http://127.0.0.1:{http_port}/login"), 90, "the web process answering", every=0.3)
        redis_server.terminate()  # Redis goes away: the web process's subscribers retry every second
        redis_server.wait(timeout=20)
        wait_until(lambda: log_of("web").count("resubscribing") >= 6, 30, "repeated warnings of the web process")
    finally:
        stop_processes(procs, timeout=20)
        if redis_server.poll() is None:
            redis_server.kill()
        for f in logs.values():
            f.close()
    texts = {name: log_of(name) for name in names}
    texts["db"] = db.stdout + db.stderr
    # the URLs are shown, with the passwords masked
    assert f"redis://:***@127.0.0.1:{redis_port}/0" in texts["web"], texts["web"][-2000:]
    assert f"redis://:***@127.0.0.1:{redis_port}/0" in texts["listener"] and "redis://:***@" in texts["worker"]
    assert "postgres:***@127.0.0.1" in texts["db"] and "migrated" in texts["db"], texts["db"]
    assert "cannot reach Redis at redis://:***@" in texts["web"]
    for name, text in texts.items():
        for secret in (REDIS_PASSWORD, DB_PASSWORD, AMI_SECRET, SESSION_KEY):
            assert secret not in text, f"{secret!r} in the {name} log"
    print(f"\nRedis and database passwords in logs: none in {sum(len(t) for t in texts.values())} characters of "
          f"{', '.join(texts)} (verbose), {texts['web'].count('resubscribing')} warnings while Redis was away")
