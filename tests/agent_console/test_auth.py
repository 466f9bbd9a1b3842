"""Login, logout, page protection by login and role, Socket.IO refused without a session."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Console


def test_login_with_right_password_goes_to_the_agent_page(console: Console) -> None:
    client = console.client()
    resp = client.post("/login", data={"username": "agent1001", "password": "hotline-demo"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/agent"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    page = client.get("/agent")
    assert page.status_code == 200
    assert 'data-testid="pop"' in page.get_data(as_text=True)


def test_supervisor_lands_on_the_supervisor_page(console: Console) -> None:
    resp = console.client().post("/login", data={"username": "supervisor", "password": "hotline-demo"})
    assert resp.headers["Location"] == "/supervisor"


def test_wrong_password_shows_the_login_page_again_with_401(console: Console) -> None:
    client = console.client()
    resp = client.post("/login", data={"username": "agent1001", "password": "wrong-password"})
    assert resp.status_code == 401
    body = resp.get_data(as_text=True)
    assert "用户名或密码错误" in body
    assert 'data-testid="login-form"' in body
    assert 'value="agent1001"' in body  # the username stays filled in
    assert client.get("/agent").status_code == 302  # still logged out


def test_unknown_user_and_empty_fields_are_refused(console: Console) -> None:
    client = console.client()
    assert client.post("/login", data={"username": "nobody", "password": "hotline-demo"}).status_code == 401
    resp = client.post("/login", data={"username": "", "password": ""})
    assert resp.status_code == 401
    assert "请输入用户名和密码" in resp.get_data(as_text=True)


def test_pages_need_login(console: Console) -> None:
    client = console.client()
    for path in ("/agent", "/supervisor", "/cases/1", "/recordings/123.4"):
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].startswith("/login?next="), path
    assert client.post("/api/cases", json={"kind": "inquiry", "subject": "x"}).status_code == 401


def test_supervisor_page_needs_the_supervisor_role(console: Console) -> None:
    agent = console.login("agent1001")
    resp = agent.get("/supervisor")
    assert resp.status_code == 403
    assert "您没有权限访问此页面" in resp.get_data(as_text=True)
    assert console.login("supervisor").get("/supervisor").status_code == 200


def test_login_follows_next_but_only_to_this_site(console: Console) -> None:
    client = console.client()
    resp = client.post("/login", data={"username": "supervisor", "password": "hotline-demo", "next": "/cases/1"})
    assert resp.headers["Location"] == "/cases/1"
    other = console.client()
    resp = other.post("/login", data={"username": "supervisor", "password": "hotline-demo", "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/supervisor"


def test_logout_ends_the_session(console: Console) -> None:
    client = console.login("agent1001")
    assert client.post("/logout").status_code == 302
    assert client.get("/agent").status_code == 302


def test_socket_connect_refused_when_logged_out(console: Console) -> None:
    sock = console.socket(console.client())
    assert not sock.is_connected()


def test_socket_connect_accepted_when_logged_in(console: Console) -> None:
    sock = console.socket(console.login("agent1001"))
    assert sock.is_connected()
    hello = console.wait_for(sock, "hello")
    assert hello == {"username": "agent1001", "role": "agent"}
    sock.disconnect()


def test_socket_refused_after_logout(console: Console) -> None:
    client = console.login("agent1001")
    client.post("/logout")
    assert not console.socket(client).is_connected()


def test_login_with_an_older_scrypt_hash_works_and_upgrades_it_to_argon2(console: Console) -> None:
    from sqlalchemy import select

    from cases.models.accounts import User
    from cases.passwords import scrypt_hash, verify_password

    with console.db.session() as s:
        user = s.scalars(select(User).where(User.username == "agent1002")).one()
        user.password_hash = scrypt_hash("hotline-demo")
    refused = console.client().post("/login", data={"username": "agent1002", "password": "wrong-password"})
    assert refused.status_code == 401
    with console.db.session() as s:
        assert s.scalars(select(User.password_hash).where(User.username == "agent1002")).one().startswith("scrypt$")
    resp = console.client().post("/login", data={"username": "agent1002", "password": "hotline-demo"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/agent"
    with console.db.session() as s:
        stored = s.scalars(select(User.password_hash).where(User.username == "agent1002")).one()
    assert stored.startswith("$argon2id$") and verify_password("hotline-demo", stored)
