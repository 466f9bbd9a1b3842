"""Shipment sources: the embedded table and a transport-management system over HTTP JSON.

The HTTP source is tested against a real HTTP server on loopback (http.server in a thread) that
serves the contract of docs/shipments.md, and misbehaves on purpose: slow answers, 404, 500,
malformed JSON, wrong content type, wrong fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cases.caller_context import caller_context
from cases.db import Database
from cases.errors import InvalidWaybill, ShipmentSourceBadAnswer, ShipmentSourceUnreachable, UnknownWaybill
from cases.shipment_records import create_shipment
from cases.shipment_sources import EMBEDDED, HttpShipmentSource, HttpSourceSettings, find_via, make_source
from cases.views import ShipmentEventInput, ShipmentInput, WaybillLookup
from hotline_cli.config import ConfigError, load_settings, shipment_source
from tests.fake_tms import TMS_SHIPMENT, Tms, serve_tms


@pytest.fixture
def tms() -> Iterator[tuple[Tms, str]]:
    with serve_tms() as served:
        yield served


def _source(base: str, *, timeout: float = 2.0, fallback: bool = False, token: str = "") -> HttpShipmentSource:
    return HttpShipmentSource(HttpSourceSettings(base, timeout, token, fallback))


def _embedded(db: Database, waybill: str = "800012345678") -> None:
    with db.session() as s:
        create_shipment(
            s,
            ShipmentInput(
                waybill=waybill, origin="上海", destination="郑州", consignee_name="本地表",
                events=(ShipmentEventInput(at=datetime(2026, 11, 28, 1, tzinfo=UTC), status="已揽收"),),
            ),
        )


def test_http_source_reads_the_contract(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    state.json("800012345678", TMS_SHIPMENT)
    with db.reading() as s:
        sh = _source(base, token="t0ken").lookup(s, " 800012345678 ")
    assert sh.id == 0 and sh.waybill == "800012345678" and sh.status == "派送中"
    assert (sh.shipper_name, sh.shipper_phone, sh.consignee_phone) == ("华通电子", "862155551003", "13900139002")
    assert [e.status for e in sh.events] == ["已揽收", "派送中"]  # sorted by time
    assert sh.events[0].at == datetime(2026, 11, 28, 1, 0, tzinfo=UTC) and sh.events[1].note == "派送员 王五"
    assert sh.created_at == sh.events[0].at and sh.updated_at == sh.events[1].at
    assert state.requests == [("/api/v1/shipments/800012345678", "Bearer t0ken")]


def test_unknown_waybill_is_named_and_invalid_waybills_never_leave(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    source = _source(base)
    with db.reading() as s:
        with pytest.raises(UnknownWaybill, match="has no waybill 800012345699"):
            source.lookup(s, "800012345699")
        assert find_via(source, s, "800012345699") is None
        with pytest.raises(InvalidWaybill):
            source.lookup(s, "12/../admin")
    assert [p for p, _ in state.requests] == ["/api/v1/shipments/800012345699"] * 2


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ((500, "text/plain", b"boom"), ShipmentSourceBadAnswer, "HTTP 500"),
        ((503, "application/json", b"{}"), ShipmentSourceBadAnswer, "HTTP 503"),
        ((200, "application/json", b'{"waybill": "8000123456'), ShipmentSourceBadAnswer, "not valid JSON"),
        ((200, "text/html", b"<html>login</html>"), ShipmentSourceBadAnswer, "text/html, not application/json"),
        ((200, "application/json", b"[1, 2]"), ShipmentSourceBadAnswer, "not a JSON object"),
        ((200, "application/json", b'{"waybill": "800012345600"}'), ShipmentSourceBadAnswer, "asked for"),
        ((200, "application/json", json.dumps({**TMS_SHIPMENT, "events": [{"at": "2026-11-28 09:00",
          "status": "已揽收"}]}).encode()), ShipmentSourceBadAnswer, "no UTC offset"),
        ((200, "application/json", json.dumps({**TMS_SHIPMENT, "status": 3}).encode()), ShipmentSourceBadAnswer,
         "field 'status' is not a string"),
    ],
)
def test_bad_answers_are_named(
    db: Database, tms: tuple[Tms, str], answer: tuple[int, str, bytes], error: type[Exception], message: str
) -> None:
    state, base = tms
    state.raw("800012345678", *answer)
    with db.reading() as s, pytest.raises(error, match=message):
        _source(base).lookup(s, "800012345678")


def test_timeout_and_refused_connection_are_unreachable(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    state.json("800012345678", TMS_SHIPMENT, delay=1.5)
    with db.reading() as s:
        with pytest.raises(ShipmentSourceUnreachable, match="timed out"):
            _source(base, timeout=0.3).lookup(s, "800012345678")
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        with pytest.raises(ShipmentSourceUnreachable, match="refused"):
            _source(f"http://127.0.0.1:{closed}/api").lookup(s, "800012345678")


def test_fallback_to_embedded_table_only_when_configured(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    _embedded(db)
    state.raw("800012345678", 500, "text/plain", b"down")
    with db.reading() as s:
        with pytest.raises(ShipmentSourceBadAnswer):
            _source(base).lookup(s, "800012345678")
        got = _source(base, fallback=True).lookup(s, "800012345678")
        assert got.consignee_name == "本地表" and got.id > 0
        # the TMS is authoritative about what it knows: a 404 is not retried in the embedded table
        state.answers.clear()
        with pytest.raises(UnknownWaybill):
            _source(base, fallback=True).lookup(s, "800012345678")


def test_caller_context_uses_the_source_and_reports_unavailable(db: Database, tms: tuple[Tms, str]) -> None:
    state, base = tms
    _embedded(db)
    state.json("800012345678", TMS_SHIPMENT)
    with db.reading() as s:
        ctx = caller_context(s, "13900139002", "800012345678", shipments=_source(base))
        assert ctx.waybill_lookup is WaybillLookup.FOUND and ctx.shipment is not None
        assert ctx.shipment.consignee_name == "李娜"  # the TMS's, not the embedded row's
        ctx = caller_context(s, "13900139002", "800012345679", shipments=_source(base))
        assert ctx.waybill_lookup is WaybillLookup.NOT_FOUND and ctx.shipment is None
        state.json("800012345678", TMS_SHIPMENT, status=502)
        ctx = caller_context(s, "13900139002", "800012345678", shipments=_source(base))
        assert ctx.waybill_lookup is WaybillLookup.UNAVAILABLE and ctx.shipment is None
        ctx = caller_context(s, "13900139002", "800012345678", shipments=EMBEDDED)
        assert ctx.waybill_lookup is WaybillLookup.FOUND and ctx.shipment is not None
        assert ctx.shipment.consignee_name == "本地表"


def test_settings_select_the_source(tmp_path: Path) -> None:
    assert shipment_source(load_settings(None, environ={}).shipments) is EMBEDDED
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('[shipments]\nsource = "http"\nbase_url = "http://tms.local/api"\ntimeout_s = 1\n'
                   'fallback = true\ntoken = "x"\n', encoding="utf-8")
    source = shipment_source(load_settings(cfg, environ={}).shipments)
    assert isinstance(source, HttpShipmentSource)
    assert source.settings == HttpSourceSettings("http://tms.local/api", 1.0, "x", True)
    assert source.fallback is EMBEDDED
    for body, message in [
        ('[shipments]\nsource = "ftp"\n', "is not one of embedded, http"),
        ('[shipments]\nsource = "http"\n', "is not an http(s) URL"),
        ('[shipments]\nsource = "http"\nbase_url = "http://x"\ntimeout_s = 0\n', "must be in (0, 60]"),
        ('[shipments]\nsource = "http"\nbase_url = "http://x"\ntimeout_s = "2"\n', "not a number"),
        ("[shipments]\nurl = 1\n", "unknown [shipments] keys: url"),
        ('[shipments]\nfallback = "yes"\n', "not true or false"),
    ]:
        cfg.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                           .replace("]", r"\]")):
            load_settings(cfg, environ={})
    with pytest.raises(ValueError, match="needs base_url"):
        make_source("http")
