"""The departments that answer the centre's referrals (role branch, users.department: 仓管 warehouse, 分公司
branch, 结算 settlement, 大客户 key_account …) do their part in the console, over HTTP on SQLite and PostgreSQL.

Steps and the standard's duties they serve (客服中心5 / 监察主管2: 将存在的问题及时反馈到相关部门并监督、检查整改情况;
客服员3.1: 对转到相关部门处理的案例要做好反馈和跟踪确认; 理赔3: 通知责任人赔偿金额):
- the centre refers complaints to the warehouse, to 郑州分公司, to 上海分公司, to settlement and to key accounts;
  each department's desk shows only its own referrals and refuses to answer another's (403);
- the warehouse and 郑州分公司 answer with a rectification (整改), are sent back by the centre with a note and a
  new deadline (the note and their first answer shown), answer again, and are verified; the referral leaves
  their desk; a referral made three days ago with a one-day deadline (time-travel with `at=`) is overdue on
  the desk and in the weekly summary;
- settlement and key accounts answer theirs;
- 郑州分公司 sees what it owes for a claim it is liable for, once the parties are notified; 上海分公司's claim is not
  on its desk.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING

import pytest
from scenario_support import period, report_json

from cases import claims as cl
from cases import complaints as co
from cases.accounts import create_user
from cases.audit import audit_for
from cases.claims import EvidenceStore, LiabilityInput
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.models.base import utcnow
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console
    from flask.testing import FlaskClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def db(db_both: Database) -> Database:
    return db_both


def _deadline(hours: int) -> str:
    return (utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M+00:00")


def _post(client: FlaskClient, url: str, **form: object) -> None:
    resp = client.post(url, data=form)
    assert resp.status_code == 303, (url, resp.get_data(as_text=True)[:2000])


def _refer(agent: FlaskClient, sup: FlaskClient, subject: str, dept: str, unit: str = "") -> int:
    """An agent records the complaint on the desk; the supervisor analyses it and refers it."""
    resp = agent.post("/complaints", data={"subject": subject, "complaint_type": "damage", "branch": "郑州分公司"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    cid = int(resp.headers["Location"].split("/complaints/")[1].split("?")[0])
    _post(sup, f"/complaints/{cid}/analyse", cause="handling", responsible_department=dept, responsible_unit=unit,
          analysis=subject)
    _post(sup, f"/complaints/{cid}/refer", department=dept, unit=unit, deadline=_deadline(24), note="请整改")
    return cid


def _desk(client: FlaskClient) -> str:
    return client.get("/branch").get_data(as_text=True)


def test_departments_answer_their_referrals_are_sent_back_and_see_what_they_owe(console: Console,
                                                                                 tmp_path: object) -> None:
    with console.db.session() as s:
        create_user(s, "js1", DEMO_PASSWORD, "branch", "结算", department="settlement")
        create_user(s, "dkh1", DEMO_PASSWORD, "branch", "大客户项目主管", department="key_account")
    agent, sup = console.login("agent1001"), console.login("supervisor")
    wh = _refer(agent, sup, "仓库装卸摔坏货物", "warehouse")
    zz = _refer(agent, sup, "郑州派送员未按约定时间送货", "branch", "郑州分公司")
    sh = _refer(agent, sup, "上海发货时包装不当", "branch", "上海分公司")
    js = _refer(agent, sup, "运费结算多收", "settlement")
    dk = _refer(agent, sup, "大客户月结对账有误", "key_account")
    with console.db.session() as s:  # referred three days ago with a day to answer: overdue now
        late = co.open_complaint(s, CaseInput(kind="complaint", subject="三天前转交未整改"), complaint_type="delay",
                                 branch="郑州分公司", by="agent1001", at=utcnow() - timedelta(days=3))
        co.analyse(s, late.id, cause="transport_delay", responsible_department="branch", by="supervisor",
                   at=utcnow() - timedelta(days=3))
        co.refer(s, late.id, department="branch", unit="郑州分公司", deadline=utcnow() - timedelta(days=2),
                 by="supervisor", at=utcnow() - timedelta(days=3))

    warehouse, branch = console.login("warehouse"), console.login("branch_zz")
    settlement, key_account = console.login("js1"), console.login("dkh1")
    mine = {"warehouse": (warehouse, {wh}), "branch": (branch, {zz, late.id}), "settlement": (settlement, {js}),
            "key_account": (key_account, {dk})}
    everyone = {wh, zz, sh, js, dk, late.id}
    for who, (client, own) in mine.items():
        page = _desk(client)
        for cid in everyone:
            assert (f'data-testid="referral-{cid}"' in page) == (cid in own), (who, cid)
        for cid in everyone - own:
            assert client.post(f"/branch/complaints/{cid}/answer", data={"rectification": "x"}).status_code == 403
    assert f'class="work-item overdue" data-testid="referral-{late.id}"' in _desk(branch)
    assert f'class="work-item " data-testid="referral-{zz}"' in _desk(branch)
    assert report_json(sup, "complaints-weekly", period())["overdue_referrals"] == 1

    # the warehouse and the branch answer, are sent back, answer again, are verified
    for client, cid, first, second in (
            (warehouse, wh, "已处理", "装卸工已培训，摔坏件已补发"),
            (branch, zz, "已批评派送员", "派送员已调岗，客户已预约重新派送")):
        _post(client, f"/branch/complaints/{cid}/answer", rectification=first)
        assert f'data-testid="referral-{cid}"' not in _desk(client)  # answered: waits for the centre
        _post(sup, f"/complaints/{cid}/send_back", note="未说明具体整改措施", deadline=_deadline(48))
        page = _desk(client)
        assert f'data-testid="sent-back-{cid}"' in page and "未说明具体整改措施" in page and first in page
        _post(client, f"/branch/complaints/{cid}/answer", rectification=second)
        _post(sup, f"/complaints/{cid}/verify", note="已核实")
        assert f'data-testid="referral-{cid}"' not in _desk(client)
    _post(settlement, f"/branch/complaints/{js}/answer", rectification="多收运费已退回客户账户")
    _post(key_account, f"/branch/complaints/{dk}/answer", rectification="已与客户重新对账")
    with console.db.reading() as s:
        stages = {cid: co.get_complaint(s, cid).stage.value for cid in everyone}
        wh_trail = [(a.what, a.who) for a in audit_for(s, "complaint", wh)][2:]
    assert stages == {wh: "verified", zz: "verified", js: "rectified", dk: "rectified", sh: "referred",
                      late.id: "referred"}
    assert wh_trail == [("complaint.refer", "supervisor"), ("complaint.confirm_rectification", "warehouse"),
                        ("complaint.send_back", "supervisor"), ("complaint.confirm_rectification", "warehouse"),
                        ("complaint.verify", "supervisor")]

    # what the branch owes: its claim once the parties are notified; not 上海分公司's
    with console.db.session() as s:
        ours = cl.open_claim(s, CaseInput(kind="claim", subject="郑州分公司责任的破损"), channel="hotline",
                             accident_cause="handling_damage", claimed="1000", branch="郑州分公司", by="agent1001").id
        theirs = cl.open_claim(s, CaseInput(kind="claim", subject="上海分公司责任的丢件"), channel="hotline",
                               accident_cause="loss", claimed="500", branch="上海分公司", by="agent1001").id
        for cid in (ours, theirs):
            cl.start_investigation(s, cid, by="claims")
            cl.add_evidence(s, cid, filename="p.png", data=PNG, content_type="image/png",
                            store=EvidenceStore(root=tmp_path / "ev"), by="claims")  # type: ignore[operator]
    # the branch adds its own evidence while the claim is investigated; another department may not
    _post(branch, f"/branch/claims/{ours}/evidence", file=(BytesIO(PNG), "装车照片.png", "image/png"))
    assert console.login("warehouse").post(f"/branch/claims/{ours}/evidence",
                                           data={"file": (BytesIO(PNG), "x.png", "image/png")}).status_code == 403
    with console.db.session() as s:
        for cid, unit in ((ours, "郑州分公司"), (theirs, "上海分公司")):
            cl.fix_liability(s, cid, parties=[LiabilityInput("branch", "100", unit)], by="claims")
    claims = console.login("claims")
    _post(claims, f"/claims/{ours}/offer", offered_by="company", amount="800")
    _post(claims, f"/claims/{ours}/agree_amount", amount="800")
    page = _desk(branch)
    assert f'data-testid="branch-owed-{ours}"' in page and f'data-testid="branch-owed-{theirs}"' not in page
    _post(claims, f"/claims/{ours}/notify_parties")
    page = _desk(branch)
    assert f'data-testid="branch-owed-amount-{ours}">¥800.00<' in page
    assert 'data-testid="branch-owed-total">¥800.00<' in page
    with console.db.reading() as s:
        assert [e.uploaded_by for e in cl.get_claim(s, ours).evidence] == ["claims", "branch_zz"]
        assert cl.get_claim(s, ours).liabilities[0].owed == Decimal("800.00")
