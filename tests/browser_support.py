"""What the real-Chromium tests share: the browser (Playwright on the Debian package's Chromium), a page
of one user (its own context: cookie jar, 1366×768, zh-CN), the console's login form, screenshots, and
a console app served over real HTTP on loopback.

The `chromium` fixture (tests/conftest.py) launches the browser for one test and closes it after."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server

from cases.demo_data import DEMO_PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
LOCALE = "zh-CN"
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup --test (Debian package chromium)")


@contextmanager
def launch() -> Iterator[Browser]:
    """Chromium, closed when the block ends (however it ends)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, errors: list[str] | None = None) -> Page:
    """A page in a context of its own (one user's cookies), 1366×768, zh-CN; uncaught script errors of
    the page and what its Content-Security-Policy blocked go to `errors` when given."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale=LOCALE).new_page()
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
        # what the console's Content-Security-Policy blocked (inline script, a style attribute ...):
        # the browser reports it on the console; a page that relies on it is broken
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return page


def login(page: Page, base_url: str, user: str, *, lang: str = "", connected: bool = True) -> Page:
    """Log `user` in (demo password) through the login form; then wait until the page's Socket.IO
    connection is up (`connected`), or only until the page after the login has loaded."""
    page.goto(f"{base_url}/login" + (f"?lang={lang}" if lang else ""))
    page.fill('[data-testid="login-username"]', user)
    page.fill('[data-testid="login-password"]', DEMO_PASSWORD)
    page.click('[data-testid="login-submit"]')
    if connected:
        page.wait_for_selector('[data-testid="conn-state"][data-state="connected"]')
    else:
        page.wait_for_load_state("load")
    return page


def shot(page: Page, tmp: Path, name: str) -> None:
    """A screenshot of the page's top: to docs/screenshots/ when HOTLINE_SCREENSHOTS=1, else into `tmp`."""
    target = SHOTS if os.environ.get("HOTLINE_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(target / f"{name}.png"))


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """The WSGI `app` on a free loopback port (threaded werkzeug): its base URL, while the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
