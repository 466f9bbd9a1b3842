"""An AMI server over TCP in front of the simulated PBX (`hotline simulator --listen HOST:PORT`).

It speaks as Asterisk 20 spoke in the captures: the banner, Login with the same replies (a wrong
secret is refused after ~1 s and the socket closed), FullyBooted and SuccessfulAuth after login,
Ping/Pong, Logoff/Goodbye, list actions with EventList start/Complete, an error for unknown
actions, and every event of the calls it plays.

Each session gets what its manager.conf user would get from Asterisk 20 (telephony.manager_rights): the
events of the classes it may read and its event mask allows, through its event filters, with the
`ChanVariable` lines of `[general] channelvars` only; an action it may not write is "Permission denied".
By default the manager.conf is the one `hotline asterisk-config` generates (telephony.ami_user).
"""

from __future__ import annotations

import logging
import queue
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from telephony.ami_user import manager_conf
from telephony.frames import FrameParser, Message
from telephony.manager_rights import ACTION_CLASSES, CLASSES, ManagerConf, ManagerUser, event_mask, parse_manager_conf
from telephony.simulator.audiosocket_tap import AudioSocketTaps
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.scenario import Fields
from telephony.simulator.snapshot import SimChannel, state_at

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
BAD_LOGIN_DELAY_S = 1.0
QUEUES = {"service": "linear", "complaints": "rrmemory", "claims": "ringall"}
# the actions the simulator answers, with the write classes Asterisk 20 registers them with (ListCommands)
SIM_ACTIONS = {name: ACTION_CLASSES[name.lower()] for name in (
    "Ping", "Login", "Logoff", "Events", "ListCommands", "Command", "CoreShowChannels", "QueueSummary",
    "QueueStatus", "QueuePause", "Getvar", "Setvar", "Hangup", "Redirect", "BlindTransfer", "MixMonitor",
    "Originate", "QueueAdd", "QueueRemove")}
_CSC_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
             "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = "hotline"
    secret: str = "hotline"


def _encode(fields: Fields) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode("utf-8")


