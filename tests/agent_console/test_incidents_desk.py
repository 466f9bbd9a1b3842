"""The incidents desk (突发事件) and rewards and penalties (奖罚) from any source through the pages (Flask test
client, SQLite and PostgreSQL): an inspector records an incident, takes it in hand, records measures and closes
it; refused steps and bad input change nothing; agents can neither record incidents nor sanctions; a penalty
decided from a complaint or a claim is shown on its page and marked collected (已收缴) once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from cases import claims as cl
from cases import complaints as co
from cases.audit import audit_for
from cases.db import Database
from cases.incidents import get_incident
from cases.models.incidents import Incident
from cases.models.workflows import Sanction
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console


@pytest.fixture
def db(db_both: Database) -> Database:
    return db_both


def _count(console: Console, model: type[Incident] | type[Sanction]) -> int:
    with console.db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _complaint_and_claim(console: Console) -> tuple[tuple[int, str], tuple[int, str]]:
    with console.db.session() as s:
        c = co.open_complaint(s, CaseInput(kind="complaint", subject="司机态度恶劣"), complaint_type="attitude",
                              branch="郑州分公司", by="agent1001")
        k = cl.open_claim(s, CaseInput(kind="claim", subject="车辆侧翻货损"), channel="hotline",
                          accident_cause="traffic_accident", claimed="3000.00", branch="郑州分公司", by="agent1001")
    return (c.id, c.case_number), (k.id, k.case_number)


INCIDENT_FORM = {"kind": "traffic_accident", "occurred_at": "2026-11-30T08:30", "branch": "郑州分公司",
                 "place": "京港澳高速 K689", "description": "干线车辆追尾，车上货物部分受损", "people": "司机 王强",
                 "reported_by": "司机 王强"}


def test_an_inspector_records_handles_and_closes_an_incident(console: Console) -> None:
    (_, complaint_no), (claim_id, claim_no) = _complaint_and_claim(console)
    inspector = console.login("inspector")
    resp = inspector.post("/incidents", data=INCIDENT_FORM | {"case_number": f" {claim_no} "})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    iid = int(resp.headers["Location"].split("/incidents/")[1].split("?")[0])
    page = inspector.get(resp.headers["Location"]).get_data(as_text=True)
    assert "交通事故" in page and "已上报" in page and claim_no in page and f"/claims/{claim_id}" not in page
    assert inspector.get("/incidents").status_code == 200
    assert f"#{iid}" in inspector.get("/incidents?stage=reported").get_data(as_text=True)
    assert f"#{iid}" not in inspector.get("/incidents?stage=closed").get_data(as_text=True)
    # closing before anyone took it in hand: refused with the standard's words, nothing changed
    resp = inspector.post(f"/incidents/{iid}/close", data={"result": "已处理"})
    assert resp.status_code == 409 and "不能执行「处理完毕」" in resp.get_data(as_text=True)
    assert inspector.post(f"/incidents/{iid}/handle", data={"measure": "通知保险公司到场"}).status_code == 303
    assert inspector.post(f"/incidents/{iid}/add_measure", data={"measure": ""}).status_code == 400
    assert inspector.post(f"/incidents/{iid}/add_measure", data={"measure": "调派车辆转运货物"}).status_code == 303
    assert inspector.post(f"/incidents/{iid}/close", data={"result": "货物已转运，损失由保险理赔"}).status_code == 303
    assert inspector.post(f"/incidents/{iid}/no_such_step", data={}).status_code == 404
    assert inspector.post("/incidents/9999/close", data={"result": "x"}).status_code == 404
    with console.db.reading() as s:
        view = get_incident(s, iid)
        trail = [a.what for a in audit_for(s, "incident", iid)]
    assert (view.stage.value, view.handled_by, view.case_number) == ("closed", "inspector", claim_no)
    assert [m.measure for m in view.measures] == ["通知保险公司到场", "调派车辆转运货物"]
    assert trail == ["incident.record", "incident.handle", "incident.add_measure", "incident.close"]
    page = inspector.get(f"/incidents/{iid}?lang=en").get_data(as_text=True)
    assert "Traffic accident" in page and "Handled and closed" in page and "调派车辆转运货物" in page
    # a supervisor sees the incident too, with a link to the claim's page
    page = console.login("supervisor").get(f"/incidents/{iid}").get_data(as_text=True)
    assert f"/claims/{claim_id}" in page and complaint_no not in page


@pytest.mark.parametrize(("field", "value", "why"), [
    ("occurred_at", (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "in the future"),
    ("occurred_at", "yesterday", "not a date and time"),
    ("kind", "earthquake", "not one of"),
    ("description", "", "description is required"),
    ("reported_by", "  ", "reported_by is required"),
    ("case_number", "C19990101-0001", "there is no case"),
])
def test_bad_incidents_are_refused_and_nothing_is_stored(console: Console, field: str, value: str, why: str) -> None:
    inspector = console.login("inspector")
    resp = inspector.post("/incidents", data=INCIDENT_FORM | {field: value})
    assert resp.status_code == 400 and why in resp.get_data(as_text=True)
    assert _count(console, Incident) == 0


def test_agents_can_record_neither_incidents_nor_sanctions(console: Console) -> None:
    (complaint_id, complaint_no), _ = _complaint_and_claim(console)
    agent = console.login("agent1001")
    assert agent.get("/incidents").status_code == 403
    assert agent.post("/incidents", data=INCIDENT_FORM).status_code == 403
    assert agent.get("/sanctions").status_code == 403
    resp = agent.post("/sanctions", data={"source": "complaint", "source_ref": complaint_no, "kind": "penalty",
                                          "amount": "100", "branch": "郑州分公司", "reason": "态度恶劣"})
    assert resp.status_code == 403
    assert (_count(console, Incident), _count(console, Sanction)) == (0, 0)
    page = agent.get(f"/complaints/{complaint_id}").get_data(as_text=True)
    assert 'data-testid="sanctions-block"' not in page and "nav-incidents" not in page


def test_penalties_from_a_complaint_and_a_claim_are_shown_there_and_collected_once(console: Console) -> None:
    (complaint_id, complaint_no), (claim_id, claim_no) = _complaint_and_claim(console)
    inspector = console.login("inspector")
    penalty = {"kind": "penalty", "amount": "200", "branch": "郑州分公司", "person": "王强", "reason": "服务态度恶劣"}
    resp = inspector.post("/sanctions", data=penalty | {"source": "complaint", "source_ref": complaint_no})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/sanctions?done=sanction.record")
    # a claim's number given as a complaint, an unknown incident, two amounts of nonsense: refused, nothing stored
    for bad, why in (({"source": "complaint", "source_ref": claim_no}, "is not a complaint"),
                     ({"source": "incident", "source_ref": "#77"}, "there is no incident 77"),
                     ({"source": "claim", "source_ref": claim_no, "amount": "-5"}, ""),
                     ({"source": "inspection", "source_ref": "abc"}, "is not a number")):
        resp = inspector.post("/sanctions", data=penalty | bad)
        assert resp.status_code == 400 and why in resp.get_data(as_text=True), bad
    assert _count(console, Sanction) == 1
    resp = inspector.post("/sanctions", data=penalty | {"source": "complaint", "source_ref": f"#{complaint_id}",
                                                        "kind": "reward", "amount": "10", "reason": "主动道歉"})
    assert resp.status_code == 303  # a complaint by its row number (#) as well as by its 案件号
    # the supervisor decides one from the claim's own page, and goes back there
    supervisor = console.login("supervisor")
    page = supervisor.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert 'data-testid="sanctions-block"' in page and f'value="{claim_no}"' in page
    resp = supervisor.post("/sanctions", data=penalty | {"source": "claim", "source_ref": claim_no, "amount": "500",
                                                         "reason": "装车不牢", "next": f"/claims/{claim_id}"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/claims/{claim_id}?done=sanction.record"
    resp = supervisor.post("/sanctions", data=penalty | {"kind": "reward", "reason": "及时上报", "amount": "50",
                                                         "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/sanctions?done=sanction.record"  # never off the site
    with console.db.reading() as s:
        rows = {x.reason: (x.id, x.complaint_id, x.claim_id, x.decided_by) for x in s.scalars(select(Sanction))}
    assert rows["服务态度恶劣"][1:] == (complaint_id, None, "inspector")
    assert rows["装车不牢"][1:] == (None, claim_id, "supervisor")
    assert rows["及时上报"][1:] == (None, None, "supervisor")
    assert rows["主动道歉"][1:] == (complaint_id, None, "inspector")
    page = supervisor.get(f"/complaints/{complaint_id}").get_data(as_text=True)
    assert "服务态度恶劣" in page and "未收缴" in page and "装车不牢" not in page
    # collected once; a second time, or a reward, is refused
    pid, rid = rows["服务态度恶劣"][0], rows["及时上报"][0]
    resp = inspector.post(f"/sanctions/{pid}/collect", data={"next": f"/complaints/{complaint_id}"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/complaints/{complaint_id}?done=sanction.collect"
    again = inspector.post(f"/sanctions/{pid}/collect", data={})
    assert again.status_code == 400 and "already collected" in again.get_data(as_text=True)
    assert inspector.post(f"/sanctions/{rid}/collect", data={}).status_code == 400
    assert inspector.post("/sanctions/9999/collect", data={}).status_code == 404
    with console.db.reading() as s:
        collected = s.get(Sanction, pid)
        assert collected is not None and collected.collected_by == "inspector"
        assert [a.what for a in audit_for(s, "sanction", pid)] == ["sanction.record", "sanction.collect"]
    page = inspector.get("/sanctions?uncollected=1").get_data(as_text=True)
    assert "装车不牢" in page and "服务态度恶劣" not in page and "及时上报" not in page and "主动道歉" not in page
    page = inspector.get("/sanctions").get_data(as_text=True)
    cell = re.search(rf'data-testid="sanction-source-{pid}">(.*?)</td>', page, re.S)
    assert cell is not None and re.sub(r"<[^>]+>|\s+", "", cell.group(1)) == f"投诉{complaint_no}"
    assert f'href="/complaints/{complaint_id}"' in cell.group(1)  # inspectors work complaints too (监察主管3)
    assert "已收缴" in page


def test_the_reports_page_shows_decider_source_collection_and_incidents(console: Console) -> None:
    (complaint_id, complaint_no), _ = _complaint_and_claim(console)
    inspector = console.login("inspector")
    assert inspector.post("/incidents", data=INCIDENT_FORM).status_code == 303
    assert inspector.post("/sanctions", data={"source": "complaint", "source_ref": complaint_no, "kind": "penalty",
                                              "amount": "80", "branch": "郑州分公司", "reason": "态度恶劣"}
                          ).status_code == 303
    until = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()  # the sanction is decided now
    page = inspector.get("/reports", query_string={"name": "inspections-monthly", "from": "2026-11-01",
                                                   "until": until}).get_data(as_text=True)
    assert "突发事件明细" in page and "京港澳高速 K689" in page and "处罚未收缴" in page
    assert complaint_no in page and "决定人" in page and ">inspector<" in page
