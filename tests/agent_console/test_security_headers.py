"""Security headers on every response (#16, finding 8): Content-Security-Policy without inline script,
X-Frame-Options, X-Content-Type-Options, Referrer-Policy — on pages, JSON, files, redirects and errors,
for every role and without login; the templates have no inline script, on* handler or style attribute
for the policy to block; and in real Chromium every page of the console runs under the policy with
nothing blocked (the stage filter that was an inline onchange still filters, the report's bars still
show their widths)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from browser_support import login, new_page

from agent_console.headers import SECURITY_HEADERS
from cases.demo_workflows import seed_month

if TYPE_CHECKING:
    from conftest import Console

TEMPLATES = Path(__file__).resolve().parents[2] / "agent_console" / "templates"
USERS = ("agent1001", "supervisor")
PAGES = ["/agent", "/supervisor", "/cases", "/cases/1", "/claims", "/complaints", "/inspections", "/search?q=快递",
         "/reports", "/login", "/status", "/api/wallboard", "/api/agent/state", "/api/callbacks", "/no/such/page",
         "/static/js/common.js", "/static/css/console.css", "/cases/99999", "/"]


def _assert_headers(resp: Any, what: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, (what, resp.status_code, name, resp.headers.get(name))
    csp = resp.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "frame-ancestors 'none'" in csp


def test_every_response_carries_the_security_headers(console: Console) -> None:
    anon = console.client()
    for url in PAGES:
        _assert_headers(anon.get(url), f"GET {url} without login")
    for user in USERS:
        client = console.login(user)
        for url in PAGES:
            _assert_headers(client.get(url), f"GET {url} as {user}")
        _assert_headers(client.post("/api/cases", json={"kind": "nope"}), "400 JSON")
        _assert_headers(client.post("/api/cases", data=b"x" * (2 * 1024 * 1024), content_type="text/plain"), "413")
    _assert_headers(console.raw_client().post("/api/cases", json={}), "400 CSRF")
    every_get = sorted({r.rule for r in console.app.url_map.iter_rules() if "GET" in (r.methods or ())
                        and "<" not in r.rule})
    admin = console.login("supervisor")
    for url in every_get:
        _assert_headers(admin.get(url), f"GET {url}")


def test_the_templates_have_no_inline_script_handlers_or_style_attributes() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                found.append(f"{path.name}: inline {tag}")
        found += [f"{path.name}: {m}" for m in re.findall(r"\son[a-z]+\s*=", text)]
        found += [f"{path.name}: style attribute" for _ in re.findall(r"\sstyle\s*=", text)]
        found += [f"{path.name}: <style>" for _ in re.findall(r"<style\b", text)]
        found += [f"{path.name}: javascript: URL" for _ in re.findall(r"javascript:", text)]
    assert found == []


def test_every_page_runs_under_the_policy_in_chromium(console: Console, base_url: str, chromium: Any) -> None:
    errors: list[str] = []
    sup = login(new_page(chromium, errors), base_url, "supervisor")
    sup.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                        "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
    with console.db.session() as s:  # a month of claims, so the claims report has charts with bars
        seed_month(s, date(2026, 11, 1), evidence_root=console.config.evidence_dir or Path("ev"))
    visited = []
    for url in ("/supervisor", "/agent", "/cases", "/cases/1", "/claims", "/complaints", "/inspections",
                "/search?q=快递", "/reports?name=claims-monthly&from=2026-11-01&until=2026-12-01"):
        sup.goto(f"{base_url}{url}")
        sup.wait_for_load_state("load")
        visited.append((url, sup.evaluate("window.__csp")))
    assert [v for v in visited if v[1]] == [], visited
    # the bars: an SVG rect as wide as its value's share of the largest, no style attribute
    charts = sup.eval_on_selector_all("ul.bars", """uls => uls.map(ul => [...ul.querySelectorAll('li')].map(li =>
        [parseFloat(li.querySelector('.bar-value').textContent),
         parseFloat(li.querySelector('rect').getAttribute('width'))]))""")
    assert any(charts)
    for bars in filter(None, charts):
        top = max(v for v, _ in bars)
        assert top > 0
        assert all(abs(w - round(100 * v / top, 1)) < 0.11 for v, w in bars), bars
    # the stage filter (was an inline onchange): choosing a stage reloads the list with it
    sup.goto(f"{base_url}/claims")
    sup.select_option('[data-testid="claims-stage-filter"]', "reported")
    sup.wait_for_url(re.compile(r"stage=reported"))
    # an inline script, were one injected, would not run: the policy is in force
    sup.goto(f"{base_url}/cases")
    ran = sup.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__inl = 1';
                          document.body.appendChild(s); return window.__inl === 1; }""")
    assert ran is False
    assert [e for e in errors if "Content Security Policy" not in e] == []
    assert len([e for e in errors if "Content Security Policy" in e]) == 1  # the one injected above
