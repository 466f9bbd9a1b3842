"""The FastAGI protocol, server side, as Asterisk 20 speaks it (see the captures in
`asterisk-traces/agi/README.md`).

Asterisk connects, sends the `agi_*` environment block (ended by an empty line), then waits for one
command per line and answers each with one reply line (`200 result=... (...) endpos=...`), or
`510`/`511`, or the three-line `520` usage text. LF only. An unsolicited `HANGUP` line tells that the
channel went away; it is not a reply, the reply still follows. The session ends with our half-close;
Asterisk then writes a last `HANGUP` and closes.

Errors are named: `AgiProtocolError` (garbage, oversized lines: the session is closed),
`AgiClosed` (Asterisk closed the socket), `AgiHangup` (the channel is gone: a 511 reply, or a
channel command that returned -1 after the caller hung up), `AgiInvalidCommand` (510),
`AgiUsageError` (520).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

MAX_LINE = 8192  # bytes; the longest real line (the 520 usage text) is ~400
MAX_ENV_LINES = 200
ENV_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 600.0  # RECORD FILE may legitimately take minutes
HANGUP_GRACE_S = 0.3  # Asterisk sends HANGUP ~40 ms after the -1 reply of a hung-up channel


class AgiError(Exception):
    """Base of the FastAGI errors."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not FastAGI (garbage, an oversized line, a bad reply)."""


class AgiClosed(AgiError):
    """The peer closed the connection (or it timed out) before the exchange was complete."""


