"""A real Asterisk 20 for the tests, loaded with the configuration `hotline asterisk-config` generates, as a new
site would load it: only the AMI secret, the queue members and the recording folder filled in. The rest of the
site (SIP peers of the carrier and of the agents' phones, ports, sounds) is the lab's own, on loopback.

`HOTLINE_ASTERISK` names the install prefix (`<prefix>/sbin/asterisk`, `<prefix>/lib/asterisk/modules`,
`<prefix>/var/lib/asterisk/sounds/en`). Asterisk is not packaged for Debian 12/13 and nothing of it ships with
Hotline: DEVELOPERS.md says how to build one for these tests.

Callers and agents' phones are sipp: `Caller` scenarios press keys as SIP INFO (carrier peer `carrier`,
127.0.0.1) or as RFC 2833 events (peer `carrier2833`, 127.0.0.2: chan_sip tells the two apart by address);
agents' phones answer after a ring and take the caller's or Asterisk's BYE."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loopback import free_block, free_port
from waits import wait_until

EXE = [sys.executable, "-m", "hotline_cli.main"]
AMI_USER = "hotline"
AMI_SECRET = "lab-secret-7d1f"
AGENTS = ("agent1001", "agent1002", "agent1003")
RTP_PORTS = 240  # 4 per channel (RTP and RTCP, a call has two), freed a while after each hangup


class LabError(Exception):
    """The lab could not be set up (Asterisk would not start, a generated file has no place for a site value)."""


def asterisk_prefix() -> Path | None:
    """The Asterisk install the tests run against, or None when HOTLINE_ASTERISK is not set."""
    value = os.environ.get("HOTLINE_ASTERISK", "").strip()
    return Path(value) if value else None


def hotline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a Hotline process: none of the test runner's HOTLINE_ settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | (extra or {})


def generated(section: str, agi_url: str, menus: Path, *more: str, tech: str = "SIP") -> str:
    """One section of `hotline asterisk-config --routing ami`, as the command prints it for a site whose agents'
    phones are `tech` (the settings' agent_interface)."""
    out = subprocess.run([*EXE, "asterisk-config", "--routing", "ami", "--agi-url", agi_url, "--section", section,
                          "--menus", str(menus), *more],
                         capture_output=True, text=True, timeout=60, check=True,
                         env=hotline_env({"HOTLINE_AGENT_INTERFACE": f"{tech}/{{agent}}"}))
    return out.stdout


def fill(text: str, old: str, new: str, what: str) -> str:
    if old not in text:
        raise LabError(f"the generated {what} has no {old!r} to fill in")
    return text.replace(old, new)


INDICATIONS = """[general]
country = us

[us]
description = United States
ringcadence = 2000,4000
dial = 350+440
busy = 480+620/500,0/500
ring = 440+480/2000,0/4000
congestion = 480+620/250,0/250
callwaiting = 440/300,0/10000
record = 1400/500,0/15000
info = !950/330,!1400/330,!1800/330,0
"""


@dataclass
class LabPorts:
    ami: int = field(default_factory=free_port)
    sip: int = field(default_factory=lambda: free_block(2))  # UDP
    agi: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    agents: dict[str, int] = field(default_factory=dict)  # agent -> its phone's port (sipp: UDP)
    rtp_first: int = 0  # an even port; RTP_PORTS from it


class AsteriskLab:
    """One Asterisk process with the generated dialplan, queues and AMI user, under `root`."""

    def __init__(self, prefix: Path, root: Path, prompts: Path, menus: Path, members: dict[str, Sequence[str]],
                 tech: str = "SIP") -> None:
        self.prefix = prefix
        self.root = root
        self.etc = root / "etc"
        self.recordings = root / "monitor"
        self.log = root / "log" / "messages.log"
        self.ports = LabPorts(rtp_first=free_block(RTP_PORTS))
        self.agents = tuple(dict.fromkeys(a for queue in members.values() for a in queue))
        self.ports.agents = {a: free_block(2) for a in self.agents}
        self.prompts = prompts
        self.menus = menus
        self.members = members  # queue -> agents (chan_sip); PJSIP: every agent in every queue, as generated
        self.tech = tech  # SIP: the lab's own sip.conf; PJSIP: pjsip.conf as `--section phones` writes it
        self.caller_ip = "127.0.0.2" if tech == "PJSIP" else "127.0.0.1"  # PJSIP's carrier: 127.0.0.2 only
        self.proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ configuration
    def write(self) -> None:
        for d in ("etc", "var/lib", "var/db", "var/keys/keys", "var/spool", "var/run", "log", "cache", "data/sounds",
                  "monitor"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        sounds = self.root / "data" / "sounds"
        for lang in ("en", "en_US"):
            src = self.prefix / "var/lib/asterisk/sounds" / lang
            if src.exists() and not (sounds / lang).exists():
                (sounds / lang).symlink_to(src.resolve())
        if not (sounds / "hotline").exists():
            (sounds / "hotline").symlink_to(self.prompts)  # "copy var/prompts to the sounds folder as hotline"
        r = self.root
        (self.etc / "asterisk.conf").write_text(f"""[directories]
astetcdir => {self.etc}
astmoddir => {self.prefix / 'lib/asterisk/modules'}
astvarlibdir => {r / 'var/lib'}
astdbdir => {r / 'var/db'}
astkeydir => {r / 'var/keys'}
astdatadir => {r / 'data'}
astagidir => {r / 'data/agi-bin'}
astspooldir => {r / 'var/spool'}
astrundir => {r / 'var/run'}
astlogdir => {r / 'log'}
astcachedir => {r / 'cache'}

[options]
verbose = 3
""")
        (self.etc / "modules.conf").write_text("[modules]\nautoload = yes\n" + "".join(
            f"noload => {m}.so\n" for m in ("chan_alsa", "chan_console", "chan_oss", "chan_mgcp", "chan_skinny",
                                            "chan_unistim", "chan_iax2", "res_hep", "res_hep_pjsip", "res_hep_rtcp",
                                            "cdr_radius", "cel_radius", "res_config_ldap",
                                            "res_pjsip_transport_websocket",
                                            "chan_pjsip" if self.tech == "SIP" else "chan_sip")))
        (self.etc / "logger.conf").write_text("[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose\n")
        (self.etc / "indications.conf").write_text(INDICATIONS)
        (self.etc / "rtp.conf").write_text(  # strictrtp off: a caller's keys come from Rfc2833Keys' own port
            f"[general]\nrtpstart = {self.ports.rtp_first}\nrtpend = {self.ports.rtp_first + RTP_PORTS - 1}\n"
            "strictrtp = no\n")
        agi = f"agi://127.0.0.1:{self.ports.agi}"
        if self.tech == "SIP":
            (self.etc / "sip.conf").write_text(self._sip_conf())
        else:
            (self.etc / "pjsip.conf").write_text(self._pjsip_conf(agi))
        ext = fill(generated("extensions", agi, self.menus), "RECDIR = /var/spool/asterisk/monitor",
                   f"RECDIR = {self.recordings}", "extensions.conf")
        (self.etc / "extensions.conf").write_text(ext)
        if self.tech == "PJSIP":
            queues = generated("queues", agi, self.menus, "--agents", ",".join(self.agents), tech="PJSIP")
            (self.etc / "queues.conf").write_text(queues)
        else:
            self._sip_queues(agi)
        manager = fill(generated("manager", agi, self.menus), "secret = change-me", f"secret = {AMI_SECRET}",
                       "manager.conf")
        (self.etc / "manager.conf").write_text(
            f"[general]\nenabled = yes\nport = {self.ports.ami}\nbindaddr = 127.0.0.1\n\n{manager}")

    def _pjsip_conf(self, agi: str) -> str:
        """The generated phones section with the site's values: its address, the carrier's, the passwords; and
        the lab's phones at fixed addresses (a static contact each: sipp phones do not register)."""
        conf = generated("phones", agi, self.menus, "--agents", ",".join(self.agents), "--carrier", self.caller_ip,
                         tech="PJSIP")
        conf = fill(conf, "bind = 0.0.0.0:5060", f"bind = 127.0.0.1:{self.ports.sip}", "pjsip.conf")
        conf = fill(conf, "password = change-me", "password = lab-phone-secret", "pjsip.conf")
        for agent, port in self.ports.agents.items():
            aor = f"[{agent}]\ntype = aor\n"
            conf = fill(conf, aor, f"{aor}contact = sip:{agent}@127.0.0.1:{port}\n", "pjsip.conf")
        return conf

    def _sip_queues(self, agi: str) -> None:
        queues = generated("queues", agi, self.menus)
        for queue, agents in self.members.items():
            lines = "".join(f"member => SIP/{a},0,{a}\n" for a in agents)
            queues = fill(queues, f"[{queue}](hotline-queue)\n", f"[{queue}](hotline-queue)\n{lines}", "queues.conf")
        (self.etc / "queues.conf").write_text(queues)

    def _sip_conf(self) -> str:
        peers = "".join(f"""
[{a}](agent)
port = {port}
callerid = "{a}" <{a[-4:]}>
""" for a, port in self.ports.agents.items())
        return f"""[general]
context = default
udpbindaddr = 127.0.0.1:{self.ports.sip}
tcpenable = no
allowguest = no
alwaysauthreject = yes
disallow = all
allow = ulaw
dtmfmode = rfc2833
directmedia = no
qualify = no
callcounter = yes

[carrier]
type = peer
host = 127.0.0.1
insecure = port,invite
context = from-carrier
dtmfmode = info
disallow = all
allow = ulaw
directmedia = no

[carrier2833]
type = peer
host = 127.0.0.2
insecure = port,invite
context = from-carrier
dtmfmode = rfc2833
disallow = all
allow = ulaw
directmedia = no

[agent](!)
type = peer
host = 127.0.0.1
context = from-agents
dtmfmode = rfc2833
disallow = all
allow = ulaw
directmedia = no
call-limit = 1
{peers}"""

    # ------------------------------------------------------------------ the process
    def start(self, timeout: float = 60.0) -> None:
        exe = self.prefix / "sbin" / "asterisk"
        if not exe.exists():
            raise LabError(f"HOTLINE_ASTERISK={self.prefix}: no {exe}")
        cmd = [str(exe), "-C", str(self.etc / "asterisk.conf"), "-f", "-n", "-q"]
        if os.geteuid() == 0:
            cmd += ["-U", "root"]
        out = (self.root / "log" / "asterisk.out").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self._banner() or self._died(), timeout, "Asterisk's AMI banner", every=0.1)
        if self.proc.poll() is not None:
            raise LabError(f"Asterisk exited with {self.proc.returncode}: "
                           f"{(self.root / 'log' / 'asterisk.out').read_text(errors='replace')[-2000:]}")
        wait_until(lambda: "fully booted" in self.rx("core waitfullybooted"), timeout, "Asterisk fully booted",
                   every=0.2)

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def _banner(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports.ami), timeout=1) as s:
                return s.recv(64).startswith(b"Asterisk Call Manager/")
        except OSError:
            return False

    def rx(self, command: str) -> str:
        """A CLI command through the control socket (`asterisk -rx`)."""
        exe = self.prefix / "sbin" / "asterisk"
        out = subprocess.run([str(exe), "-C", str(self.etc / "asterisk.conf"), "-rx", command], capture_output=True,
                             text=True, timeout=30)
        return out.stdout + out.stderr

    def verbose_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.rx("core stop now")
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# ---------------------------------------------------------------------- sipp


