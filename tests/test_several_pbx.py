"""Several Asterisks: one AMI link each, one call store, one wallboard."""

from __future__ import annotations

import time
from pathlib import Path

from cases.call_records import get_call
from hotline_cli.config import Settings, load_settings
from hotline_cli.process import build_process
from telephony.connection import AmiEndpoint
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


def test_two_pbxs_feed_one_call_store(tmp_path: Path) -> None:
    pbxs = [SimulatedPbx(recordings_dir=str(tmp_path), time_scale=10.0, seed=i) for i in (1, 2)]
    servers = [AmiServer(("127.0.0.1", 0), p) for p in pbxs]
    for p, s in zip(pbxs, servers, strict=True):
        p.start()
        s.serve_in_thread()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'h.db'}", data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec")
    endpoints = [AmiEndpoint("127.0.0.1", s.port, "hotline", "hotline", name) for s, name in
                 zip(servers, ("beijing", "shanghai"), strict=True)]
    proc = build_process(settings, endpoints, seed=False)
    proc.start()
    try:
        for link in proc.links:
            assert link.client.connected.wait(5)
        # both Asterisks count from the same epoch second and sequence 0: the same Linkedid
        a = pbxs[0].start_call("service_answered", talk_s=20)
        b = pbxs[1].start_call("claims_ringall_agent_hangs_up", talk_s=20)
        assert a.linkedid.split(".")[1] == b.linkedid.split(".")[1] == "0"
        deadline = time.time() + 10
        while proc.live.snapshot().live_calls < 2 and time.time() < deadline:
            time.sleep(0.05)
        snap = proc.live.snapshot()
        assert snap.live_calls == 2 and len(snap.agents) >= 3
        deadline = time.time() + 30
        while proc.pipeline.stored < 2 and time.time() < deadline:
            time.sleep(0.1)
        with proc.db.session() as s:
            ca = get_call(s, f"beijing:{a.linkedid}")
            cb = get_call(s, f"shanghai:{b.linkedid}")
        assert ca is not None and ca.hotline == "service" and ca.outcome == "answered"
        assert cb is not None and cb.hotline == "claims" and cb.outcome == "answered"
        status = proc.status()
        assert [x["name"] for x in status["ami"]] == ["beijing", "shanghai"]
        assert all(x["connected"] and x["resyncs"] >= 1 and x["events"] > 10 for x in status["ami"])
    finally:
        proc.stop()
        for p, s in zip(pbxs, servers, strict=True):
            s.shutdown_all()
            p.stop()


def test_pbx_tables_in_the_settings_file(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text('[[pbx]]\nname = "beijing"\nhost = "127.0.0.1"\nport = 5038\n'
                   '[[pbx]]\nname = "shanghai"\nhost = "127.0.0.2"\nsecret = "x"\n')
    s = load_settings(cfg, environ={})
    assert [(p.name, p.host, p.port) for p in s.pbxs()] == [("beijing", "127.0.0.1", 5038),
                                                           ("shanghai", "127.0.0.2", 5038)]
    assert load_settings(None, environ={}).pbxs()[0].name == "pbx1"
    cfg.write_text('[[pbx]]\nname = "a"\n[[pbx]]\nname = "a"\n')
    import pytest

    from hotline_cli.config import ConfigError

    with pytest.raises(ConfigError, match="unique"):
        load_settings(cfg, environ={})
