"""Referrals to every department over HTTP, on SQLite and PostgreSQL: each department's desk shows only
the referrals routed to it (a warehouse user only the warehouse's, a branch user only its branch's,
whatever branch was typed with the complaint), the centre verifies or sends back the answer, and the
inspection supervisor (监察主管) takes and resolves a complaint from recording to closing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from cases import complaints as co
from cases.accounts import create_user
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console


@pytest.fixture
def db(db_both: Database) -> Database:
    return db_both


def _later(hours: int = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M+00:00")


def _referred(console: Console, subject: str, reported: str, department: str, unit: str | None = None) -> int:
    with console.db.session() as s:
        c = co.open_complaint(s, CaseInput(kind="complaint", subject=subject), complaint_type="damage",
                              branch=reported, by="agent1001")
        co.analyse(s, c.id, cause="handling", responsible_department=department, by="agent1001")
        co.refer(s, c.id, department=department, unit=unit, deadline=datetime.now(UTC) + timedelta(days=1),
                 by="agent1001")
        return c.id


def test_each_department_sees_only_its_own_referrals(console: Console) -> None:
    wh = _referred(console, "仓库装卸破损", "郑州分公司", "warehouse")
    zz = _referred(console, "郑州派送延误", "郑州分公司", "branch")
    elsewhere = _referred(console, "登记为郑州，实为上海责任", "郑州分公司", "branch", unit="上海分公司")
    settle = _referred(console, "运费结算有误", "郑州分公司", "settlement")

    warehouse = console.login("warehouse")
    assert warehouse.get("/").headers["Location"].endswith("/branch")
    page = warehouse.get("/branch").get_data(as_text=True)
    assert f'data-testid="referral-{wh}"' in page and "仓库装卸破损" in page and "仓管" in page
    for other in (zz, elsewhere, settle):
        assert f'data-testid="referral-{other}"' not in page
    assert 'data-testid="branch-claims"' not in page and 'data-testid="branch-self-settled"' not in page
    for other in (zz, elsewhere, settle):
        assert warehouse.post(f"/branch/complaints/{other}/answer", data={"rectification": "x"}).status_code == 403
    assert warehouse.post("/branch/complaints/99999/answer", data={"rectification": "x"}).status_code == 404
    assert warehouse.post("/branch/self-settled", data={"settled_by": "driver", "issue": "damage",
                                                        "settled_at": "2026-11-20T15:00"}).status_code == 403
    assert warehouse.post(f"/branch/complaints/{wh}/answer",
                          data={"rectification": "已对装卸工培训，破损件重新包装"}).status_code == 303

    branch = console.login("branch_zz")
    page = branch.get("/branch").get_data(as_text=True)
    assert f'data-testid="referral-{zz}"' in page
    for other in (wh, elsewhere, settle):
        assert f'data-testid="referral-{other}"' not in page
    assert branch.post(f"/branch/complaints/{elsewhere}/answer", data={"rectification": "x"}).status_code == 403
    assert 'data-testid="branch-claims"' in page  # a branch still has its claims and rectification tasks

    with console.db.session() as s:
        create_user(s, "sh1", DEMO_PASSWORD, "branch", "上海", branch="上海分公司")
        create_user(s, "js1", DEMO_PASSWORD, "branch", "结算", department="settlement")
    page = console.login("sh1").get("/branch").get_data(as_text=True)
    assert f'data-testid="referral-{elsewhere}"' in page and f'data-testid="referral-{zz}"' not in page
    page = console.login("js1").get("/branch").get_data(as_text=True)
    assert f'data-testid="referral-{settle}"' in page and "结算" in page
    with console.db.reading() as s:
        assert co.get_complaint(s, wh).stage.value == "rectified"
        assert {co.get_complaint(s, x).stage.value for x in (zz, elsewhere, settle)} == {"referred"}


def test_the_centre_sends_back_and_verifies_on_the_desk(console: Console) -> None:
    cid = _referred(console, "破损未处理", "郑州分公司", "warehouse")
    warehouse = console.login("warehouse")
    warehouse.post(f"/branch/complaints/{cid}/answer", data={"rectification": "已处理"})
    supervisor = console.login("supervisor")
    r = supervisor.post(f"/complaints/{cid}/send_back", data={"note": "", "deadline": _later()})
    assert r.status_code == 400 and "请填写必填项" in r.get_data(as_text=True)
    r = supervisor.post(f"/complaints/{cid}/send_back", data={"note": "未说明如何处理", "deadline": _later(48)})
    assert r.status_code == 303
    page = warehouse.get("/branch").get_data(as_text=True)
    assert f'data-testid="sent-back-{cid}"' in page and "未说明如何处理" in page and "已处理" in page
    warehouse.post(f"/branch/complaints/{cid}/answer", data={"rectification": "破损件已补发，装卸工已培训"})
    assert 'data-testid="referrals-answered"' in warehouse.get("/branch").get_data(as_text=True)
    assert supervisor.post(f"/complaints/{cid}/verify", data={"note": "已核实补发单"}).status_code == 303
    page = supervisor.get(f"/complaints/{cid}").get_data(as_text=True)
    assert 'data-testid="complaint-verified"' in page and "已核实补发单" in page and "整改已验证" in page
    assert f'data-testid="referral-{cid}"' not in warehouse.get("/branch").get_data(as_text=True)


def test_an_inspection_supervisor_takes_and_resolves_a_complaint(console: Console) -> None:
    inspector = console.login("inspector")
    assert inspector.get("/complaints").status_code == 200
    resp = inspector.post("/complaints", data={"subject": "司机索要额外费用", "complaint_type": "charges",
                                               "branch": "郑州分公司"})
    assert resp.status_code == 303
    cid = int(re.search(r"/complaints/(\d+)", resp.headers["Location"]).group(1))  # type: ignore[union-attr]
    page = inspector.get(f"/complaints/{cid}").get_data(as_text=True)
    # before any investigation the typed branch is only the branch concerned, not the responsible one
    assert "相关分公司（登记时）" in page and 'data-testid="complaint-responsible-department"' not in page
    assert "责任分公司" not in page.split('data-testid="complaint-next"')[0]

    def step(action: str, **form: str) -> None:
        r = inspector.post(f"/complaints/{cid}/{action}", data=form)
        assert r.status_code == 303, (action, r.get_data(as_text=True)[:3000])

    step("analyse", cause="staff_attitude", responsible_department="trunk_vehicle", responsible_unit="郑州分公司",
         analysis="干线司机私自加价")
    page = inspector.get(f"/complaints/{cid}").get_data(as_text=True)
    assert 'data-testid="complaint-responsible-department"' in page and "干线车辆" in page
    assert 'data-testid="complaint-responsible-unit"' not in page  # trunk vehicles are referred as a whole
    step("refer", department="trunk_vehicle", unit="", deadline=_later(), note="请核实并退还")
    with console.db.session() as s:
        co.confirm_rectification(s, cid, rectification="已退还客户 50 元，司机罚款", by="inspector")
    step("verify", note="客户确认收到退款")
    step("tell_customer", reply="已告知客户退款及处理结果")
    step("follow_up", outcome="unreachable", note="无人接听")
    with console.db.reading() as s:
        assert co.get_complaint(s, cid).stage.value == "customer_told"
    r = inspector.post(f"/complaints/{cid}/follow_up", data={"outcome": "maybe"})
    assert r.status_code == 400 and "选项无效" in r.get_data(as_text=True)
    step("follow_up", outcome="satisfied", note="客户满意")
    step("close")
    with console.db.reading() as s:
        view = co.get_complaint(s, cid)
    assert view.stage.value == "closed" and [f.outcome.value for f in view.follow_ups] == ["unreachable", "satisfied"]
    assert {f.called_by for f in view.follow_ups} == {"inspector"}
    page = inspector.get(f"/complaints/{cid}?lang=en").get_data(as_text=True)
    assert "Follow-up calls" in page and "Branch concerned (as reported)" in page
