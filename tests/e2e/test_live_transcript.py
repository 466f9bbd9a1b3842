"""Live transcripts as a user meets them: `hotline demo` in its own process (live transcripts on:
the listener taps each answered call per speaker over AMI, the PBX simulator streams the voices
to the AudioSocket server like Asterisk, the real Vosk model transcribes), driven in real Chromium.

During a demo call agent1001's pane shows partial lines as they are heard, then final lines of
both speakers; the supervisor's live-call view shows the call; agent1002 sees nothing of it; at
hang-up the pane says the call ended. The Korean model hears espeak speech badly: the test checks
that lines arrive and are not empty, not which words they hold.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from browser_support import login, new_page
from test_demo import Demo, demo  # noqa: F401  (the demo fixture, one process)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _wait_live_ready(demo: Demo, timeout: float = 180.0) -> None:  # noqa: F811
    """The demo is up once its AMI link is; the speech model of its live taps loads in the background
    meanwhile (slowly on a loaded machine), and a call answered before it is ready is not tapped."""
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{demo.base_url}/status", timeout=10) as r:
            status = json.loads(r.read())
        live = status.get("live_transcripts")
        if isinstance(live, dict) and live.get("ready"):
            return
        assert not (isinstance(live, dict) and live.get("error")), live
        time.sleep(0.2)
    pytest.fail(f"live transcripts not ready within {timeout:.0f} s: {status.get('live_transcripts')}")


def test_live_partials_on_the_agents_pane_during_a_demo_call(demo: Demo, chromium: Any) -> None:  # noqa: F811
    errors: list[str] = []
    pages = {user: login(new_page(chromium, errors), demo.base_url, user)
             for user in ("agent1001", "agent1002", "supervisor")}
    agent, other, sup = pages["agent1001"], pages["agent1002"], pages["supervisor"]
    for page in pages.values():  # what each page's socket gets, for the failure message
        page.evaluate("window.__ev = []; window.hotlineSocket.onAny((n) => window.__ev.push(n));"
                      "window.hotlineSocket.on('disconnect', (r) => window.__ev.push('DISCONNECT ' + r))")
    assert agent.get_attribute('[data-testid="live-pane"]', "data-state") == "idle"
    _wait_live_ready(demo)

    res = demo.simulate(Scenario="service_answered", Agents="agent1001", CallerID="49305551001",
                        CallerName="张伟", TalkSeconds="16")
    assert res["Response"] == "Success", res
    linkedid = res["Linkedid"]
    started = time.monotonic()
    # a partial line appears while the speaker is still talking, with words in it
    partial = agent.wait_for_selector('[data-testid="live-partial"]', timeout=60000)
    assert partial is not None
    first_partial_s = time.monotonic() - started
    assert (partial.text_content() or "").strip()
    assert agent.text_content('[data-testid="live-linkedid"]') == linkedid
    # then final lines of both speakers (the agent answers first, then the customer speaks)
    # (generous timeouts: on a loaded machine recognition runs behind real time, the lines still come)
    agent.wait_for_selector('[data-testid="live-final"][data-speaker="agent"]', timeout=60000)
    agent.wait_for_selector('[data-testid="live-final"][data-speaker="customer"]', timeout=60000)
    finals = agent.query_selector_all('[data-testid="live-final"] [data-testid="live-text"]')
    assert finals and all((f.text_content() or "").strip() for f in finals)
    assert int(agent.get_attribute('[data-testid="live-lines"]', "data-partials") or 0) >= 1
    # the supervisor's live-call view shows the same call
    try:
        sup.wait_for_selector(f'[data-testid="lt-call-{linkedid}"] [data-testid="live-final"]', timeout=30000)
    except Exception:
        sup.screenshot(path=str(demo.workdir / "live-supervisor.png"), full_page=True)
        got = sup.evaluate("window.__ev.filter((n) => !n.startsWith('wallboard')).slice(-40)")
        log = (demo.workdir / "demo.log").read_text()[-3000:]
        pytest.fail(f"supervisor view: {sup.inner_html('#lt-calls')[:1500]!r}; supervisor socket got {got}; "
                    f"errors {errors}\n{log}")
    assert sup.text_content(f'[data-testid="lt-call-{linkedid}"] [data-testid="lt-call-agent"]') == "agent1001"
    # another agent never sees it
    assert other.query_selector('[data-testid="live-partial"], [data-testid="live-final"]') is None
    # at hang-up the pane says so, and so does the supervisor's view (which drops the call a minute later)
    agent.wait_for_selector('[data-testid="live-ended"]', timeout=40000)
    sup.wait_for_selector(f'[data-testid="lt-call-{linkedid}"][data-state="ended"]', timeout=10000)
    agent.screenshot(path=str(demo.workdir / "live-pane.png"), full_page=True)
    assert other.query_selector('[data-testid="live-partial"], [data-testid="live-final"]') is None
    assert not errors, errors
    print(f"first live partial on the agent's pane {first_partial_s:.1f} s after the call was placed")