class AgiHangup(AgiError):
    """The caller hung up: the channel is dead (511, or -1 from a channel command after HANGUP). `reply`:
    the command's own answer when it had one (RECORD FILE's `(hangup) endpos=N`: what was recorded)."""

    def __init__(self, message: str, reply: AgiReply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class AgiPromptMissing(AgiError):
    """GET DATA answered -1 on a channel that is still up: its prompt is not in Asterisk's sounds folder."""

    def __init__(self, prompt: str) -> None:
        super().__init__(f"prompt {prompt} could not be played (not in Asterisk's sounds folder?)")
        self.prompt = prompt


class AgiCommandError(AgiError):
    """Asterisk refused a command (5xx)."""

    def __init__(self, code: int, message: str, command: str) -> None:
        super().__init__(f"{code} {message} (command: {command})")
        self.code = code
        self.message = message
        self.command = command


class AgiInvalidCommand(AgiCommandError):
    """510: invalid or unknown command."""


class AgiUsageError(AgiCommandError):
    """520: wrong syntax; `message` holds the usage text."""


# ---------------------------------------------------------------------------- environment


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The `agi_*` block. `items` keeps every line in order (names without the `agi_` prefix)."""

    items: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.items if k == name), default)

    @property
    def request(self) -> str:
        return self.get("request")

    @property
    def network_script(self) -> str:
        return self.get("network_script")

    @property
    def script(self) -> str:
        """The script path without query string or slashes: `service?lang=zh` → `service`."""
        return urlsplit("/" + self.network_script).path.strip("/")

    @property
    def query(self) -> dict[str, str]:
        """The query string of the AGI URL (`?lang=zh` → {"lang": "zh"}); first value of each key."""
        q = urlsplit("/" + self.network_script).query
        return {k: v[0] for k, v in parse_qs(q, keep_blank_values=True).items()}

    @property
    def args(self) -> tuple[str, ...]:
        """`agi_arg_1`, `agi_arg_2`, ... in order."""
        found = [(int(k[4:]), v) for k, v in self.items if k.startswith("arg_") and k[4:].isdigit()]
        return tuple(v for _, v in sorted(found))

    @property
    def channel(self) -> str:
        return self.get("channel")

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")

    @property
    def callerid(self) -> str:
        return self.get("callerid")

    @property
    def calleridname(self) -> str:
        return self.get("calleridname")

    @property
    def dnid(self) -> str:
        return self.get("dnid")

    @property
    def language(self) -> str:
        return self.get("language")


_ENV_LINE = re.compile(r"agi_([a-z0-9_]+): ?(.*)")


def parse_environment(lines: Sequence[str]) -> AgiEnvironment:
    """Parse the environment lines (without the ending blank line)."""
    items: list[tuple[str, str]] = []
    for line in lines:
        m = _ENV_LINE.fullmatch(line)
        if m is None:
            raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
        items.append((m.group(1), m.group(2)))
    if not items:
        raise AgiProtocolError("empty AGI environment")
    return AgiEnvironment(tuple(items))


# ---------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class AgiReply:
    """A `200` reply: `result` as sent (may be empty: `200 result= (timeout)`), `data` the text in
    parentheses, `endpos` the sample offset STREAM FILE / RECORD FILE reached."""

    code: int
    result: str
    data: str | None
    endpos: int | None
    line: str

    @property
    def value(self) -> int | None:
        """`result` as an integer (None when empty)."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def digit(self) -> str | None:
        """The key the result stands for (ASCII code > 0), else None."""
        v = self.value
        return chr(v) if v is not None and 0 < v < 128 else None


_REPLY = re.compile(r"200 result=(-?[0-9]+|[0-9*#A-D]*)(?: \((.*)\))?(?: endpos=(-?[0-9]+))?")


def parse_reply(line: str) -> AgiReply:
    """Parse one `200 result=...` line; `AgiProtocolError` for anything else."""
    m = _REPLY.fullmatch(line)
    if m is None:
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
    endpos = int(m.group(3)) if m.group(3) is not None else None
    return AgiReply(200, m.group(1), m.group(2), endpos, line)


def quote(text: str) -> str:
    """An AGI argument in double quotes (backslash and quote escaped, line breaks removed)."""
    cleaned = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'"{cleaned}"'


def _word(text: str, what: str) -> str:
    """An unquoted command argument: no spaces, no line breaks."""
    if not text or any(c.isspace() for c in text) or '"' in text:
        raise ValueError(f"{what} {text!r} must be one word")
    return text


# ---------------------------------------------------------------------------- session


class AgiSession:
    """One FastAGI connection, from our side. Not thread-safe: one handler thread drives it."""

    def __init__(self, sock: socket.socket, *, reply_timeout: float = REPLY_TIMEOUT_S) -> None:
        self.sock = sock
        self.reply_timeout = reply_timeout
        self._buf = bytearray()
        self._eof = False
        self.env: AgiEnvironment | None = None
        self.hangup_seen = False  # an unsolicited HANGUP line arrived
        self.commands = 0
        self.closed = False

    # -------------------------------------------------------------- reading
    def _read_line(self, timeout: float) -> str:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                if len(raw) > MAX_LINE:
                    raise AgiProtocolError(f"line of {len(raw)} bytes")
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError:
                    return raw.decode("latin-1")
            if len(self._buf) > MAX_LINE:
                raise AgiProtocolError(f"no line end within {MAX_LINE} bytes")
            if self._eof:
                raise AgiClosed("connection closed by the peer")
            self.sock.settimeout(timeout)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise AgiClosed(f"nothing from the peer for {timeout:.0f} s") from None
            except OSError as exc:
                raise AgiClosed(f"connection error: {exc}") from None
            if not chunk:
                self._eof = True
            self._buf += chunk

    def read_environment(self, timeout: float = ENV_TIMEOUT_S) -> AgiEnvironment:
        lines: list[str] = []
        while True:
            line = self._read_line(timeout)
            if line == "":
                break
            if _ENV_LINE.fullmatch(line) is None:
                raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
            lines.append(line)
            if len(lines) > MAX_ENV_LINES:
                raise AgiProtocolError(f"environment longer than {MAX_ENV_LINES} lines")
        self.env = parse_environment(lines)
        return self.env

    def _read_reply(self, command: str) -> AgiReply:
        while True:
            line = self._read_line(self.reply_timeout)
            if line == "HANGUP":
                self.hangup_seen = True
                continue
            break
        if line.startswith("200 "):
            return parse_reply(line)
        if line.startswith("510 "):
            raise AgiInvalidCommand(510, line[4:], command)
        if line.startswith("511 "):
            self.hangup_seen = True
            raise AgiHangup(f"{line[4:]} (command: {command})")
        if line.startswith("520-"):
            usage = [line[4:]]
            while True:
                more = self._read_line(self.reply_timeout)
                if more.startswith("520 "):
                    break
                usage.append(more)
                if len(usage) > 50:
                    raise AgiProtocolError("520 usage text without an end")
            raise AgiUsageError(520, "\n".join(usage), command)
        if line.startswith("520 "):
            raise AgiUsageError(520, line[4:], command)
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")

    # -------------------------------------------------------------- commands
    def command(self, text: str) -> AgiReply:
        """Send one command line and return its `200` reply (5xx raise, see the module doc)."""
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        if self.closed:
            raise AgiClosed("session already ended")
        try:
            self.sock.sendall(text.encode("utf-8") + b"\n")
        except OSError as exc:
            raise AgiClosed(f"cannot send {text.split(' ', 1)[0]}: {exc}") from None
        self.commands += 1
        return self._read_reply(text)

    def _channel(self, text: str) -> AgiReply:
        """A command that needs a live channel: -1 after a HANGUP notification means it is gone."""
        reply = self.command(text)
        if reply.value == -1 and self._hangup_pending():
            raise AgiHangup(f"caller hung up (command: {text})", reply)
        return reply

    def _hangup_pending(self) -> bool:
        """After a -1, Asterisk sends `HANGUP` ~40 ms later if the channel hung up: wait for it briefly."""
        if self.hangup_seen:
            return True
        if b"HANGUP\n" in self._buf:
            self.hangup_seen = True
            return True
        if self._buf or self._eof:
            return False
        self.sock.settimeout(HANGUP_GRACE_S)
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, OSError):
            return False
        if not chunk:
            self._eof = True
            return True
        self._buf += chunk
        if self._buf.startswith(b"HANGUP\n"):
            del self._buf[:7]
            self.hangup_seen = True
            return True
        return False

    def answer(self) -> AgiReply:
        return self._channel("ANSWER")

    def verbose(self, message: str, level: int = 1) -> AgiReply:
        return self.command(f"VERBOSE {quote(message)} {level}")

    def set_variable(self, name: str, value: str) -> AgiReply:
        return self.command(f"SET VARIABLE {_word(name, 'variable name')} {quote(value)}")

    def get_variable(self, name: str) -> str | None:
        reply = self.command(f"GET VARIABLE {_word(name, 'variable name')}")
        return reply.data if reply.value == 1 else None

    def get_full_variable(self, expression: str) -> str | None:
        reply = self.command(f"GET FULL VARIABLE {quote(expression)}")
        return reply.data if reply.value == 1 else None

    def channel_status(self, channel: str | None = None) -> int:
        reply = self.command("CHANNEL STATUS" + (f" {_word(channel, 'channel')}" if channel else ""))
        return reply.value if reply.value is not None else -1

    def stream_file(self, prompt: str, escape_digits: str = "") -> AgiReply:
        """Play a prompt; `reply.digit` is the key that interrupted it. -1 with `endpos=0` is a
        missing file, -1 followed by HANGUP raises `AgiHangup`."""
        return self._channel(f"STREAM FILE {_word(prompt, 'prompt')} {quote(escape_digits)}")

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play a prompt and collect keys (`#` ends the input and is not returned).
        Returns (digits, timed_out); `AgiHangup` when the caller hung up, `AgiPromptMissing` when Asterisk
        could not play the prompt."""
        reply = self.command(f"GET DATA {_word(prompt, 'prompt')} {int(timeout_ms)} {int(max_digits)}")
        if reply.value == -1:
            # -1 is a hang-up, or a prompt Asterisk cannot find: HANGUP follows the first, and the channel
            # is still up after the second (CHANNEL STATUS; a dead channel answers 511: AgiHangup)
            if self._hangup_pending() or self.channel_status() < 0:
                raise AgiHangup(f"caller hung up in GET DATA {prompt}", reply)
            raise AgiPromptMissing(prompt)
        return reply.result, reply.data == "timeout"

    def wait_for_digit(self, timeout_ms: int) -> str | None:
        """One key, or None after the timeout; `AgiHangup` when the caller hung up."""
        reply = self.command(f"WAIT FOR DIGIT {int(timeout_ms)}")
        if reply.value == -1:
            raise AgiHangup("caller hung up in WAIT FOR DIGIT")
        return reply.digit

    def record_file(
        self,
        path: str,
        fmt: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = 60000,
        *,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> AgiReply:
        """Record the caller. `reply.data` is `dtmf` (ended by a key), `timeout` (time limit or
        silence), `hangup`, ...; `endpos` is the length in samples."""
        cmd = f"RECORD FILE {_word(path, 'path')} {_word(fmt, 'format')} {_word(escape_digits, 'escape digits')} "
        cmd += f"{int(timeout_ms)} 0"
        if beep:
            cmd += " BEEP"
        if silence_s is not None:
            cmd += f" s={int(silence_s)}"
        reply = self._channel(cmd)
        if reply.data == "hangup" or (reply.value == -1 and reply.data is None):
            raise AgiHangup("caller hung up while recording", reply)
        return reply

    def say_digits(self, digits: str, escape_digits: str = "") -> AgiReply:
        if not digits.isdigit():
            raise ValueError(f"SAY DIGITS needs digits, got {digits!r}")
        return self._channel(f"SAY DIGITS {digits} {quote(escape_digits)}")

    def exec(self, application: str, options: str = "") -> AgiReply:
        return self.command(f"EXEC {_word(application, 'application')}" + (f" {options}" if options else ""))

    def hangup(self) -> AgiReply:
        return self.command("HANGUP")

    # -------------------------------------------------------------- end
    def close(self, drain_timeout: float = 2.0) -> None:
        """End the session as Asterisk expects: half-close, read until Asterisk closes, close."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(drain_timeout)
            while not self._eof:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                if len(chunk) > MAX_LINE:
                    break
        except OSError:
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def abort(self) -> None:
        """Close at once (garbage from the peer)."""
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