def _tv(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


class _Session(socketserver.BaseRequestHandler):
    server: AmiServer

    def setup(self) -> None:
        # as Asterisk's manager.c does for every AMI session: no Nagle delay on small writes (without
        # it a response written right after a burst of events waits ~40 ms for the client's ACK)
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.reset_requested = False
        self.out: queue.Queue[bytes | None] = queue.Queue(maxsize=100_000)
        self.logged_in = False
        self.user: ManagerUser | None = None
        self.mask = frozenset(CLASSES)  # the session's event mask (Login's Events, the Events action)
        self.closed = threading.Event()
        self.writer = threading.Thread(target=self._write_loop, name="ami-sim-writer", daemon=True)
        self.writer.start()

    def _write_loop(self) -> None:
        sock: socket.socket = self.request
        while True:
            data = self.out.get()
            if data is None:
                break
            try:
                sock.sendall(data)
            except OSError:
                break
        self.closed.set()

    def send(self, fields: Fields) -> None:
        self.send_bytes(_encode(fields))

    def send_bytes(self, data: bytes) -> None:
        try:
            self.out.put_nowait(data)
        except queue.Full:
            log.warning("AMI client too slow; dropping its connection")
            self.close()

    def close(self) -> None:
        try:
            self.out.put_nowait(None)
        except queue.Full:
            pass
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def reset(self) -> None:
        """Drop the connection with a TCP reset, as a crashing PBX or a broken network does."""
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.reset_requested = True
            self.request.shutdown(socket.SHUT_RD)  # wakes the reader; the close then sends RST
        except OSError:
            pass

    def on_events(self, batch: list[Fields]) -> None:
        user = self.user
        if not self.logged_in or user is None or not self.mask:
            return
        keep = self.server.manager.channelvars
        out = [_encode(f if not any(k == "ChanVariable" for k, _ in f) else
                       [(k, v) for k, v in f if k != "ChanVariable" or v.partition("=")[0] in keep])
               for f in batch if user.receives(f, self.mask)]
        if out:
            self.send_bytes(b"".join(out))

    def handle(self) -> None:
        sock: socket.socket = self.request
        if time.time() < self.server.down_until:
            return  # Asterisk is not up: the connection is closed at once
        self.send_bytes(BANNER)
        parser = FrameParser(max_frame=64 * 1024)
        try:
            while not self.closed.is_set():
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                for msg in parser.feed(data):
                    if not self._action(msg):
                        self.out.put(None)
                        self.writer.join(timeout=5)
                        return
        finally:
            self.server.pbx.remove_listener(self.on_events)
            self.server.sessions.discard(self)
            self.out.put(None)

    # ------------------------------------------------------------------ actions
    def _action(self, msg: Message) -> bool:
        """Answer one action; False closes the connection."""
        action = msg.get("Action")
        self.server.actions[action.lower()] += 1
        aid = msg.get("ActionID")
        base: Fields = [("ActionID", aid)] if "ActionID" in msg else []
        name = action.lower()
        if name == "login":
            return self._login(msg, base)
        if name == "logoff":
            self.send([("Response", "Goodbye"), *base, ("Message", "Thanks for all the fish.")])
            return False
        if not self.logged_in or self.user is None or not self.user.may_send(name):
            self.send([("Response", "Error"), *base, ("Message", "Permission denied")])
            return True
        if name == "ping":
            self.send([("Response", "Success"), *base, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])
        elif name == "events":
            mask = event_mask(msg.get("EventMask"))
            if mask is None:
                self.send([("Response", "Error"), *base, ("Message", "Invalid event mask")])
            else:
                self.mask = mask
                self.send([("Response", "Success"), *base, ("Events", "On" if mask else "Off")])
        elif name == "listcommands":
            self._list_commands(base)
        elif name == "command":
            self.send([("Response", "Success"), *base, ("Message", "Command output follows"),
                       ("Output", "Asterisk 20.20.1 (Hotline PBX simulator)")])
        elif name == "coreshowchannels":
            self._core_show_channels(base)
        elif name == "queuesummary":
            self._queue_summary(msg, base)
        elif name == "queuestatus":
            self._queue_status(msg, base)
        elif name == "queuepause":
            self._queue_pause(msg, base)
        elif name == "simulatecall":
            self._simulate_call(msg, base)
        elif name in ("getvar", "setvar", "hangup", "redirect", "blindtransfer", "mixmonitor"):
            self._channel_action(name, msg, base)
        elif name == "originate":
            self._originate(msg, base)
        elif name in ("queueadd", "queueremove"):
            self._queue_member_change(name, msg, base)
        else:
            self.send([("Response", "Error"), *base,
                       ("Message", f"Invalid/unknown command: {action}. Use Action: ListCommands to show "
                                   "available commands.")])
        return True

    def _login(self, msg: Message, base: Fields) -> bool:
        user = self.server.manager.user(msg.get("Username"))
        if user is None or not user.secret or msg.get("Secret") != user.secret:
            self.server.broadcast_security("InvalidPassword", msg.get("Username"), self.client_address)
            time.sleep(BAD_LOGIN_DELAY_S)
            self.send([("Response", "Error"), *base, ("Message", "Authentication failed")])
            return False
        self.user = user
        mask = event_mask(msg.get("Events"))
        self.mask = frozenset(CLASSES) if mask is None else mask
        self.send([("Response", "Success"), *base, ("Message", "Authentication accepted")])
        self.logged_in = True
        if "system" in self.mask and "system" in user.read:  # manager.c: sent at login, not through the filters
            uptime = int(time.time() - self.server.pbx.booted_at)
            self.send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", str(uptime)),
                       ("LastReload", str(uptime)), ("Status", "Fully Booted")])
        self.server.broadcast_security("SuccessfulAuth", user.username, self.client_address)
        self.server.pbx.add_listener(self.on_events)
        self.server.sessions.add(self)
        return True

    def _list_commands(self, base: Fields) -> None:
        """ListCommands: the actions this user may send, as `Name: Synopsis (Priv: classes,all)` lines."""
        assert self.user is not None
        lines = [(name, f"{name} (Priv: {','.join([*sorted(needed), 'all']) if needed else '<none>'})")
                 for name, needed in SIM_ACTIONS.items() if self.user.may_send(name)]
        self.send([("Response", "Success"), *base, *lines])

    def _core_show_channels(self, base: Fields) -> None:
        # the snapshot and its place in this session's stream are one instant: no step plays between
        with self.server.pbx.between_steps():
            self._core_show_channels_now(base)

    def _core_show_channels_now(self, base: Fields) -> None:
        now = time.time()
        state = state_at(self.server.pbx, now)
        items: list[Fields] = []
        for ch in [*state.channels, *self.server.taps.channels()]:  # a live tap's channel is a channel too
            dur = max(0, int(now - ch.started))
            items.append([("Event", "CoreShowChannel"), *base,
                          *[(k, ch.fields.get(k, "")) for k in _CSC_KEYS[:14]],
                          ("ChanVariable", ch.chan_variable),
                          ("Application", ch.application), ("ApplicationData", ch.application_data),
                          ("Duration", f"{dur // 3600:02d}:{dur // 60 % 60:02d}:{dur % 60:02d}"),
                          ("BridgeId", ch.bridge_id)])
        self.send([("Response", "Success"), *base, ("EventList", "start"), ("Message", "Channels will follow")])
        for item in items:
            self.send(item)
        self.send([("Event", "CoreShowChannelsComplete"), *base, ("EventList", "Complete"),
                   ("ListItems", str(len(items)))])

    def _channel(self, name: str) -> SimChannel | None:
        linkedid = self.server.pbx.call_of_channel(name)
        if linkedid is None:
            return None
        state = state_at(self.server.pbx, time.time(), only=linkedid)
        return next((c for c in state.channels if c.fields.get("Channel") == name), None)

    def _channel_action(self, name: str, msg: Message, base: Fields) -> None:
        channel = msg.get("Channel")
        ch = self._channel(channel)
        if ch is None:
            self.send([("Response", "Error"), *base, ("Message", "No such channel")])
            return
        pbx = self.server.pbx
        if name == "getvar":
            var = msg.get("Variable")
            self.send([("Response", "Success"), *base, ("Variable", var), ("Value", ch.variables.get(var, ""))])
        elif name == "setvar":
            self.send([("Response", "Success"), *base])
            pbx.emit([[("Event", "VarSet"), ("Privilege", "dialplan,all"),
                       *[(k, ch.fields.get(k, "")) for k in _CSC_KEYS[:14]], ("ChanVariable", ch.chan_variable),
                       ("Variable", msg.get("Variable")), ("Value", msg.get("Value"))]])
        elif name == "hangup":
            lid = ch.fields.get("Linkedid", "")
            if pbx.reject_held(lid, int(msg.get("Cause") or 16)) or pbx.hang_up(lid):
                self.send([("Response", "Success"), *base, ("Message", "Channel Hungup")])
            else:
                self.send([("Response", "Error"), *base,
                           ("Message", "The simulator hangs up calls only while an agent talks")])
        elif name == "redirect":
            # as in trace 05, the answer comes first and the channel's events after it; out of the
            # holding step, or a queued caller to the callback offer / another queue
            self.send([("Response", "Success"), *base, ("Message", "Redirect successful")])
            pbx.redirect(ch.fields.get("Linkedid", ""), channel, msg.get("Context"), msg.get("Exten"))
        elif name == "blindtransfer":
            self.send([("Response", "Success"), *base, ("Message", "Transfer succeeded")])
        elif name == "mixmonitor":
            self.send([("Response", "Success"), *base])

    def _originate(self, msg: Message, base: Fields) -> None:
        if self.server.taps.originate(msg, base, self.send):
            return  # AudioSocket/HOST:PORT/<uuid> running ChanSpy on a live call: streamed (audiosocket_tap)
        self.send([("Response", "Success"), *base, ("Message", "Originate successfully queued")])
        self.server.pbx.emit([[("Event", "OriginateResponse"), ("Privilege", "call,all"), *base,
                               ("Response", "Success"), ("Channel", msg.get("Channel")),
                               ("Context", msg.get("Context")), ("Exten", msg.get("Exten")),
                               ("Application", msg.get("Application")), ("Data", msg.get("Data")),
                               ("Reason", "4"), ("Uniqueid", "<null>"),
                               ("CallerIDNum", msg.get("CallerID", "<unknown>")),
                               ("CallerIDName", "<unknown>")]])

    def _queue_member_change(self, name: str, msg: Message, base: Fields) -> None:
        pbx = self.server.pbx
        queue, iface = msg.get("Queue"), msg.get("Interface")
        peer = iface.split("/", 1)[-1]
        if queue not in QUEUES or peer not in pbx.agents:
            self.send([("Response", "Error"), *base, ("Message", "Unable to add interface: No such queue"
                                                       if name == "queueadd" else "Unable to remove interface: "
                                                       "Not there")])
            return
        adding = name == "queueadd"
        changed = pbx.set_member(peer, queue, adding)
        if not changed:
            self.send([("Response", "Error"), *base, ("Message", "Unable to add interface: Already there" if adding
                                                       else "Unable to remove interface: Not there")])
            return
        paused = msg.get("Paused", "false").lower() in ("true", "1", "yes")
        if adding and paused:
            pbx.set_paused(peer, True, msg.get("Reason"))
        self.send([("Response", "Success"), *base,
                   ("Message", "Added interface to queue" if adding else "Removed interface from queue")])
        agent = pbx.agents[peer]
        pbx.emit([[("Event", "QueueMemberAdded" if adding else "QueueMemberRemoved"), ("Privilege", "agent,all"),
                   ("Queue", queue), ("MemberName", msg.get("MemberName") or agent.member_name),
                   ("Interface", iface), ("StateInterface", iface), ("Membership", "dynamic"),
                   ("Penalty", msg.get("Penalty", "0")), ("CallsTaken", "0"), ("LastCall", "0"),
                   ("LastPause", "0"), ("LoginTime", str(int(time.time()))), ("InCall", "0"), ("Status", "1"),
                   ("Paused", "1" if adding and paused else "0"),
                   ("PausedReason", msg.get("Reason") if adding and paused else ""),
                   ("Ringinuse", "0"), ("Wrapuptime", "0")]])

    def _queue_names(self, msg: Message) -> list[str]:
        wanted = msg.get("Queue")
        return [wanted] if wanted else list(QUEUES)

    def _queue_summary(self, msg: Message, base: Fields) -> None:
        with self.server.pbx.between_steps():
            self._queue_summary_now(msg, base)

    def _queue_summary_now(self, msg: Message, base: Fields) -> None:
        pbx = self.server.pbx
        now = time.time()
        state = state_at(pbx, now)
        free = set(pbx.free_agents(now))
        self.send([("Response", "Success"), *base, ("EventList", "start"), ("Message", "Queue summary will follow")])
        names = [q for q in self._queue_names(msg) if q in QUEUES]
        for q in names:
            members = pbx.members_of(q)
            waiting = [e for e in state.entries if e.queue == q]
            longest = max((int(now - e.joined) for e in waiting), default=0)
            self.send([("Event", "QueueSummary"), ("Queue", q), ("LoggedIn", str(len(members))),
                       ("Available", str(len(free & set(members)))), ("Callers", str(len(waiting))),
                       ("HoldTime", "0"), ("TalkTime", "0"), ("LongestHoldTime", str(longest)), *base])
        self.send([("Event", "QueueSummaryComplete"), *base, ("EventList", "Complete"),
                   ("ListItems", str(len(names)))])

    def _queue_status(self, msg: Message, base: Fields) -> None:
        with self.server.pbx.between_steps():
            self._queue_status_now(msg, base)

    def _queue_status_now(self, msg: Message, base: Fields) -> None:
        pbx = self.server.pbx
        now = time.time()
        state = state_at(pbx, now)
        paused = pbx.paused_reasons()
        self.send([("Response", "Success"), *base, ("EventList", "start"), ("Message", "Queue status will follow")])
        count = 0
        for q in [q for q in self._queue_names(msg) if q in QUEUES]:
            waiting = [e for e in state.entries if e.queue == q]
            self.send([("Event", "QueueParams"), ("Queue", q), ("Max", "0"), ("Strategy", QUEUES[q]),
                       ("Calls", str(len(waiting))), ("Holdtime", "0"), ("TalkTime", "0"), ("Completed", "0"),
                       ("Abandoned", "0"), ("ServiceLevel", "20"), ("ServicelevelPerf", "0.0"),
                       ("ServicelevelPerf2", "0.0"), ("Weight", "0"), *base])
            count += 1
            for peer in pbx.members_of(q):
                agent = pbx.agents[peer]
                status = state.member_status.get(peer, "1")
                self.send([("Event", "QueueMember"), ("Queue", q), ("Name", agent.member_name),
                           ("Location", f"SIP/{peer}"), ("StateInterface", f"SIP/{peer}"), ("Membership", "static"),
                           ("Penalty", "0"), ("CallsTaken", "0"), ("LastCall", "0"), ("LastPause", "0"),
                           ("LoginTime", str(int(pbx.booted_at))), ("InCall", "1" if status in ("2", "3") else "0"),
                           ("Status", status), ("Paused", "1" if peer in paused else "0"),
                           ("PausedReason", paused.get(peer, "")), ("Wrapuptime", "0"), *base])
                count += 1
            for pos, e in enumerate(waiting, start=1):
                self.send([("Event", "QueueEntry"), ("Queue", q), ("Position", str(pos)), ("Channel", e.channel),
                           ("Uniqueid", e.uniqueid), ("CallerIDNum", e.caller), ("CallerIDName", e.caller_name),
                           ("ConnectedLineNum", "unknown"), ("ConnectedLineName", "unknown"),
                           ("Wait", str(int(now - e.joined))), ("Priority", "0"), *base])
                count += 1
        self.send([("Event", "QueueStatusComplete"), *base, ("EventList", "Complete"), ("ListItems", str(count))])

    def _simulate_call(self, msg: Message, base: Fields) -> None:
        """Simulator-only control action (not Asterisk's): play one call now.

        Fields: Scenario, CallerID (number), CallerName, Agents (comma list), Waybill, TalkSeconds,
        AbandonAfter, ExtraWait, OfferKey (the key pressed at a callback offer; empty: none)."""
        from telephony.simulator.scenario import ScenarioError

        try:
            agents = [a.strip() for a in msg.get("Agents").split(",") if a.strip()] or None
            caller = (msg.get("CallerID"), msg.get("CallerName")) if msg.get("CallerID") else None
            script = self.server.pbx.start_call(
                msg.get("Scenario", "service_answered"), caller=caller, agents=agents,
                waybill=msg.get("Waybill") or None,
                talk_s=float(msg.get("TalkSeconds")) if msg.get("TalkSeconds") else None,
                abandon_after_s=float(msg.get("AbandonAfter")) if msg.get("AbandonAfter") else None,
                extra_wait_s=float(msg.get("ExtraWait") or 0),
                offer_key=msg.get("OfferKey", "1") if "OfferKey" in msg else "1",
            )
        except (ScenarioError, ValueError) as exc:
            self.send([("Response", "Error"), *base, ("Message", str(exc))])
            return
        self.send([("Response", "Success"), *base, ("Message", "Call simulated"), ("Linkedid", script.linkedid),
                   ("Agents", ",".join(script.agents)), ("Recording", script.recording or "")])

    def _queue_pause(self, msg: Message, base: Fields) -> None:
        pbx = self.server.pbx
        iface = msg.get("Interface")
        peer = iface.split("/", 1)[-1]
        if peer not in pbx.agents:
            self.send([("Response", "Error"), *base, ("Message", "Interface not found")])
            return
        paused = msg.get("Paused", "true").lower() in ("true", "1", "yes")
        reason = msg.get("Reason")
        pbx.set_paused(peer, paused, reason)
        self.send([("Response", "Success"), *base,
                   ("Message", "Interface paused successfully" if paused else "Interface unpaused successfully")])
        agent = pbx.agents[peer]
        for q in self._queue_names(msg):
            pbx.emit([[("Event", "QueueMemberPause"), ("Privilege", "agent,all"), ("Queue", q),
                       ("MemberName", agent.member_name), ("Interface", f"SIP/{peer}"),
                       ("StateInterface", f"SIP/{peer}"), ("Membership", "static"), ("Penalty", "0"),
                       ("CallsTaken", "0"), ("LastCall", "0"), ("LastPause", str(int(time.time()))),
                       ("LoginTime", str(int(pbx.booted_at))), ("InCall", "0"), ("Status", "1"),
                       ("Paused", "1" if paused else "0"), ("PausedReason", reason if paused else ""),
                       ("Ringinuse", "0"), ("Wrapuptime", "0")]])


class AmiServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], pbx: SimulatedPbx, credentials: Credentials | None = None,
                 allowed_peers: tuple[str, ...] = ("127.0.0.1",), manager: ManagerConf | None = None) -> None:
        """Like Asterisk's manager.conf `permit`: connections from other addresses than
        `allowed_peers` are closed at once, before the banner (and counted in `refused`). `manager`: the
        users and their rights; by default the generated manager.conf with `credentials`."""
        self.pbx = pbx
        creds = credentials or Credentials()
        self.manager = manager or parse_manager_conf(manager_conf(creds.username, secret=creds.secret))
        self.allowed_peers = frozenset(allowed_peers)
        self.refused = 0
        self.sessions: set[_Session] = set()
        self.down_until = 0.0
        self.actions: Counter[str] = Counter()  # actions received, by lower-case name
        self.taps = AudioSocketTaps(pbx)  # live taps (Originate of AudioSocket/... running ChanSpy)
        super().__init__(address, _Session)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def verify_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: tuple[str, int] | str) -> bool:
        peer = client_address[0] if isinstance(client_address, tuple) else str(client_address)
        if peer in self.allowed_peers:
            return True
        self.refused += 1
        log.warning("AMI connection from %s refused: not a permitted peer", peer)
        return False

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        sock = request if isinstance(request, socket.socket) else request[1]
        try:
            linger = sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)
            reset = struct.unpack("ii", linger)[0] == 1
        except OSError:
            reset = False
        if reset:
            sock.close()  # no FIN first: the peer sees a reset
        else:
            super().shutdown_request(request)

    def broadcast_security(self, event: str, account: str, remote: tuple[str, int]) -> None:
        now = time.time()
        host, port = str(self.server_address[0]), int(self.server_address[1])
        fields: Fields = [("Event", event), ("Privilege", "security,all"), ("EventTV", _tv(now)),
                          ("Severity", "Informational" if event == "SuccessfulAuth" else "Error"),
                          ("Service", "AMI"), ("EventVersion", "1" if event == "SuccessfulAuth" else "2"),
                          ("AccountID", account), ("SessionID", f"0x{id(remote) & 0xFFFFFFFFFFFF:x}"),
                          ("LocalAddress", f"IPV4/TCP/{host}/{port}"),
                          ("RemoteAddress", f"IPV4/TCP/{remote[0]}/{remote[1]}")]
        if event == "SuccessfulAuth":
            fields += [("UsingPassword", "0"), ("SessionTV", _tv(now))]
        else:
            fields += [("SessionTV", "1970-01-01T00:00:00.000+0000")]
        self.pbx.emit([fields])

    def restart_pbx(self, *, crash: bool = False, down_s: float = 0.5) -> list[str]:
        """`core stop now` (or a crash), `down_s` seconds down, then a fresh boot. Returns the
        linkedids of the calls that were live."""
        live = self.pbx.stop_calls(crash=crash)
        if crash:
            for s in list(self.sessions):
                s.reset()
        else:
            time.sleep(0.05)
            self.pbx.emit([[("Event", "Shutdown"), ("Privilege", "system,all"), ("Shutdown", "Cleanly"),
                            ("Restart", "False")]])
            time.sleep(0.05)
            for s in list(self.sessions):
                s.close()
        self.down_until = time.time() + down_s
        time.sleep(down_s)
        self.pbx.reboot()
        return live

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="ami-sim-server", daemon=True)
        thread.start()
        return thread

    def shutdown_all(self) -> None:
        self.taps.stop()
        for s in list(self.sessions):
            s.close()
        self.shutdown()
        self.server_close()
