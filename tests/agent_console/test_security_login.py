"""Issue #16, findings 3, 5 and 6 on the real console app (SQLite, demo users): login as a weapon (memory,
lockout of the real user, spraying, unbounded maps), the open redirect after login, and sessions that
outlived logout, a new password, a new role or a disabled account. docs/threat-model.md names these
tests; benchmarks/login_memory.py gives the memory figure."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from argon2 import PasswordHasher
from flask import request
from flask.testing import FlaskClient
from sqlalchemy import select
from waits import wait_until

from agent_console import data
from agent_console.context import console as console_of
from cases.accounts import set_active, set_password, set_role
from cases.demo_data import DEMO_PASSWORD
from cases.errors import InvalidUserInput
from cases.models.accounts import User
from cases.models.base import utcnow
from cases.passwords import ARGON2_MEMORY_KIB, password_needs_rehash
from hotline_cli.config import ConfigError, load_settings
from hotline_cli.main import main
from hotline_cli.site import console_config

if TYPE_CHECKING:
    from conftest import Console

WRONG = "wrong-password"


def _post_login(client: FlaskClient, username: str, password: str, **kwargs: Any) -> Any:
    return client.post("/login", data={"username": username, "password": password, **kwargs})


def _client_at(console: Console, address: str) -> FlaskClient:
    client = console.client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _counting_checks(monkeypatch: pytest.MonkeyPatch, delay_s: float = 0.0) -> dict[str, int]:
    """Replace the password check with one that counts calls and how many ran at once."""
    real = data.authenticate
    seen = {"calls": 0, "running": 0, "max": 0}
    lock = threading.Lock()

    def counting(*args: Any, **kwargs: Any) -> Any:
        with lock:
            seen["calls"] += 1
            seen["running"] += 1
            seen["max"] = max(seen["max"], seen["running"])
        try:
            time.sleep(delay_s)
            return real(*args, **kwargs)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(data, "authenticate", counting)
    return seen


def _frozen_clock(console: Console) -> list[float]:
    """The login limiter's clock stands still until the test moves `now[0]` (no sleeps, no timing luck)."""
    now = [1000.0]
    with console.app.app_context():
        console_of().limiter.clock = lambda: now[0]
    return now


