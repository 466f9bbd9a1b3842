"""What the role scenarios share: a call ringing an agent (the pop), the pop's form saved, the call stored as
the listener stores it, report periods around today in the centre's time zone and the reports' JSON."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from cases.call_records import record_call
from cases.demo_data import DEMO_WAYBILLS
from telephony.events import AgentRinging, CallQueued, CallStarted, CallVariable
from telephony.records import CallRecord

if TYPE_CHECKING:
    from conftest import Console

WAYBILL = DEMO_WAYBILLS[0]  # 张伟's shipment 上海 → 郑州; consignee 李娜
CALLER = "49305551001"  # 张伟
TZ = "Asia/Shanghai"


def ring(console: Console, linkedid: str, hotline: str = "service", agent: str = "agent1001",
         at: float | None = None) -> dict[str, Any]:
    """A call from 张伟 with his waybill typed in the IVR rings `agent`: the screen pop it gets."""
    t0 = at if at is not None else datetime.now().timestamp() - 30
    sock = console.socket(console.login(agent))
    console.received(sock, "hello")
    bus = console.bus
    bus.publish(CallStarted(linkedid, CALLER, "ZHANG WEI", "4000100100", hotline, t0))
    bus.publish(CallVariable(linkedid, "WAYBILL", WAYBILL, t0 + 5))
    bus.publish(CallQueued(linkedid, hotline, 1, t0 + 6))
    bus.publish(AgentRinging(linkedid, agent, hotline, CALLER, t0 + 7))
    pop: dict[str, Any] = console.wait_for(sock, "screen_pop", where=lambda p: p["linkedid"] == linkedid)
    sock.disconnect()
    return pop


def save_from_pop(agent: FlaskClient, pop: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The pop's case form as agent.js posts it: the call, waybill and customer, and the kind's own fields."""
    body = {"linkedid": pop["linkedid"], "waybill": pop["waybill"], "customer_id": pop["customer"]["id"], **fields}
    resp = agent.post("/api/cases", json=body)
    assert resp.status_code == 201, resp.get_json()
    answer: dict[str, Any] = resp.get_json()
    return answer


def store_call(console: Console, pop: dict[str, Any], hotline: str = "service", agent: str = "agent1001") -> None:
    """The call's end as the listener stores it (it was linked to its case as pending while live)."""
    t0 = datetime.now().timestamp() - 30
    with console.db.session() as s:
        record_call(s, CallRecord(linkedid=pop["linkedid"], caller=CALLER, hotline=hotline,
                                  outcome="answered", agent=agent, agents=[agent], rang=[agent], talk_s=20.0,
                                  recording=f"{pop['linkedid']}.wav", started_at=t0, answered_at=t0 + 8,
                                  ended_at=t0 + 28, waybill=WAYBILL))


def today() -> date:
    return datetime.now(ZoneInfo(TZ)).date()


def period(days_back: int = 7, days_on: int = 1) -> dict[str, str]:
    """A report period around today in the centre's time zone (form/query fields of /reports)."""
    now = today()
    return {"from": (now - timedelta(days=days_back)).isoformat(),
            "until": (now + timedelta(days=days_on)).isoformat(), "tz": TZ}


def report_json(client: FlaskClient, name: str, when: dict[str, str]) -> Any:
    resp = client.get(f"/reports/{name}/json", query_string=when)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    return json.loads(resp.data)


def text_of(html: str) -> str:
    """The page's text without tags (for sentences split by markup)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
