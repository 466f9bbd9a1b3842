"""Real captures as successive connections, for the replay and resync tests.

`read_capture` splits a capture into its messages, each with the time it was received (its timeline);
`cut` makes two connections of one capture with a cut between them, the second beginning as the
live listener's connections begin: a login, then the CoreShowChannels and QueueStatus answers of
the state the stream had reached (`snapshot_answers`, built from the capture's own events, as the
real Asterisk would have answered at that point), then the rest of the stream. `Capture.write`
saves a connection as `NAME.ami` + `NAME.timeline.tsv` for `hotline replay`.

`live_records` plays the same connections to the live listener (`AmiClient` + `resync` +
`CallTracker`) over loopback TCP, one capture per connection, and returns the calls it stored: what
replay must give for the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from loopback import free_port

from telephony.calls import CallTracker
from telephony.connection import AmiClient, AmiEndpoint
from telephony.events import CallEnded, DomainEvent
from telephony.frames import FrameParser, Message, parse_all
from telephony.records import CallRecord
from telephony.resync import resync

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
# the CoreShowChannel fields Asterisk 20 takes from the channel's own snapshot (trace 05)
CHANNEL_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid",
                "Linkedid", "ChanVariable")
WAIT_S = 30.0


@dataclass(frozen=True)
class Frame:
    raw: bytes  # one message, its blank line included
    at: float  # when it was received
    msg: Message

    @classmethod
    def of(cls, raw: bytes, at: float) -> Frame:
        return cls(raw, at, parse_all(raw)[0])


@dataclass(frozen=True)
class Capture:
    banner: bytes
    frames: tuple[Frame, ...]

    def write(self, folder: Path, name: str) -> Path:
        """`NAME.ami` and its `NAME.timeline.tsv` (one recv row per message); the .ami's path."""
        ami = folder / f"{name}.ami"
        ami.write_bytes(self.banner + b"".join(f.raw for f in self.frames))
        out = io.StringIO()
        rows = csv.writer(out, delimiter="\t", lineterminator="\n")
        rows.writerow(["t_rel", "unix_time", "direction", "offset", "length", "note"])
        start = self.frames[0].at
        rows.writerow([0.0, start, "recv", 0, len(self.banner), ""])
        offset = len(self.banner)
        for f in self.frames:
            rows.writerow([round(f.at - start, 6), f.at, "recv", offset, len(f.raw), ""])
            offset += len(f.raw)
        (folder / f"{name}.timeline.tsv").write_text(out.getvalue())
        return ami


def read_capture(ami: Path) -> Capture:
    """A capture (`.ami` or `.ami.gz` with its timeline) as its banner and its messages."""
    data = ami.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    stem = ami.name.removesuffix(".gz").removesuffix(".ami")
    tsv = ami.with_name(f"{stem}.timeline.tsv")
    text = tsv.read_text() if tsv.exists() else gzip.decompress(tsv.with_suffix(".tsv.gz").read_bytes()).decode()
    banner = data[: data.index(b"\r\n") + 2]
    frames: list[Frame] = []
    buf = b""
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        if row["direction"] != "recv":
            continue
        start, length = int(row["offset"]), int(row["length"])
        buf += data[max(start, len(banner)): start + length]
        *whole, buf = buf.split(b"\r\n\r\n")
        frames += [Frame.of(raw + b"\r\n\r\n", float(row["unix_time"])) for raw in whole if raw]
    assert not buf, f"{ami}: ends inside a message"
    return Capture(banner, tuple(frames))


def _frame(fields: Sequence[tuple[str, str]], at: float) -> Frame:
    return Frame.of("".join(f"{k}: {v}\r\n" for k, v in fields).encode() + b"\r\n", at)


def _list(action_id: str | None, message: str, items: list[list[tuple[str, str]]], complete: str,
          at: float) -> list[Frame]:
    aid = [("ActionID", action_id)] if action_id is not None else []
    out = [_frame([("Response", "Success"), *aid, ("EventList", "start"), ("Message", message)], at)]
    out += [_frame([("Event", item[0][1]), *aid, *item[1:]], at) for item in items]
    out.append(_frame([("Event", complete), *aid, ("EventList", "Complete"), ("ListItems", str(len(items)))], at))
    return out


