"""The AMI connection under the failures a contact centre meets: a handler that raises, a PBX that
closes the link, a half-open link that stops answering pings, a wrong secret."""

from __future__ import annotations

import socket
import threading
import time

from telephony.connection import AmiClient, AmiConnection, AmiEndpoint, AmiUnreachable
from telephony.frames import FrameParser, Message
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


def wait_for(cond: object, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_raising_handler_does_not_stop_the_stream(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = sim
    seen: list[str] = []

    def handler(m: Message) -> None:
        seen.append(m.event or "")
        if m.event == "Newchannel":
            raise RuntimeError("a subscriber bug")

    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), handler)
    client.start()
    assert client.connected.wait(5)
    pbx.start_call("service_answered", talk_s=1)
    assert wait_for(lambda: seen.count("Hangup") == 2)
    assert seen.count("Newchannel") == 2 and client.stats.reconnects == 0
    client.stop()


def test_reconnects_after_the_pbx_closes_the_link(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = sim
    states: list[bool] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), lambda m: None,
                       on_state=lambda up, detail: states.append(up))
    client.start()
    assert client.connected.wait(5)
    for session in list(server.sessions):
        session.close()
    assert wait_for(lambda: client.stats.reconnects == 1 and client.connected.is_set())
    assert states[:3] == [True, False, True]
    client.stop()


def test_a_quiet_line_stays_up_on_answered_pings(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    """A PBX quiet for many ping intervals (the night): pings are answered, the link stays, and
    the next call's events arrive (asterisk-ami's reader dies here)."""
    pbx, server = sim
    seen: list[str] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"),
                       lambda m: seen.append(m.event or ""), ping_interval=0.3)
    client.start()
    try:
        assert client.connected.wait(5)
        time.sleep(3.0)  # ten ping intervals without an event
        assert server.actions["ping"] >= 3
        assert client.stats.connects == 1 and client.connected.is_set()
        pbx.start_call("service_answered", talk_s=1)
        assert wait_for(lambda: seen.count("Hangup") == 2)
    finally:
        client.stop()


class SilentPeer:
    """Speaks AMI up to the login, then answers nothing: a half-open link, or a wrong secret."""

    def __init__(self, accept_login: bool, login_delay: float = 0.0) -> None:
        self.accept_login = accept_login
        self.login_delay = login_delay
        self.before_login: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.conns.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        parser = FrameParser()
        while not self.stop.is_set():
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            for msg in parser.feed(data):
                if msg.get("Action") != "Login":
                    continue
                time.sleep(self.login_delay)
                try:
                    more = conn.recv(4096, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    more = b""
                self.before_login += [m.get("Action") for m in parser.feed(more)]
                if msg.get("Action") == "Login":
                    if self.accept_login:
                        conn.sendall(b"Response: Success\r\nActionID: " + msg.get("ActionID").encode()
                                     + b"\r\nMessage: Authentication accepted\r\n\r\n")
                    else:
                        conn.sendall(b"Response: Error\r\nActionID: login\r\nMessage: Authentication failed\r\n\r\n")
                        conn.close()
                        return
                # everything else (Ping) goes unanswered

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()


def test_half_open_link_is_detected_within_two_ping_intervals() -> None:
    peer = SilentPeer(accept_login=True)
    changes: list[tuple[bool, float, str]] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", peer.port, "hotline", "x"), lambda m: None, ping_interval=0.5,
                       on_state=lambda up, detail: changes.append((up, time.monotonic(), detail)))
    try:
        client.start()
        assert wait_for(lambda: len(changes) >= 2, timeout=5)
        (up, t_up, _), (down, t_down, why) = changes[:2]
        assert up and not down and "ping" in why
        # quiet for one interval, then the ping goes unanswered for one more (+ the 1 s read tick)
        assert t_down - t_up <= 2 * 0.5 + 1.1
        assert wait_for(lambda: peer.connections >= 2)
    finally:
        client.stop()
        peer.close()


def test_no_ping_before_the_login_is_answered() -> None:
    peer = SilentPeer(accept_login=True, login_delay=1.5)
    client = AmiClient(AmiEndpoint("127.0.0.1", peer.port, "hotline", "x"), lambda m: None, ping_interval=0.2)
    try:
        client.start()
        assert client.connected.wait(5)
        assert peer.before_login == []  # 7 ping intervals passed while the login was pending
    finally:
        client.stop()
        peer.close()


def test_wrong_secret_backs_off_without_a_retry_storm() -> None:
    peer = SilentPeer(accept_login=False)
    errors: list[str] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", peer.port, "hotline", "wrong"), lambda m: None,
                       on_state=lambda up, detail: errors.append(detail), auth_backoff=1.0)
    try:
        client.start()
        time.sleep(2.5)
        assert 2 <= peer.connections <= 3
        assert errors and "refused login" in errors[0]
        assert not client.connected.is_set()
    finally:
        client.stop()
        peer.close()


def test_an_action_answered_before_the_link_drops_keeps_its_answer() -> None:
    """The link drops between the answer's arrival and the asking thread's waking up (here: at once,
    from inside the send): the answer is still the action's, not an AmiUnreachable."""
    conn = AmiConnection(AmiEndpoint("127.0.0.1", 1, "hotline", "hotline"), lambda m: None)

    def answer_then_drop(text: str) -> None:
        aid = next(ln.split(": ", 1)[1] for ln in text.split("\r\n") if ln.startswith("ActionID: "))
        conn._dispatch(Message({"Response": "Success", "ActionID": aid, "Ping": "Pong"}))
        conn.fail_pending(AmiUnreachable("Asterisk closed the connection"))

    conn._send = answer_then_drop  # type: ignore[method-assign]
    assert conn.send_action("Ping", timeout=1).response.get("Ping") == "Pong"