def _at_once(n: int, attempt: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * n
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        results[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# --- finding 3: login as a weapon --------------------------------------------------------------------


def test_password_checks_at_once_are_bounded_by_the_cpu_count_by_default(console: Console,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every wrong login ran its own argon2 check at once (12 at once: +750 MiB)."""
    import os

    seen = _counting_checks(monkeypatch, delay_s=0.2)
    n = 3 * (os.cpu_count() or 1) + 2
    codes = _at_once(n, lambda i: _post_login(_client_at(console, f"10.7.0.{i + 1}"), f"user{i}", WRONG).status_code)
    assert seen["max"] <= (os.cpu_count() or 1), seen
    assert set(codes) <= {401, 503}, codes


def test_excess_logins_wait_briefly_then_get_503_with_retry_after(make_console: Callable[..., Console],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    console = make_console(login_concurrency=2, login_wait_s=0.05)
    seen = _counting_checks(monkeypatch, delay_s=0.5)
    responses = _at_once(8, lambda i: _post_login(_client_at(console, f"10.8.0.{i + 1}"), f"user{i}", WRONG))
    codes = sorted(r.status_code for r in responses)
    assert seen["max"] <= 2 and seen["calls"] == codes.count(401), (seen, codes)
    busy = [r for r in responses if r.status_code == 503]
    assert len(busy) >= 4, codes
    assert all(int(r.headers["Retry-After"]) >= 1 for r in busy)
    assert "同时登录的人太多" in busy[0].get_data(as_text=True)


def test_the_right_password_gets_in_after_a_short_delay_not_a_lockout(console: Console) -> None:
    """Before: 5 wrong passwords for a user from an address (behind nginx: from anywhere) locked the right one
    out for 5 minutes. Now a failure delays the next attempt (429 + Retry-After, 1 s after 4 failures)."""
    now = _frozen_clock(console)
    client = console.client()
    codes = [_post_login(client, "agent1002", WRONG).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429], codes  # the 5th came before the 1 s the 4th failure asked
    refused = _post_login(client, "agent1002", DEMO_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers.get("Retry-After", "0")) == 1  # before: no Retry-After, locked for 5 minutes
    assert "1 秒后再试" in refused.get_data(as_text=True)
    now[0] += 1.0
    assert _post_login(client, "agent1002", DEMO_PASSWORD).status_code == 302


def test_guessing_from_elsewhere_never_keeps_the_user_out_at_a_known_address(console: Console) -> None:
    """Many addresses guessing one account slow that account down everywhere except where its user
    logged in before (known good). A user at a new address waits out the account's delay."""
    _frozen_clock(console)
    home = _client_at(console, "10.0.0.5")
    assert _post_login(home, "agent1002", DEMO_PASSWORD).status_code == 302
    home.post("/logout")
    codes = []
    for n in range(20):  # 20 addresses x 3 guesses: each within its address's free failures
        guesser = _client_at(console, f"10.1.0.{n + 1}")
        codes += [_post_login(guesser, "agent1002", WRONG).status_code for _ in range(3)]
    assert codes[:11] == [401] * 11 and codes.count(429) == 49, codes  # the account's budget slows them all
    assert _post_login(_client_at(console, "10.0.0.5"), "agent1002", DEMO_PASSWORD).status_code == 302
    elsewhere = _post_login(_client_at(console, "10.0.0.77"), "agent1002", DEMO_PASSWORD)
    assert elsewhere.status_code == 429 and int(elsewhere.headers["Retry-After"]) >= 1


def test_spraying_many_usernames_from_one_address_is_limited(console: Console,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: 50 usernames x 1 password from one address were 50 password checks, never limited."""
    _frozen_clock(console)
    seen = _counting_checks(monkeypatch)
    client = _client_at(console, "10.9.9.9")
    codes = [_post_login(client, f"spray{i:03d}", "Password1").status_code for i in range(50)]
    assert seen["calls"] == 11 and codes == [401] * 11 + [429] * 39, (seen, codes)
    # another address is not affected
    assert _post_login(_client_at(console, "10.9.9.10"), "agent1001", DEMO_PASSWORD).status_code == 302


def test_limiter_maps_are_bounded_per_entry_without_forgetting_the_sprayer() -> None:
    """Before: every counter was cleared together once 100,000 were kept (a spray wiped the lockouts)."""
    from agent_console.login_limiter import LimiterSettings, LoginLimiter

    limiter = LoginLimiter(LimiterSettings(max_entries=100))
    for i in range(1000):
        limiter.failed(f"user{i}", f"10.3.{i // 250}.{i % 250}", now=float(i) / 1000)
    assert all(size <= 100 for size in limiter.sizes().values()), limiter.sizes()
    for i in range(1000):  # one address over 1000 usernames: the pair map churns, the address stays counted
        limiter.failed(f"other{i}", "10.4.0.1", now=2.0)
    assert limiter.sizes()["pair"] <= 100
    assert limiter.wait_s("anyone", "10.4.0.1", now=2.0) > 0
    # each entry expires on its own, an hour after its last failure
    assert limiter.wait_s("anyone", "10.4.0.1", now=2.0 + 3601) == 0


def test_limiter_delays_grow_exponentially_up_to_the_cap() -> None:
    from agent_console.login_limiter import Budget, LimiterSettings, LoginLimiter

    s = LimiterSettings(pair=Budget(free=2, max_delay_s=8.0), address=Budget(100, 900.0), account=Budget(100, 900.0))
    limiter = LoginLimiter(s)
    waits = [limiter.failed("a", "10.0.0.1", now=0.0) for _ in range(7)]
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert limiter.wait_s("A ", "10.0.0.1", now=7.5) == pytest.approx(0.5)
    limiter.succeeded("a", "10.0.0.1", now=8.0)
    assert limiter.wait_s("a", "10.0.0.1", now=8.0) == 0


def test_ipv6_addresses_count_per_64_network() -> None:
    from agent_console.login_limiter import address_key

    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1" and address_key("10.0.0.1") == "10.0.0.1"


def test_argon2_is_sized_and_older_hashes_verify_and_are_upgraded_at_login(console: Console) -> None:
    """Before: argon2-cffi's defaults, 64 MiB per check. Hashes made with them still log in, and are
    re-hashed with today's parameters (19 MiB) at that login."""
    old = PasswordHasher().hash(DEMO_PASSWORD)  # m=65536, t=3, p=4
    with console.db.session() as s:
        s.scalars(select(User).where(User.username == "agent1003")).one().password_hash = old
    assert password_needs_rehash(old)
    assert _post_login(console.client(), "agent1003", DEMO_PASSWORD).status_code == 302
    with console.db.session() as s:
        stored = s.scalars(select(User.password_hash).where(User.username == "agent1003")).one()
    assert stored.startswith(f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t=2,p=1$")
    assert ARGON2_MEMORY_KIB == 19456 and not password_needs_rehash(stored)


# --- trusted proxies ---------------------------------------------------------------------------------


def _address_route(console: Console) -> None:
    console.app.add_url_rule("/test-address", "test_address", lambda: request.remote_addr or "")


def test_without_trusted_proxies_x_forwarded_for_is_ignored(make_console: Callable[..., Console]) -> None:
    console = make_console()
    _frozen_clock(console)
    _address_route(console)
    client = console.client()
    assert client.get("/test-address").get_data(as_text=True) == "127.0.0.1"
    spoofed = client.get("/test-address", headers={"X-Forwarded-For": "203.0.113.7"})
    assert spoofed.get_data(as_text=True) == "127.0.0.1"
    # so a guesser cannot dodge the limits by making up addresses
    codes = []
    for i in range(14):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{i}"
        codes.append(_post_login(client, f"spray{i}", WRONG).status_code)
    assert codes == [401] * 11 + [429] * 3, codes


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(
        make_console: Callable[..., Console]) -> None:
    console = make_console(trusted_proxies=1)
    _address_route(console)
    client = console.client()
    assert client.get("/test-address").get_data(as_text=True) == "127.0.0.1"  # no header: the peer
    got = client.get("/test-address", headers={"X-Forwarded-For": "203.0.113.7"}).get_data(as_text=True)
    assert got == "203.0.113.7"
    # one hop trusted: the address nginx appended counts, not what the client wrote before it
    got = client.get("/test-address", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.8"}).get_data(as_text=True)
    assert got == "203.0.113.8"


def test_behind_a_trusted_proxy_one_clients_failures_do_not_delay_another(
        make_console: Callable[..., Console]) -> None:
    """Before: behind nginx every client was the proxy's address, so anyone's failures locked the user out."""
    console = make_console(trusted_proxies=1)
    _frozen_clock(console)
    attacker = console.client()
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.66"
    codes = [_post_login(attacker, "agent1002", WRONG).status_code for _ in range(6)]
    assert codes == [401, 401, 401, 401, 429, 429], codes
    user = console.client()
    user.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.5"
    assert _post_login(user, "agent1002", DEMO_PASSWORD).status_code == 302


# --- finding 5: where the login goes next ------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example/x", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example",
    "/\\evil.example", "\\\\evil.example", "http://evil.example/", "https:evil.example", "javascript:alert(1)",
    " /cases/1", "/cases/1\nSet-Cookie: x=1", "/\x00/evil.example", "/\u2028/evil.example", "/\u200b/evil.example",
    "/ /evil.example", "evil.example", "", "/" + "a" * 3000,
]
SAFE_NEXT = ["/cases/1", "/cases?status=open&q=%2F%2Fevil", "/search?q=投诉", "/%09/evil.example", "/"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_goes_home_never_elsewhere_and_never_500(console: Console, target: str) -> None:
    """Before: `/\\t/evil.example` redirected to //evil.example; a newline was a 500."""
    resp = _post_login(console.client(), "supervisor", DEMO_PASSWORD, next=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/supervisor"
    page = console.client().get("/login", query_string={"next": target})
    assert page.status_code == 200
    from agent_console.auth import safe_next

    assert safe_next(target) is None


@pytest.mark.parametrize("target", SAFE_NEXT)
def test_same_site_next_is_followed(console: Console, target: str) -> None:
    from agent_console.auth import safe_next

    assert safe_next(target) == target
    resp = _post_login(console.client(), "supervisor", DEMO_PASSWORD, next=target)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")


# --- finding 6: sessions ended on the server ---------------------------------------------------------


def _copy_cookie(console: Console, client: FlaskClient) -> FlaskClient:
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = console.client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_kept_after_logout_no_longer_works(console: Console) -> None:
    """Before: the cookie was the whole session; a copy kept after logout still logged in."""
    client = console.login("agent1001")
    kept = _copy_cookie(console, client)
    assert kept.get("/agent").status_code == 200
    assert client.post("/logout").status_code == 302
    assert kept.get("/agent").status_code == 302
    assert kept.post("/api/cases", json={"kind": "inquiry", "subject": "x"}).status_code == 401
    assert not console.socket(kept).is_connected()


def test_the_cookie_carries_a_token_not_the_user_or_role(console: Console) -> None:
    client = console.login("supervisor")
    cookie = client.get_cookie("session")
    assert cookie is not None
    content = console.app.session_interface.get_signing_serializer(console.app).loads(cookie.value)  # type: ignore[attr-defined]
    assert set(content) <= {"sid", "lang", "csrf"} and "supervisor" not in str(content)


def test_a_new_password_ends_the_users_sessions_at_once(console: Console) -> None:
    """Before: a new password left every open session working for up to 31 days."""
    client = console.login("agent1001")
    other = console.login("agent1002")
    with console.db.session() as s:
        set_password(s, "agent1001", "a-new-password")
    assert client.get("/agent").status_code == 302
    assert other.get("/agent").status_code == 200  # other users' sessions stay
    assert console.login("agent1001", "a-new-password").get("/agent").status_code == 200


def test_disabling_the_account_ends_its_sessions_at_once(console: Console) -> None:
    client = console.login("agent1001")
    with console.db.session() as s:
        set_active(s, "agent1001", False)
    assert client.get("/agent").status_code == 302
    with console.db.session() as s:  # enabled again: the old session stays ended, a new login works
        set_active(s, "agent1001", True)
    assert client.get("/agent").status_code == 302
    assert console.login("agent1001").get("/agent").status_code == 200


def test_a_role_change_ends_the_users_sessions_and_the_role_is_read_on_every_request(console: Console) -> None:
    """Before: the role lived in the cookie; a supervisor made an agent kept the wallboard."""
    sup = console.login("supervisor")
    assert sup.get("/supervisor").status_code == 200
    with console.db.session() as s:
        set_role(s, "supervisor", "agent")
    assert sup.get("/supervisor").status_code == 302  # session ended
    again = console.login("supervisor")
    assert again.get("/supervisor").status_code == 403 and again.get("/agent").status_code == 200
    # even a change written straight into the table (no service call) applies at the next request
    with console.db.session() as s:
        s.scalars(select(User).where(User.username == "supervisor")).one().role = "claims"
    assert again.get("/agent").status_code == 403


def test_set_role_refuses_bad_input_and_changes_nothing(console: Console) -> None:
    client = console.login("agent1001")
    for role, branch in (("boss", None), ("branch", "")):
        with pytest.raises(InvalidUserInput), console.db.session() as s:
            set_role(s, "agent1001", role, branch=branch)
    assert client.get("/agent").status_code == 200


def test_logout_closes_the_sessions_live_socket_at_once(console: Console) -> None:
    client = console.login("agent1001")
    other = console.login("agent1001")  # the same user on another machine
    sock, other_sock = console.socket(client), console.socket(other)
    assert sock.is_connected() and other_sock.is_connected()
    client.post("/logout")
    assert not sock.is_connected()
    assert other_sock.is_connected() and other.get("/agent").status_code == 200
    other_sock.disconnect()


def test_sessions_ended_elsewhere_close_their_sockets_within_the_sweep(make_console: Callable[..., Console]) -> None:
    console = make_console(session_sweep_s=0.1)
    client = console.login("agent1001")
    sock = console.socket(client)
    assert sock.is_connected()
    with console.db.session() as s:
        set_password(s, "agent1001", "a-new-password")
    wait_until(lambda: not sock.is_connected(), timeout=5, what="socket closed by the session sweep")


def test_sessions_idle_past_the_timeout_are_logged_out(make_console: Callable[..., Console]) -> None:
    from cases.models.accounts import ConsoleSession

    console = make_console(session_idle_s=600.0)
    client = console.login("agent1001")

    def age(minutes: float) -> None:
        with console.db.session() as s:
            for row in s.scalars(select(ConsoleSession)):
                row.last_seen_at = utcnow() - timedelta(minutes=minutes)

    age(2)  # used 2 minutes ago: fine, and the use is written down again
    assert client.get("/agent").status_code == 200
    with console.db.reading() as s:
        seen = s.scalars(select(ConsoleSession.last_seen_at)).one()
    assert utcnow() - seen < timedelta(seconds=30)
    age(11)  # idle past 10 minutes: logged out, the row is gone
    assert client.get("/agent").status_code == 302
    with console.db.reading() as s:
        assert s.scalars(select(ConsoleSession)).all() == []


def test_users_cli_passwd_role_and_disable_end_open_sessions(console: Console, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(f'database_url = "sqlite:///{tmp_path / "cases.db"}"\n', encoding="utf-8")

    def users(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["--config", str(cfg), "users", *argv])

    client = console.login("agent1001")
    assert users("passwd", "agent1001", "--password-stdin", stdin="cli-password-1\n") == 0
    assert client.get("/agent").status_code == 302
    client = console.login("agent1001", "cli-password-1")
    assert users("role", "agent1001", "--role", "claims") == 0
    assert "agent1001\tclaims\tactive" in capsys.readouterr().out
    assert client.get("/claims").status_code == 302  # logged out, not let in with the new role
    client = console.login("agent1001", "cli-password-1")
    assert client.get("/agent").status_code == 403 and client.get("/claims").status_code == 200
    assert users("role", "agent1001", "--role", "branch") == 2  # a branch user needs a branch
    assert "needs the branch" in capsys.readouterr().err
    assert client.get("/claims").status_code == 200  # refused: nothing changed, the session stays
    assert users("disable", "agent1001") == 0
    assert client.get("/claims").status_code == 302


# --- the Secure flag and the settings -----------------------------------------------------------------


def test_secure_cookie_is_a_setting_on_behind_https(make_console: Callable[..., Console], tmp_path: Path) -> None:
    plain = make_console()
    cookie = _post_login(plain.client(), "agent1001", DEMO_PASSWORD).headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    secure = make_console(session_cookie_secure=True)
    cookie = _post_login(secure.client(), "agent1001", DEMO_PASSWORD).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

    def config_of(text: str, env: dict[str, str] | None = None) -> Any:
        path = tmp_path / "s.toml"
        path.write_text('secret_key = "k"\n' + text, encoding="utf-8")
        return console_config(load_settings(path, environ=env or {}), demo=False)

    assert not config_of("").session_cookie_secure
    assert config_of("behind_https = true\n").session_cookie_secure
    assert not config_of("behind_https = true\nsession_cookie_secure = false\n").session_cookie_secure
    assert config_of("", {"HOTLINE_BEHIND_HTTPS": "1"}).session_cookie_secure
    made = config_of("session_idle_minutes = 30\ntrusted_proxies = 1\nlogin_concurrency = 3\n")
    assert (made.session_idle_s, made.trusted_proxies, made.login_concurrency) == (1800.0, 1, 3)
    env = {"HOTLINE_TRUSTED_PROXIES": "2", "HOTLINE_SESSION_IDLE_MINUTES": "60", "HOTLINE_LOGIN_CONCURRENCY": "4"}
    made = config_of("", env)
    assert (made.session_idle_s, made.trusted_proxies, made.login_concurrency) == (3600.0, 2, 4)


@pytest.mark.parametrize(("text", "message"), [
    ("trusted_proxies = -1\n", "setting trusted_proxies: -1 is not from 0 to 10"),
    ("trusted_proxies = 1.5\n", "setting trusted_proxies"),
    ("session_idle_minutes = 0\n", "setting session_idle_minutes: 0 is not from 1 to 10080"),
    ("login_concurrency = 65\n", "setting login_concurrency: 65 is not from 0 to 64"),
    ('behind_https = "maybe"\n', "setting behind_https: 'maybe' is not valid"),
    ('session_cookie_secure = "yes please"\n', "setting session_cookie_secure"),
])
def test_bad_security_settings_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(path, environ={})


def test_the_console_context_holds_the_configured_bounds(make_console: Callable[..., Console]) -> None:
    console = make_console(login_concurrency=3, login_wait_s=0.5)
    with console.app.app_context():
        ctx = console_of()
        assert (ctx.password_checks.concurrent, ctx.password_checks.wait_s) == (3, 0.5)