def snapshot_answers(frames: Sequence[Frame], channels_id: str | None, queues_id: str | None) -> list[Frame]:
    """The CoreShowChannels then QueueStatus answers (with these ActionIDs; None: none, as Asterisk
    answers an action sent without one) of the state the events of `frames` leave: the channels not
    hung up, with their last snapshot fields, dialplan application, bridge and age; the callers
    waiting in queues; the queue members as their last status event left them."""
    chans: dict[str, dict[str, str]] = {}
    born: dict[str, float] = {}
    apps: dict[str, tuple[str, str]] = {}
    bridges: dict[str, str] = {}
    waiting: dict[str, dict[str, Frame]] = {}  # queue -> uniqueid -> its QueueCallerJoin, in order
    members: dict[tuple[str, str], Message] = {}
    at = frames[-1].at
    for f in frames:
        m = f.msg
        ev, uid = m.event, m.get("Uniqueid")
        if ev is None:
            continue
        if ev == "Newchannel":
            chans[uid], born[uid] = {}, f.at
        if uid in chans:
            chans[uid].update({k: m[k] for k in CHANNEL_KEYS if k in m})
        if ev == "Newexten":
            apps[uid] = (m.get("Application"), m.get("AppData"))
        elif ev == "BridgeEnter":
            bridges[uid] = m.get("BridgeUniqueid")
        elif ev == "BridgeLeave":
            bridges.pop(uid, None)
        elif ev == "Hangup":
            chans.pop(uid, None)
        elif ev == "QueueCallerJoin":
            waiting.setdefault(m.get("Queue"), {})[uid] = f
        elif ev in ("QueueCallerLeave", "QueueCallerAbandon"):
            waiting.get(m.get("Queue"), {}).pop(uid, None)
        elif ev in ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause"):
            members[(m.get("Queue"), m.get("Interface"))] = m
        elif ev == "QueueMemberRemoved":
            members.pop((m.get("Queue"), m.get("Interface")), None)
    channel_items = []
    for uid, fields in chans.items():
        app, data = apps.get(uid, ("", ""))
        age = int(at - born[uid])
        duration = f"{age // 3600:02}:{age // 60 % 60:02}:{age % 60:02}"
        channel_items.append([("Event", "CoreShowChannel"), *fields.items(), ("Application", app),
                              ("ApplicationData", data), ("Duration", duration), ("BridgeId", bridges.get(uid, ""))])
    queue_items: list[list[tuple[str, str]]] = []
    for q in sorted({q for q, _ in members} | set(waiting)):
        queue_items.append([("Event", "QueueParams"), ("Queue", q), ("Calls", str(len(waiting.get(q, {}))))])
        for (mq, iface), m in members.items():
            if mq == q:
                queue_items.append([("Event", "QueueMember"), ("Queue", q), ("Name", m.get("MemberName")),
                                    ("Location", iface), ("StateInterface", iface), ("InCall", m.get("InCall")),
                                    ("Status", m.get("Status")), ("Paused", m.get("Paused")),
                                    ("PausedReason", m.get("PausedReason")), ("CallsTaken", m.get("CallsTaken"))])
        for pos, (uid, join) in enumerate(waiting.get(q, {}).items(), start=1):
            queue_items.append([("Event", "QueueEntry"), ("Queue", q), ("Position", str(pos)),
                                ("Channel", join.msg.get("Channel")), ("Uniqueid", uid),
                                ("CallerIDNum", join.msg.get("CallerIDNum")),
                                ("CallerIDName", join.msg.get("CallerIDName")), ("Wait", str(int(at - join.at)))])
    return (_list(channels_id, "Channels will follow", channel_items, "CoreShowChannelsComplete", at)
            + _list(queues_id, "Queue status will follow", queue_items, "QueueStatusComplete", at))


def login_frame(whole: Capture) -> Frame:
    first = whole.frames[0]
    assert first.msg.response == "Success" and first.msg.action_id is not None, "a capture begins with its login"
    return first


def cut(whole: Capture, lost_from: int, lost_until: int, ids: tuple[str | None, str | None],
        down_s: float = 0.5) -> tuple[Capture, Capture]:
    """Connection 1: the messages before `lost_from`. Connection 2, once the ones up to `lost_until` have
    gone by unseen: a login, the snapshot answers of the state they left, the rest."""
    assert 0 < lost_from <= lost_until < len(whole.frames)
    at = whole.frames[lost_until - 1].at + down_s
    head = replace(login_frame(whole), at=at)
    answers = [replace(f, at=at) for f in snapshot_answers(whole.frames[:lost_until], *ids)]
    rest = tuple(f if f.at >= at else replace(f, at=at) for f in whole.frames[lost_until:])
    return (Capture(whole.banner, whole.frames[:lost_from]),
            Capture(whole.banner, (head, *answers, *rest)))