def _sdp() -> str:
    return """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
"""


def _request(method: str, cseq: int, body: str = "", content_type: str = "") -> str:
    headers = f"Content-Type: {content_type}\n" if content_type else ""
    to_tag = "[peer_tag_param]" if method != "INVITE" else ""
    return f"""  <send retrans="500"><![CDATA[

{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
{headers}Content-Length: [len]

{body}]]></send>
"""


@dataclass(frozen=True)
class Key:
    at_s: float  # seconds after the answer
    digits: str  # pressed 0.3 s apart


def caller_scenario(keys: Iterable[Key], hangup_s: float, rfc2833: bool = False) -> str:
    """A caller: INVITE, ACK the answer, the keys at their times (SIP INFO 0.3 s apart; with `rfc2833` the keys
    are left to `Rfc2833Keys`), BYE at `hangup_s` unless the PBX hung up first (then sipp answers its
    BYE by its default behaviour and the scenario ends there)."""
    parts = ["""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hotline caller">
""", _request("INVITE", 1, _sdp(), "application/sdp"),
             """  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
""", """  <send><![CDATA[

ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
"""]
    now = 0.0
    cseq = 2
    for key in sorted(keys, key=lambda k: k.at_s):
        if rfc2833:
            continue  # sent as RTP by `Rfc2833Keys` beside sipp; the scenario only holds the call
        for i, digit in enumerate(key.digits):
            at = key.at_s + 0.3 * i
            if at > now:
                parts.append(f'  <pause milliseconds="{int((at - now) * 1000)}"/>\n')
                now = at
            parts.append(_request("INFO", cseq, f"Signal={digit}\nDuration=160\n", "application/dtmf-relay"))
            parts.append('  <recv response="200"/>\n')
            cseq += 1
    if hangup_s > now:
        parts.append(f'  <pause milliseconds="{int((hangup_s - now) * 1000)}"/>\n')
    parts.append(_request("BYE", cseq))
    parts.append('  <recv response="200" crlf="true"/>\n</scenario>\n')
    return "".join(parts)


