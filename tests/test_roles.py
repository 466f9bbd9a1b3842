"""Processes by role on loopback, with the real PostgreSQL and Redis: one listener (AMI to the PBX
simulator), two web processes, one worker. Agents logged in to different web processes each get
their own pops, and the listener stores every call once. The listener runs every agent's wrap-up,
console open or not: one wrap-up pause per call. Reports are rendered by the worker (RQ jobs): the
page shows the job's state, then the report; a failing export is retried and then shown failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import requests
import socketio
from loopback import free_port, redis_url
from waits import stop_processes

from cases.call_records import get_call
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from telephony.actions import Actions
from telephony.connection import AmiConnection, AmiEndpoint

REDIS = redis_url()
EXE = [sys.executable, "-m", "hotline_cli.main"]


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def login(base: str, user: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    r = http.post(f"{base}/login", data={"username": user, "password": DEMO_PASSWORD, "csrf_token": token},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302, (user, r.status_code)
    page = http.get(f"{base}/", timeout=10).text  # the session's token after login
    http.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    return http


def agent_client(base: str, user: str, pops: list[dict[str, object]], http: requests.Session) -> socketio.Client:
    sio = socketio.Client(http_session=http)
    sio.on("screen_pop", lambda data: pops.append(data))
    sio.connect(base, transports=["websocket"])
    return sio


def simulate(port: int, **fields: str) -> str:
    import threading

    conn = AmiConnection(AmiEndpoint("127.0.0.1", port, "hotline", "hotline"), lambda m: None)
    conn.connect_and_login()
    t = threading.Thread(target=lambda: [conn.read_once() for _ in range(20)], daemon=True)
    t.start()
    try:
        return conn.send_action("SimulateCall", fields, timeout=10).response["Linkedid"]
    finally:
        conn.close()


def pause_reasons(port: int, interface: str) -> set[str]:
    """The reasons the simulator reports `interface` paused with, in any queue (QueueStatus over AMI)."""
    import threading

    conn = AmiConnection(AmiEndpoint("127.0.0.1", port, "hotline", "hotline"), lambda m: None)
    conn.connect_and_login()
    stop = threading.Event()
    t = threading.Thread(target=lambda: [conn.read_once() for _ in iter(stop.is_set, True)], daemon=True)
    t.start()
    try:
        status = Actions(conn, timeout=10).queue_status()
        return {m.paused_reason for m in status.members if m.interface == interface and m.paused}
    finally:
        stop.set()
        conn.close()


def poll_job(http: requests.Session, base: str, job_id: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.time() + timeout
    while True:
        job: dict[str, object] = http.get(f"{base}/api/report-jobs/{job_id}", timeout=10).json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.time() < deadline, job
        time.sleep(0.2)


def check_report_jobs(base: str) -> None:
    """The report page and its exports on a web process, rendered by the worker."""
    http = login(base, "supervisor")
    period = {"name": "calls", "from": "2026-11-01", "until": "2026-12-01"}
    first = http.get(f"{base}/reports", params=period, timeout=30)
    assert first.status_code == 202 and 'data-testid="report-job"' in first.text, first.text[-2000:]
    job_id = first.text.split('data-job="', 1)[1].split('"', 1)[0]
    job = poll_job(http, base, job_id)
    assert job["state"] == "done" and job["progress"] == 100 and job["attempts"] == 1, job
    shown = http.get(f"{base}/reports", params=period, timeout=30)
    assert shown.status_code == 200 and "呼叫中心话务统计" in shown.text
    assert 'data-testid="report-job"' not in shown.text
    # the worker has no CJK font: the PDF job is retried (1 s, 1 s), then shown failed with the reason
    pdf = http.get(f"{base}/reports/calls/pdf", params=period, timeout=30)
    assert pdf.status_code == 202, pdf.status_code
    job = poll_job(http, base, pdf.headers["X-Report-Job"])
    assert job["state"] == "failed" and job["attempts"] == 3 and "is not a font file" in str(job["error"]), job
    failed = http.get(f"{base}/reports/calls/pdf", params=period, timeout=30)
    assert failed.status_code == 502 and "is not a font file" in failed.text and "again=1" in failed.text
    xlsx = http.get(f"{base}/reports/calls/xlsx", params=period, timeout=30)
    assert xlsx.status_code == 202
    assert poll_job(http, base, xlsx.headers["X-Report-Job"])["state"] == "done"
    xlsx = http.get(f"{base}/reports/calls/xlsx", params=period, timeout=30)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    counts = requests.get(f"{base}/status", timeout=10).json()["report_jobs"]
    assert counts["workers"] == 1 and counts["failed"] == 1, counts


def test_listener_two_web_processes_and_a_worker(tmp_path: Path, pg_url: str) -> None:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    ami_port = free_port()
    listener_port = free_port()
    wrap_up_s = 6.0
    job_queue = f"test-roles-{os.getpid()}-{ami_port}"  # a queue of the test's own on the shared Redis
    procs: list[subprocess.Popen[str]] = []

    def start(name: str, *args: str, **env: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"{name}.log").open("w")
        p = subprocess.Popen([*EXE, *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
                             env={**base_env, "HOTLINE_DATABASE_URL": pg_url, "HOTLINE_REDIS_URL": REDIS,
                                  "HOTLINE_DATA_DIR": str(tmp_path / name), "HOTLINE_AMI_PORT": str(ami_port),
                                  "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"), "HOTLINE_JOB_QUEUE": job_queue,
                                  "HOTLINE_PBX_CONTROL_KEY": f"{job_queue}:pbx-control",
                                  "HOTLINE_WRAP_UP_S": str(wrap_up_s), "HOTLINE_REPORT_QUEUE": f"{job_queue}-reports",
                                  "HOTLINE_REPORT_WAIT_S": "0", "HOTLINE_JOB_RETRY_S": "1,1",
                                  # the simulator writes no recordings: their jobs fail fast, not after 20 s
                                  "HOTLINE_RECORDING_WAIT_S": "1", **env})
        procs.append(p)
        return p

    try:
        seed = subprocess.run([*EXE, "db", "--seed-demo"], cwd=tmp_path, capture_output=True, text=True,
                              env={**base_env, "HOTLINE_DATABASE_URL": pg_url}, timeout=120)
        assert seed.returncode == 0, seed.stderr
        start("simulator", "simulator", "--listen", f"127.0.0.1:{ami_port}", "--interval", "0", "--speed", "5")
        listener = start("listener", "serve", "--role", "listener", "--metrics-port", str(listener_port))
        webs = []
        for name in ("web1", "web2"):
            port = free_port()
            p = start(name, "serve", "--role", "web", "--port", str(port))
            webs.append((f"http://127.0.0.1:{port}", p))
        # the worker has no CJK font: its PDFs fail (retried, then shown failed); other reports work
        start("worker", "serve", "--role", "worker", HOTLINE_CJK_FONT=str(tmp_path / "no-such-font.ttc"))
        for base, p in webs:
            wait_http(f"{base}/login", p)
        pops1: list[dict[str, object]] = []
        pops2: list[dict[str, object]] = []
        http1 = login(webs[0][0], "agent1001")
        c1 = agent_client(webs[0][0], "agent1001", pops1, http1)
        c2 = agent_client(webs[1][0], "agent1002", pops2, login(webs[1][0], "agent1002"))
        # the listener has logged in to the simulator and resynced (a condition, not a fixed sleep)
        deadline = time.time() + 60
        while "resync: " not in (tmp_path / "listener.log").read_text():
            assert time.time() < deadline, (tmp_path / "listener.log").read_text()[-2000:]
            time.sleep(0.1)
        lid1 = simulate(ami_port, Scenario="service_answered", Agents="agent1001", CallerID="49305551001",
                        CallerName="张伟", TalkSeconds="4")
        lid2 = simulate(ami_port, Scenario="service_answered", Agents="agent1002", CallerID="49305551002",
                        CallerName="李娜", TalkSeconds="4")
        # agent1003 has no console open anywhere: the listener still runs its wrap-up
        simulate(ami_port, Scenario="service_answered", Agents="agent1003", CallerID="49305551003",
                 CallerName="王芳", TalkSeconds="2")
        deadline = time.time() + 60
        while "wrap-up" not in pause_reasons(ami_port, "SIP/agent1003"):
            assert time.time() < deadline, "agent1003 never paused for wrap-up"
            time.sleep(0.3)
        paused_at = time.time()
        while pause_reasons(ami_port, "SIP/agent1003"):
            assert time.time() < paused_at + wrap_up_s + 30, "agent1003 never unpaused after its wrap-up"
            time.sleep(0.3)
        assert time.time() - paused_at >= wrap_up_s - 1.5  # paused for the wrap-up time, not unpaused at once
        deadline = time.time() + 60
        while not (pops1 and pops2) and time.time() < deadline:
            time.sleep(0.1)
        assert [p["linkedid"] for p in pops1] == [lid1]  # each agent only its own pop, from its own process
        assert [p["linkedid"] for p in pops2] == [lid2]
        db = Database(pg_url)
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                with db.session() as s:
                    calls = [get_call(s, lid) for lid in (lid1, lid2)]
                if all(c is not None and c.outcome == "answered" for c in calls):
                    break
                time.sleep(0.3)
            assert all(c is not None and c.outcome == "answered" for c in calls)
        finally:
            db.dispose()
        # a pause asked for on a web process (no AMI link there) is carried out by the listener
        r = http1.post(f"{webs[0][0]}/api/agent/state", json={"state": "paused", "reason": "training"}, timeout=10)
        assert r.status_code == 202, (r.status_code, r.text)
        deadline = time.time() + 20
        while "training" not in pause_reasons(ami_port, "SIP/agent1001") and time.time() < deadline:
            time.sleep(0.3)
        assert "training" in pause_reasons(ami_port, "SIP/agent1001")
        c1.disconnect()
        c2.disconnect()
        check_report_jobs(webs[1][0])
        # the listener's /status: its PBX control server's counts and the wrap-ups it ran
        wait_http(f"http://127.0.0.1:{listener_port}/status", listener)
        with urllib.request.urlopen(f"http://127.0.0.1:{listener_port}/status", timeout=10) as resp:
            lstatus = json.loads(resp.read())
        assert lstatus["role"] == "listener" and lstatus["pbx_control"]["served"] >= 1, lstatus
        assert lstatus["pbx_control"]["last_latency_ms"] is not None, lstatus
        assert lstatus["wrap_up"]["started"] >= 3, lstatus
        with urllib.request.urlopen(f"http://127.0.0.1:{listener_port}/metrics", timeout=10) as resp:
            assert 'hotline_pbx_control_requests_total{action="QueuePause",outcome="ok"}' in resp.read().decode()
        # the transcription jobs (RQ) as the web process sees them: the worker took them
        status = requests.get(f"{webs[0][0]}/status", timeout=10).json()
        jobs = status["transcription_jobs"]
        assert jobs["queue"] == job_queue and jobs["workers"] == 1, jobs
        assert {"queued", "running", "retrying", "failed", "failed_jobs"} <= set(jobs)
    finally:
        stop_processes(procs)
    for name in ("listener", "web1", "web2", "worker"):
        out = (tmp_path / f"{name}.log").read_text()
        assert "Traceback" not in out, (name, out[-3000:])
        assert "no PBX control" not in out and "PBX control unavailable" not in out, (name, out[-3000:])
    # each agent's wrap-up pause is sent once per call, by the listener, whichever web process (if any)
    # the agent's console is on
    web1, web2, lis = ((tmp_path / f"{n}.log").read_text() for n in ("web1", "web2", "listener"))
    for agent in ("agent1001", "agent1002", "agent1003"):
        line = f"agent {agent} paused: wrap-up"
        assert lis.count(line) == 1 and line not in web1 and line not in web2, (agent, lis[-3000:])
    assert lis.count("agent agent1003 ready") == 1