# ---------------------------------------------------------------------------------------------- live


def _with_action_id(raw: bytes, action_id: str) -> bytes:
    lines = raw.split(b"\r\n")
    kept = [ln for ln in lines if not ln.startswith(b"ActionID: ")]
    return b"\r\n".join([kept[0], b"ActionID: " + action_id.encode(), *kept[1:]])


class RecordedAmiServer:
    """An AMI port that plays one capture per connection to a live client. The client's resync is
    answered with the capture's own snapshot answers, which must follow its login (as the live
    listener asks them, and as `cut` makes them); a capture without any gets empty ones, which says
    the PBX had no channel at that login (true of a capture in which every call begins). Responses
    to the capturing client's other actions are not played: this client never asked them. Every
    connection but the last is closed by the server after its last message, as Asterisk closed it."""

    def __init__(self, captures: Sequence[Capture]) -> None:
        self._captures = list(captures)
        self._listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self._listener.getsockname()[1]
        self.played = 0  # connections whose every message was sent
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorded-ami", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            for i, capture in enumerate(self._captures):
                sock, _ = self._listener.accept()
                with sock:
                    self._play(sock, capture, last=i == len(self._captures) - 1)
        except OSError as exc:
            if not self._stop.is_set():
                self.errors.append(str(exc))
        except AssertionError as exc:
            self.errors.append(str(exc))

    def _play(self, sock: socket.socket, capture: Capture, last: bool) -> None:
        actions: queue.Queue[Message] = queue.Queue()
        lock = threading.Lock()

        def send(raw: bytes) -> None:
            with lock:
                sock.sendall(raw)

        def read() -> None:
            parser = FrameParser()
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                for m in parser.feed(data):
                    if m.get("Action") != "Ping":
                        actions.put(m)
                        continue
                    try:
                        send(_with_action_id(b"Response: Success\r\nPing: Pong\r\n\r\n", m.get("ActionID")))
                    except OSError:
                        return

        def asked(action: str) -> str:
            m = actions.get(timeout=WAIT_S)
            assert m.get("Action") == action, f"expected {action}, the client sent {m.get('Action')}"
            return m.get("ActionID")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        send(capture.banner)
        send(_with_action_id(login_frame(capture).raw, asked("Login")))
        frames = list(capture.frames[1:])
        for action, complete, message in (("CoreShowChannels", "CoreShowChannelsComplete", "Channels will follow"),
                                          ("QueueStatus", "QueueStatusComplete", "Queue status will follow"),
                                          ("QueueSummary", "QueueSummaryComplete", "Queue summary will follow")):
            aid = asked(action)
            answer: list[Frame] = []
            if frames and frames[0].msg.get("EventList") == "start":
                end = next(i for i, f in enumerate(frames) if f.msg.event == complete)
                answer, frames = frames[: end + 1], frames[end + 1:]
            for f in answer or _list(None, message, [], complete, 0.0):
                send(_with_action_id(f.raw, aid))
        for f in frames:
            if f.msg.event is not None:
                send(f.raw)
        self.played += 1
        if last:
            self._stop.wait()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the client sees the end now (a bare close waits for the reader)
        except OSError:
            pass  # the client went first
        reader.join(5)


def live_records(captures: Sequence[Capture], check: Callable[[CallTracker], None] | None = None) -> list[CallRecord]:
    """The calls the live listener stores when it gets these captures as successive connections: its
    client, resync and tracker as `hotline serve` runs them; the calls still open at the end are closed
    as replay closes them (`close_all`)."""
    records: list[CallRecord] = []

    def publish(event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            records.append(event.record)

    server = RecordedAmiServer(captures)
    server.start()
    tracker = CallTracker(publish)
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), tracker.feed,
                       on_connected=lambda conn: resync(conn, tracker), backoff_initial=0.05)
    client.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not (server.played == len(captures) and tracker.resyncs == len(captures)):
            assert not server.errors, server.errors
            assert time.monotonic() < deadline, (server.played, tracker.resyncs, server.errors)
            time.sleep(0.01)
        assert client.conn is not None
        client.conn.send_action("Ping", timeout=WAIT_S)  # every message before its answer has been fed
        if check is not None:
            check(tracker)
    finally:
        client.stop()
        server.stop()
    tracker.close_all()
    return records