AGENT_PHONE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agent phone: rings, answers, takes the BYE">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[

SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <pause milliseconds="{ring_ms}"/>
  <send retrans="500"><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{sdp}]]></send>
  <recv request="ACK" optional="true" rtd="true" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
</scenario>
"""


EVENTS = {**{d: int(d) for d in "0123456789"}, "*": 10, "#": 11}


class Rfc2833Keys(threading.Thread):
    """A caller's keys as RFC 2833 telephone-events (payload 101), sent to the RTP address Asterisk answered
    with (read from sipp's message trace): one event per key, 0.3 s apart, each 5 updates and 3 end packets
    as phones send them."""

    def __init__(self, trace: Path, keys: Sequence[Key]) -> None:
        super().__init__(daemon=True)
        self.trace = trace
        self.keys = sorted(keys, key=lambda k: k.at_s)
        self.sent = ""
        self.error: str | None = None

    def _answer(self, timeout: float = 30.0) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.trace.read_text(errors="replace") if self.trace.exists() else ""
            for block in text.split("SIP/2.0 200 OK")[1:]:
                media = re.search(r"m=audio (\d+) ", block)
                addr = re.search(r"c=IN IP4 ([0-9.]+)", block)
                if media and addr:
                    return addr.group(1), int(media.group(1))
            time.sleep(0.02)
        raise LabError("no answer with SDP in sipp's message trace")

    def run(self) -> None:
        try:
            host, port = self._answer()
            start = time.monotonic()
            seq, stamp, ssrc = 1, 8000, 0x484F544C
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for key in self.keys:
                    for i, digit in enumerate(key.digits):
                        wait = start + key.at_s + 0.3 * i - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        event = EVENTS[digit]
                        for n in range(8):  # durations 160..800 samples, the last three with the end bit
                            end = n >= 5
                            duration = 160 * min(n + 1, 5)
                            header = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | 101, seq & 0xFFFF,
                                                 stamp, ssrc)
                            sock.sendto(header + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration),
                                        (host, port))
                            seq += 1
                            time.sleep(0.02)
                        stamp += 2400  # the next event starts 0.3 s later
                        self.sent += digit
        except (LabError, OSError) as exc:
            self.error = str(exc)


class Sipp:
    """sipp processes of one test: agents' phones (UAS) and callers (UAC)."""

    def __init__(self, root: Path, asterisk_sip: int, caller_ip: str = "127.0.0.1") -> None:
        self.root = root
        self.asterisk_sip = asterisk_sip
        self.caller_ip = caller_ip  # where the carrier's calls come from (PJSIP's carrier: 127.0.0.2)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.senders: list[Rfc2833Keys] = []
        self._n = 0
        exe = shutil.which("sipp")
        if exe is None:
            raise LabError("sipp is not installed (Debian package sip-tester)")
        self.exe = exe

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        out = (self.root / f"{name}.out").open("wb")
        p = subprocess.Popen([self.exe, *args, "-nostdin", "-trace_err", "-error_file", str(self.root / f"{name}.err")],
                             cwd=self.root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def phone(self, agent: str, port: int, ring_ms: int = 600) -> subprocess.Popen[bytes]:
        xml = self.root / f"{agent}.xml"
        xml.write_text(AGENT_PHONE.replace("{ring_ms}", str(ring_ms)).replace("{sdp}", _sdp()))
        return self._start(agent, ["-sf", str(xml), "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_block(4)),
                                   "-aa", "-m", "1000", "-trace_msg", "-message_file", str(self.root / f"{agent}.msg")])

    def invites(self, agent: str) -> list[float]:
        """When `agent`'s phone received each INVITE (epoch seconds, from sipp's message trace)."""
        path = self.root / f"{agent}.msg"
        text = path.read_text(errors="replace") if path.exists() else ""
        stamp = r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
        found = re.findall(stamp + r"\S+ message received \[\d+\] bytes :\n\nINVITE ", text, re.M)
        return [time.mktime(time.strptime(t.split(".")[0], "%Y-%m-%d %H:%M:%S")) + float("0." + t.split(".")[1])
                for t in found]

    def call(self, caller: str, dialled: str, keys: Sequence[Key] = (), hangup_s: float = 30.0,
             rfc2833: bool = False) -> subprocess.Popen[bytes]:
        self._n += 1
        name = f"caller{self._n}-{caller}"
        xml = self.root / f"{name}.xml"
        xml.write_text(caller_scenario(keys, hangup_s, rfc2833))
        csv = self.root / f"{name}.csv"
        csv.write_text(f"SEQUENTIAL\n{caller};\n")
        ip = "127.0.0.2" if rfc2833 else self.caller_ip
        trace = self.root / f"{name}.msg"
        proc = self._start(name, ["127.0.0.1:" + str(self.asterisk_sip), "-sf", str(xml), "-inf", str(csv),
                                  "-s", dialled, "-i", ip, "-p", str(free_block(2)), "-mp", str(free_block(4)),
                                  "-m", "1", "-l", "1", "-trace_msg", "-message_file", str(trace)])
        if rfc2833:
            sender = Rfc2833Keys(trace, list(keys))
            sender.start()
            self.senders.append(sender)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
