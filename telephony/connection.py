"""An AMI connection to one Asterisk: login, events, actions by ActionID, ping, reconnect.

Threads, not asyncio (see docs/architecture.md). One reader thread owns the socket; every
message is handed to `on_message` on that thread, and a handler that raises is logged and the
stream goes on. The reader pings when the link is quiet and treats an unanswered ping as a dead
(half-open) link. A lost link is re-dialled with backoff; a refused login backs off longer and
never storms.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.frames import FrameParser, Message

log = logging.getLogger(__name__)


class AmiError(Exception):
    """Base of AMI failures."""


class AmiUnreachable(AmiError):
    """The TCP connection could not be made or was lost."""


class AmiAuthError(AmiError):
    """Asterisk refused the username/secret."""


class AmiProtocolError(AmiError):
    """The peer does not speak AMI."""


class AmiActionError(AmiError):
    """An action was answered with `Response: Error`."""


class AmiFieldRefused(AmiError):
    """An action whose name, field name or value holds a line break: written as is, it would end the action and
    start another (AMI action injection); refused before anything is sent."""


def encode_action(action: str, fields: dict[str, str]) -> str:
    """One action as AMI bytes (text): `Action:`, then each field, then the blank line. The one place actions
    are written; a CR or LF anywhere, or a field name that is empty or holds a colon, raises AmiFieldRefused."""
    lines = [f"Action: {action}"]
    for name, value in (("Action", action), *fields.items()):
        text = str(value)
        if "\r" in text or "\n" in text or "\r" in name or "\n" in name:
            raise AmiFieldRefused(f"{action!r}: field {name!r} holds a line break: refused (AMI action injection)")
        if not name or ":" in name or name != name.strip():
            raise AmiFieldRefused(f"{action!r}: {name!r} is no AMI field name")
        if name != "Action":
            lines.append(f"{name}: {text}")
    return "\r\n".join(lines) + "\r\n\r\n"


class AmiTimeout(AmiError):
    """No answer to an action in time."""


@dataclass(frozen=True, slots=True)
class AmiEndpoint:
    host: str
    port: int
    username: str
    secret: str
    name: str = "pbx1"


@dataclass(slots=True)
class ActionResult:
    response: Message
    events: list[Message] = field(default_factory=list)  # list actions: the items, then ...Complete


@dataclass(slots=True)
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    response: Message | None = None
    events: list[Message] = field(default_factory=list)
    is_list: bool = False
    error: AmiError | None = None
    on_response: Callable[[Message], None] | None = None


@dataclass(slots=True)
class ConnectionStats:
    connected_since: float | None = None
    last_event_at: float | None = None
    connects: int = 0
    reconnects: int = 0
    events: int = 0
    last_error: str = ""


class AmiConnection:
    """One socket session: connect, log in, read. `AmiClient` adds the reconnect loop."""

    def __init__(self, endpoint: AmiEndpoint, on_message: Callable[[Message], None],
                 connect_timeout: float = 5.0, action_timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.on_message = on_message
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._parser = FrameParser()
        self.banner = ""
        self.closed = False

    def connect_and_login(self) -> None:
        ep = self.endpoint
        try:
            sock = socket.create_connection((ep.host, ep.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise AmiUnreachable(f"cannot reach Asterisk AMI at {ep.host}:{ep.port}: "
                                 f"{exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        banner = b""
        deadline = time.monotonic() + self.connect_timeout
        try:
            while b"\n" not in banner:
                if time.monotonic() > deadline:
                    raise AmiProtocolError(f"{ep.host}:{ep.port} sent no AMI banner")
                chunk = sock.recv(4096)
                if not chunk:
                    raise AmiUnreachable(f"{ep.host}:{ep.port} closed the connection before the banner")
                banner += chunk
        except TimeoutError:
            self.close()
            raise AmiProtocolError(f"{ep.host}:{ep.port} sent no AMI banner") from None
        except OSError as exc:
            self.close()
            raise AmiUnreachable(f"lost {ep.host}:{ep.port} before the banner: {exc}") from None
        line, _, rest = banner.partition(b"\n")
        self.banner = line.decode("utf-8", "replace").strip()
        if not self.banner.startswith("Asterisk Call Manager/"):
            self.close()
            raise AmiProtocolError(f"{ep.host}:{ep.port} is not an Asterisk AMI port (it said {self.banner[:60]!r})")
        login_id = "login"
        try:
            login = encode_action("Login", {"ActionID": login_id, "Username": ep.username, "Secret": ep.secret,
                                            "Events": "on"})
        except AmiFieldRefused:
            self.close()
            raise AmiAuthError(f"the AMI user name or secret for {ep.host}:{ep.port} holds a line break") from None
        self._send(login)
        buffered = self._parser.feed(rest, time.time()) if rest else []
        sock.settimeout(self.connect_timeout + 2.0)
        while True:
            for msg in buffered:
                if msg.response is not None and msg.action_id == login_id:
                    if msg.response != "Success":
                        self.close()
                        raise AmiAuthError(f"Asterisk at {ep.host}:{ep.port} refused login for user "
                                           f"{ep.username!r}: {msg.get('Message', 'error')}")
                    sock.settimeout(1.0)
                    return
                self._dispatch(msg)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                self.close()
                raise AmiProtocolError(f"{ep.host}:{ep.port} did not answer the login") from None
            except OSError as exc:
                self.close()
                raise AmiUnreachable(f"lost {ep.host}:{ep.port} during login: {exc}") from None
            if not data:
                self.close()
                raise AmiAuthError(f"Asterisk at {ep.host}:{ep.port} closed the connection at login "
                                   f"(wrong secret for {ep.username!r}?)")
            buffered = self._parser.feed(data, time.time())

    def _send(self, text: str) -> None:
        sock = self._sock
        if sock is None:
            raise AmiUnreachable("not connected")
        with self._send_lock:
            try:
                sock.sendall(text.encode("utf-8"))
            except OSError as exc:
                raise AmiUnreachable(f"send failed: {exc}") from None

    def logoff(self) -> None:
        """Say goodbye (Logoff) without waiting for the answer; the caller closes the connection."""
        self._send("Action: Logoff\r\nActionID: logoff\r\n\r\n")

    def send_action(self, action: str, fields: dict[str, str] | None = None, *,
                    timeout: float | None = None, is_list: bool = False,
                    on_response: Callable[[Message], None] | None = None) -> ActionResult:
        """Send an action and wait for its response (and list items for list actions).

        `on_response` runs on the reader thread the moment the response arrives, i.e. at its exact
        position in the event stream (a resync snapshot starts there)."""
        aid = f"hl-{action.lower()}-{next(self._ids)}"
        given = {k: v for k, v in (fields or {}).items() if k.lower() != "actionid"}  # ours identifies the answer
        text = encode_action(action, {"ActionID": aid, **given})  # refused before it is pending
        pend = _Pending(is_list=is_list, on_response=on_response)
        self._pending[aid] = pend
        try:
            self._send(text)
            if not pend.done.wait(timeout if timeout is not None else self.action_timeout):
                raise AmiTimeout(f"no answer to {action} within {timeout or self.action_timeout:.0f} s")
        finally:
            self._pending.pop(aid, None)
        if pend.error is not None:
            raise pend.error
        assert pend.response is not None
        if pend.response.response == "Error":
            raise AmiActionError(f"{action}: {pend.response.get('Message', 'error')}")
        return ActionResult(pend.response, pend.events)

    def set_read_tick(self, seconds: float) -> None:
        """How long one read waits for data before the reader looks at its clock (pings)."""
        sock = self._sock
        if sock is not None:
            try:
                sock.settimeout(seconds)
            except OSError:
                pass  # closed meanwhile: the next read says so

    def read_once(self) -> bool:
        """Read what is there (up to 1 s). False when the peer closed."""
        sock = self._sock
        if sock is None:
            return False
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            return False
        if not data:
            return False
        for msg in self._parser.feed(data, time.time()):
            self._dispatch(msg)
        return True

    def _dispatch(self, msg: Message) -> None:
        aid = msg.fields.get("ActionID")
        pend_or_none = self._pending.get(aid) if aid is not None else None
        # an event carrying our ActionID belongs to the action only for list actions; an
        # OriginateResponse (async Originate) is an event like any other
        if pend_or_none is not None and (msg.event is None or pend_or_none.is_list):
            pend = pend_or_none
            if msg.event is None:
                pend.response = msg
                if pend.on_response is not None:
                    try:
                        pend.on_response(msg)
                    except Exception:
                        log.exception("response hook failed for %s", aid)
                if not pend.is_list or msg.get("EventList") != "start" or msg.response == "Error":
                    pend.done.set()
                return
            pend.events.append(msg)
            if msg.get("EventList") == "Complete":
                pend.done.set()
            return
        try:
            self.on_message(msg)
        except Exception:
            log.exception("AMI message handler failed on %r; the stream goes on", msg)

    def fail_pending(self, error: AmiError) -> None:
        """Fail the actions still waiting for their answer. One whose answer came in whole before the
        link went keeps it: its caller may not have woken up yet (a resync whose snapshot Asterisk
        answered just before closing the connection is a resync that succeeded)."""
        for pend in list(self._pending.values()):
            if pend.done.is_set():
                continue
            pend.error = error
            pend.done.set()

    def close(self) -> None:
        self.closed = True
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class AmiClient:
    """Keeps one AMI connection alive for as long as it runs."""

    def __init__(
        self,
        endpoint: AmiEndpoint,
        on_message: Callable[[Message], None],
        on_state: Callable[[bool, str], None] | None = None,
        on_connected: Callable[[AmiConnection], object] | None = None,
        ping_interval: float = 20.0,
        backoff_max: float = 30.0,
        auth_backoff: float = 30.0,
        backoff_initial: float = 0.5,
    ) -> None:
        self.endpoint = endpoint
        self.on_message = on_message
        self.on_state = on_state
        self.on_connected = on_connected
        self.ping_interval = ping_interval
        self.backoff_max = backoff_max
        self.auth_backoff = auth_backoff
        self.backoff_initial = backoff_initial
        self.stats = ConnectionStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.conn: AmiConnection | None = None
        self.connected = threading.Event()
        self._rate_second = 0
        self._rate_now = 0
        self._rate_prev = 0

    def _count(self, msg: Message) -> None:
        self.stats.events += 1
        self.stats.last_event_at = msg.received_at
        second = int(time.monotonic())
        if second != self._rate_second:
            self._rate_prev, self._rate_now, self._rate_second = self._rate_now, 0, second
        self._rate_now += 1
        self.on_message(msg)

    def event_rate(self, now: float | None = None) -> float:
        """Events per second over the last whole second."""
        return float(self._rate_prev if int(time.monotonic()) - self._rate_second <= 1 else 0)

    def _state(self, up: bool, detail: str) -> None:
        if self.on_state is not None:
            try:
                self.on_state(up, detail)
            except Exception:
                log.exception("AMI state handler failed")

    def run(self) -> None:
        backoff = self.backoff_initial
        while not self._stop.is_set():
            conn = AmiConnection(self.endpoint, self._count)
            try:
                conn.connect_and_login()
            except AmiAuthError as exc:
                self.stats.last_error = str(exc)
                log.error("%s; retrying in %.0f s", exc, self.auth_backoff)
                self._state(False, str(exc))
                self._stop.wait(self.auth_backoff)
                continue
            except AmiError as exc:
                self.stats.last_error = str(exc)
                log.warning("%s; retrying in %.1f s", exc, backoff)
                self._state(False, str(exc))
                self._stop.wait(backoff)
                backoff = min(self.backoff_max, backoff * 2)
                continue
            backoff = self.backoff_initial
            self.conn = conn
            self.stats.connects += 1
            if self.stats.connects > 1:
                self.stats.reconnects += 1
            self.stats.connected_since = time.time()
            log.info("AMI %s connected to %s:%s (%s)", self.endpoint.name, self.endpoint.host,
                     self.endpoint.port, conn.banner)
            self.connected.set()
            self._state(True, conn.banner)
            if self.on_connected is not None:
                threading.Thread(target=self._after_connect, args=(conn,), daemon=True).start()
            try:
                reason = self._read(conn)
            except OSError as exc:  # the socket went away under us (stop(), a reset)
                reason = f"connection lost: {exc}"
            self.connected.clear()
            conn.fail_pending(AmiUnreachable(reason))
            conn.close()
            self.stats.connected_since = None
            self.stats.last_error = reason
            if not self._stop.is_set():
                log.warning("AMI %s: %s; reconnecting", self.endpoint.name, reason)
                self._state(False, reason)

    def _after_connect(self, conn: AmiConnection) -> None:
        try:
            if self.on_connected is not None:
                self.on_connected(conn)
        except Exception:
            log.exception("AMI on_connected hook failed")

    def _read(self, conn: AmiConnection) -> str:
        conn.set_read_tick(min(1.0, self.ping_interval / 2))
        last_traffic = time.monotonic()
        ping_sent: float | None = None
        ping_result: list[BaseException | None] = []
        while not self._stop.is_set():
            before = conn._parser.stats.bytes_in
            if not conn.read_once():
                return "Asterisk closed the connection"
            now = time.monotonic()
            if conn._parser.stats.bytes_in != before:
                last_traffic = now
            if ping_sent is None and now - last_traffic >= self.ping_interval:
                ping_sent = now
                ping_result.clear()
                threading.Thread(target=self._ping, args=(conn, ping_result), daemon=True).start()
            if ping_sent is not None:
                if ping_result:
                    if ping_result[0] is not None:
                        return f"ping failed: {ping_result[0]}"
                    ping_sent = None
                    last_traffic = now
                elif now - ping_sent > self.ping_interval:
                    return "no answer to ping (half-open connection)"
        return "stopped"

    def _ping(self, conn: AmiConnection, result: list[BaseException | None]) -> None:
        try:
            conn.send_action("Ping", timeout=self.ping_interval * 2)
            result.append(None)
        except AmiError as exc:
            result.append(exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"ami-{self.endpoint.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        conn = self.conn
        if conn is not None:
            try:
                conn.logoff()
            except AmiError:
                pass
            conn.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def check_login(endpoint: AmiEndpoint) -> str:
    """Connect, log in and log off once; returns the banner. Raises a named AmiError."""
    conn = AmiConnection(endpoint, lambda m: None)
    conn.connect_and_login()
    try:
        conn.logoff()
    finally:
        conn.close()
    return conn.banner


def list_commands(endpoint: AmiEndpoint) -> tuple[str, list[str]]:
    """Log in, ask ListCommands and log off: the banner and the actions this user may send."""
    conn = AmiConnection(endpoint, lambda m: None)
    conn.connect_and_login()
    done = threading.Event()

    def read() -> None:
        while not done.is_set() and conn.read_once():
            pass

    reader = threading.Thread(target=read, name="ami-check-reader", daemon=True)
    reader.start()
    try:
        result = conn.send_action("ListCommands")
        conn.logoff()
    finally:
        done.set()
        conn.close()
        reader.join(5)
    skip = {"Response", "ActionID", "Message"}
    return conn.banner, [k for k in result.response.keys_in_order() if k not in skip]
