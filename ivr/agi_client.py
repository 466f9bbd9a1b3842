"""Asterisk's side of a FastAGI session, to drive our IVR server without Asterisk: the PBX
simulator's callers and the conversation tests use it.

    result = AgiCaller("127.0.0.1", 4573, "service", inputs=["1", "800012345678#", "0"]).run()
    result.variables["WAYBILL"], result.variables["IVR_NEXT"], result.commands

Each item of `inputs` is what the caller does at the next input command (GET DATA, WAIT FOR DIGIT,
RECORD FILE), answered with the reply forms captured from Asterisk 20.20.1:

- keys: `"123#"` (`#` ends GET DATA → `200 result=123`), `"45"` (max digits reached →
  `200 result=45`, fewer → `200 result=45 (timeout)`); keys beyond the max digits (a `#` after a full-length
  number) stay in Asterisk's buffer: they stop the next prompt that takes keys, are dropped by one that takes
  none, and start the next GET DATA or WAIT FOR DIGIT; WAIT FOR DIGIT takes the first key and leaves the
  rest of the item to the next input command (keys are one stream);
- `""` (or inputs exhausted): nothing pressed → `200 result= (timeout)` / `200 result=0`;
- `"!"`: the caller hangs up → `200 result=-1`, then the `HANGUP` line, then `511` to channel
  commands while GET VARIABLE / VERBOSE / SET VARIABLE still work;
- RECORD FILE: an item containing `#` → the caller talks, then presses `#`
  (`200 result=35 (dtmf) endpos=...`); an item ending in `!` (not `!` alone) → the caller talks, then
  hangs up (`200 result=-1 (hangup) endpos=...`, as res_agi.c answers); anything else → ended by silence
  (`200 result=<ms left> (timeout) endpos=...`). With `sample_wav`, the recording file is written
  (a copy of that WAV) where the command asked, as Asterisk would.

STREAM FILE always plays to the end (`200 result=0 endpos=N`), `-1 endpos=0` for names in
`missing_prompts` (GET DATA of such a name: `200 result=-1` with the channel still up). When our
server half-closes, the client writes Asterisk's last `HANGUP` and closes.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEAD_OK = ("GET VARIABLE", "GET FULL VARIABLE", "VERBOSE", "SET VARIABLE", "HANGUP")
R511 = "511 Command Not Permitted on a dead channel or intercept routine"
USAGE_WAIT_FOR_DIGIT = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit.\n"
    "520 End of proper usage."
)


class AgiClientError(Exception):
    """The server broke the protocol as seen from Asterisk (no line end, closed mid-command)."""


@dataclass(frozen=True, slots=True)
class AgiCallResult:
    commands: tuple[str, ...]  # every command line our server sent, in order
    variables: dict[str, str]  # SET VARIABLE, last value wins
    prompts: tuple[str, ...]  # STREAM FILE / GET DATA prompt names, in order
    recordings: tuple[str, ...]  # RECORD FILE paths (with the format extension)
    hung_up: bool  # the caller hung up (an "!" input)
    server_closed: bool  # the server ended the session with a half-close
    gaps: tuple[float, ...] = ()  # seconds from each of our replies to the server's next command


@dataclass
class AgiCaller:
    host: str
    port: int
    script: str  # "service", "claims", "service?lang=en"
    inputs: Sequence[str] = ()
    callerid: str = "49305558101"
    calleridname: str = "Customer 1"
    dnid: str = "4008001"
    uniqueid: str = "1796029115.0"
    channel: str = "SIP/carrier-00000000"
    args: Sequence[str] = ()
    variables: dict[str, str] = field(default_factory=dict)  # what GET VARIABLE finds
    missing_prompts: Iterable[str] = ()
    # keys the caller presses while something plays: prompt name (or "SAY DATE", "SAY DIGITS") -> key; a
    # key among the command's escape digits stops it (`200 result=<ASCII> endpos=N`), else it is lost
    keys_during: Mapping[str, str] = field(default_factory=dict)
    sample_wav: Path | None = None
    timeout: float = 30.0
    max_commands: int = 500
    think_s: float = 0.0  # the caller's delay before answering each input command (keys take time)

    def environment(self) -> bytes:
        request = f"agi://{self.host}:{self.port}/{self.script}"
        lines = [
            ("network", "yes"), ("network_script", self.script), ("request", request),
            ("channel", self.channel), ("language", "en"), ("type", self.channel.split("/", 1)[0]),
            ("uniqueid", self.uniqueid), ("version", "20.20.1"), ("callerid", self.callerid),
            ("calleridname", self.calleridname), ("callingpres", "0"), ("callingani2", "0"),
            ("callington", "0"), ("callingtns", "0"), ("dnid", self.dnid), ("rdnis", "unknown"),
            ("context", "hotline-ivr"), ("extension", self.script.split("?", 1)[0]), ("priority", "4"),
            ("enhanced", "0.0"), ("accountcode", ""), ("threadid", "139623325595328"),
        ]
        lines += [(f"arg_{i}", a) for i, a in enumerate(self.args, 1)]
        return "".join(f"agi_{k}: {v}\n" for k, v in lines).encode() + b"\n"

    # ------------------------------------------------------------------ the conversation
    def run(self) -> AgiCallResult:
        inputs = list(self.inputs)
        commands: list[str] = []
        prompts: list[str] = []
        recordings: list[str] = []
        variables: dict[str, str] = {}
        known = dict(self.variables)
        missing = set(self.missing_prompts)
        pressing = dict(self.keys_during)
        ahead: list[str] = []  # keys pressed that no command has taken yet (Asterisk's DTMF buffer)
        dead = False
        server_closed = False
        buf = bytearray()
        gaps: list[float] = []
        sent_at: float | None = None
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
            sock.sendall(self.environment())
            while len(commands) < self.max_commands:
                line = self._read_line(sock, buf)
                if sent_at is not None and line is not None:
                    gaps.append(time.perf_counter() - sent_at)
                if line is None:
                    server_closed = True
                    try:
                        sock.sendall(b"HANGUP\n")
                    except OSError:
                        pass
                    break
                commands.append(line)
                words = shlex.split(line) if line.count('"') % 2 == 0 else line.split()
                name = " ".join(words[:3]).upper()
                reply, hang = self._reply(line, words, name, dead, inputs, known, variables, prompts, recordings,
                                          missing, pressing, ahead)
                if self.think_s and name.startswith(("GET DATA", "WAIT FOR DIGIT", "RECORD FILE")):
                    time.sleep(self.think_s)
                sock.sendall(reply.encode() + b"\n")
                sent_at = time.perf_counter()
                if hang and not dead:
                    dead = True
                    sock.sendall(b"HANGUP\n")
            else:
                raise AgiClientError(f"the server sent more than {self.max_commands} commands")
        return AgiCallResult(tuple(commands), variables, tuple(prompts), tuple(recordings), dead, server_closed,
                             tuple(gaps))

    def _read_line(self, sock: socket.socket, buf: bytearray) -> str | None:
        while b"\n" not in buf:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise AgiClientError(f"no command from the server for {self.timeout:.0f} s") from None
            if not chunk:
                if buf:
                    raise AgiClientError(f"server closed in the middle of a command: {bytes(buf)[:80]!r}")
                return None
            buf += chunk
        nl = buf.index(b"\n")
        line = bytes(buf[:nl]).decode("utf-8")
        del buf[: nl + 1]
        return line

    def _reply(
        self,
        line: str,
        words: list[str],
        name: str,
        dead: bool,
        inputs: list[str],
        known: dict[str, str],
        variables: dict[str, str],
        prompts: list[str],
        recordings: list[str],
        missing: set[str],
        pressing: dict[str, str],
        ahead: list[str],
    ) -> tuple[str, bool]:
        """(reply text, the caller hangs up now)."""
        if dead and not any(name.startswith(ok) for ok in DEAD_OK):
            return R511, False
        up = [w.upper() for w in words]
        if up[:2] == ["SET", "VARIABLE"] and len(words) == 4:
            variables[words[2]] = words[3]
            known[words[2]] = words[3]
            return "200 result=1", False
        if up[:2] == ["GET", "VARIABLE"] and len(words) == 3:
            value = known.get(words[2])
            return (f"200 result=1 ({value})" if value is not None else "200 result=0"), False
        if up[:3] == ["GET", "FULL", "VARIABLE"]:
            return "200 result=1 ()", False
        if up[:1] == ["VERBOSE"]:
            return "200 result=1", False
        if up[:1] == ["ANSWER"]:
            return "200 result=0", False
        if up == ["HANGUP"]:
            return "200 result=1", True
        if up[:2] == ["CHANNEL", "STATUS"]:
            return ("200 result=6" if len(words) == 2 else "200 result=-1"), False
        if up[:2] == ["STREAM", "FILE"] and len(words) == 4:
            prompts.append(words[2])
            if words[2] in missing:
                return "200 result=-1 endpos=0", False
            if ahead:  # a key typed before: it stops a prompt that takes it, else the prompt drops it
                key = ahead.pop(0)
                if key in words[3]:
                    return f"200 result={ord(key)} endpos=0", False
            key = pressing.pop(words[2], "")
            if key and key in words[3]:
                return f"200 result={ord(key)} endpos=4000", False
            return "200 result=0 endpos=8000", False
        if up[:2] in (["SAY", "DIGITS"], ["SAY", "DATE"], ["SAY", "NUMBER"]) and len(words) == 4:
            key = pressing.pop(" ".join(up[:2]), "")
            return (f"200 result={ord(key)}" if key and key in words[3] else "200 result=0"), False
        if up[:1] == ["EXEC"]:
            return "200 result=0", False
        if up[:2] == ["GET", "DATA"] and len(words) in (3, 4, 5):
            prompts.append(words[2])
            if words[2] in missing:  # ast_app_getdata fails on the file: -1, the channel stays up
                return "200 result=-1", False
            item = inputs.pop(0) if inputs else ""
            if item == "!":
                return "200 result=-1", True
            item = "".join(ahead) + item
            ahead.clear()
            max_digits = int(words[4]) if len(words) == 5 else 1024
            end = item.index("#") if "#" in item else len(item)
            if end > max_digits or (end == max_digits and end == len(item)):
                ahead.extend(item[max_digits:])  # the keys after the last one taken: the next command's
                return f"200 result={item[:max_digits]}", False
            if end < len(item):
                ahead.extend(item[end + 1:])
                return f"200 result={item[:end]}", False
            return f"200 result={item} (timeout)", False
        if up[:3] == ["WAIT", "FOR", "DIGIT"]:
            if len(words) != 4:
                return USAGE_WAIT_FOR_DIGIT, False
            if ahead:
                return f"200 result={ord(ahead.pop(0))}", False
            item = inputs.pop(0) if inputs else ""
            if item == "!":
                return "200 result=-1", True
            if len(item) > 1:
                inputs.insert(0, item[1:])  # the caller's next keys, for the next input command
            return f"200 result={ord(item[0]) if item else 0}", False
        if up[:2] == ["RECORD", "FILE"] and len(words) >= 6:
            item = inputs.pop(0) if inputs else ""
            if item == "!":
                return "200 result=-1 (hangup) endpos=0", True
            path = f"{words[2]}.{words[3]}"
            recordings.append(path)
            if self.sample_wav is not None and Path(path).parent.is_dir():
                shutil.copyfile(self.sample_wav, path)
            if item.endswith("!"):
                return "200 result=-1 (hangup) endpos=40320", True
            if "#" in item:
                return "200 result=35 (dtmf) endpos=42560", False
            if any(w.startswith("s=") for w in words[6:]):
                left = max(int(words[5]) - 7120, 0)
                return f"200 result={left} (timeout) endpos=45440", False
            return f"200 result=0 (timeout) endpos={int(words[5]) * 8}", False
        return "510 Invalid or unknown command", False
