"""The servers Asterisk talks to (AMI of the PBX simulator, FastAGI, AudioSocket) bind to loopback by
default and accept only configured peers: a connection from another address (127.0.0.2 here, a
real second source address on the loopback interface) is closed before a byte is exchanged."""

from __future__ import annotations

import socket
import threading
import time
import uuid

from ivr.server import AgiServer
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer
from transcripts.audiosocket import KIND_UUID, AudioSocketServer, RecognizerPool, encode_message
from transcripts.engine import VoskEngine, default_model_dir


def connect_from(source: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


def first_bytes(sock: socket.socket, send: bytes = b"") -> bytes:
    try:
        if send:
            sock.sendall(send)
        return sock.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    finally:
        sock.close()


def wait(cond: object, timeout: float = 5) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_ami_of_the_simulator_binds_loopback_and_refuses_other_peers() -> None:
    server = AmiServer(("127.0.0.1", 0), SimulatedPbx())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        assert server.server_address[0] == "127.0.0.1" and server.allowed_peers == {"127.0.0.1"}
        assert first_bytes(connect_from("127.0.0.1", server.port)).startswith(b"Asterisk Call Manager/")
        assert first_bytes(connect_from("127.0.0.2", server.port)) == b""  # no banner: closed at once
        assert server.refused == 1
    finally:
        server.shutdown()
        server.server_close()
    # configured peers may connect
    other = AmiServer(("127.0.0.1", 0), SimulatedPbx(), allowed_peers=("127.0.0.2",))
    threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        assert first_bytes(connect_from("127.0.0.2", other.port)).startswith(b"Asterisk Call Manager/")
        assert first_bytes(connect_from("127.0.0.1", other.port)) == b""
    finally:
        other.shutdown()
        other.server_close()


def test_fastagi_binds_loopback_and_refuses_other_peers() -> None:
    seen: list[str] = []

    def handler(session: object) -> None:
        seen.append("ran")

    server = AgiServer({"hotline": handler}, port=0)  # type: ignore[dict-item]
    server.serve_in_thread()
    try:
        assert server.host == "127.0.0.1" and server.allowed == {"127.0.0.1"}
        request = b"agi_network: yes\nagi_network_script: hotline\nagi_channel: SIP/x-1\n\n"
        assert first_bytes(connect_from("127.0.0.2", server.port), request) == b""
        assert wait(lambda: server.stats().refused == 1)
        assert server.stats().sessions == 0 and seen == []
        first_bytes(connect_from("127.0.0.1", server.port), request)
        assert wait(lambda: seen == ["ran"])  # the configured Asterisk is served
    finally:
        server.shutdown()


def test_audiosocket_binds_loopback_and_refuses_other_peers() -> None:
    results: list[object] = []
    server = AudioSocketServer(RecognizerPool(VoskEngine(default_model_dir())), lambda *a: results.append(a))
    server.start()
    try:
        assert server.host == "127.0.0.1"
        got = first_bytes(connect_from("127.0.0.2", server.port), encode_message(KIND_UUID, uuid.uuid4().bytes))
        assert got == b""
        assert wait(lambda: server.counters.refused_peer == 1)
        assert server.counters.accepted == 0
        sock = connect_from("127.0.0.1", server.port)
        sock.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes))
        assert wait(lambda: server.counters.accepted == 1)
        sock.close()
    finally:
        server.stop()
