"""The IVR's tracking lookup through a transport-management system (the HTTP JSON shipment source),
against the real FastAGI server and a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cases.shipment_sources import HttpShipmentSource, HttpSourceSettings
from ivr.agi_client import AgiCaller, AgiCallResult
from ivr.config import MenuStore
from ivr.flow import IvrFlow
from ivr.server import AgiServer
from tests.fake_tms import TMS_SHIPMENT, Tms, serve_tms
from tests.ivr.conftest import AGI_FIXTURES, OPEN_AT, WAYBILL, IvrWorld

TMS_WAYBILL = str(TMS_SHIPMENT["waybill"])


@pytest.fixture
def tms_ivr(ivr_world: IvrWorld) -> Iterator[tuple[AgiServer, Tms]]:
    with serve_tms() as (state, base):
        state.json(TMS_WAYBILL, TMS_SHIPMENT)
        source = HttpShipmentSource(HttpSourceSettings(base, timeout_s=1.0))
        flow = IvrFlow(MenuStore(ivr_world.menus), ivr_world.db, clock=lambda: OPEN_AT, shipments=source)
        server = AgiServer(flow.handlers(), port=0, default="service")
        with server:
            yield server, state


def _call(server: AgiServer, inputs: list[str]) -> AgiCallResult:
    return AgiCaller("127.0.0.1", server.port, "service", inputs=inputs,
                     sample_wav=AGI_FIXTURES / "agi-03-record-dtmf-085901.wav").run()


def test_tracking_answers_from_the_tms(tms_ivr: tuple[AgiServer, Tms]) -> None:
    server, state = tms_ivr
    r = _call(server, ["1", TMS_WAYBILL + "#", ""])
    assert r.variables["IVR_PATH"] == f"menu=1:tracking>waybill={TMS_WAYBILL}>status=派送中>goodbye"
    assert "hotline/zh/tracking-intro" in r.prompts
    # a waybill only the embedded table knows is unknown to this IVR: the TMS is the source
    r = _call(server, ["1", WAYBILL + "#", "", ""])
    assert r.variables["IVR_PATH"].startswith(f"menu=1:tracking>waybill:not_found={WAYBILL}")


def test_tms_failure_sends_the_caller_to_an_agent(tms_ivr: tuple[AgiServer, Tms]) -> None:
    server, state = tms_ivr
    state.raw(TMS_WAYBILL, 500, "text/plain", b"down")
    r = _call(server, ["1", TMS_WAYBILL + "#"])
    assert r.variables["IVR_NEXT"] == "queue" and r.variables["IVR_QUEUE"] == "service"
    assert r.variables["IVR_PATH"].endswith("error>agent=service")
