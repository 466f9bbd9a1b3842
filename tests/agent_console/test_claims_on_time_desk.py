"""Claims on time on the desks (issue #17), over HTTP: ageing and due dates on the claims desk and the claim
page, the overdue list (逾期理赔) for claims staff and supervisors, refusing and withdrawing with a reason, the
branch desk's claims the branch is liable for, the claim's stage and due date on the agent's case page, and
`[claim_deadlines]` from the settings file reaching the console."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cases import claims as cl
from cases.claims import EvidenceStore, LiabilityInput
from cases.models.base import utcnow
from cases.models.workflows import Claim
from cases.views import CaseInput
from hotline_cli.config import ConfigError, load_settings
from hotline_cli.site import console_config

if TYPE_CHECKING:
    from conftest import Console

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _claim(console: Console, subject: str, days_ago: float, branch: str = "郑州分公司") -> tuple[int, int]:
    with console.db.session() as s:
        v = cl.open_claim(s, CaseInput(kind="claim", subject=subject), channel="hotline",
                          accident_cause="handling_damage", claimed="1500", branch=branch, by="agent1001",
                          at=utcnow() - timedelta(days=days_ago))
    return v.id, v.case_id


def test_overdue_claims_are_listed_aged_and_flagged(console: Console) -> None:
    late, _ = _claim(console, "逾期未调查的理赔", days_ago=3)  # 已报案 allows 1 day by default: 2 days overdue
    fresh, _ = _claim(console, "刚报案的理赔", days_ago=0.1)
    claims = console.login("claims")
    page = claims.get("/claims/overdue").get_data(as_text=True)
    assert f'data-testid="overdue-row-{late}"' in page and f'data-testid="overdue-row-{fresh}"' not in page
    assert "逾期未调查的理赔" in page and "尚无人受理" in page
    assert f'data-testid="overdue-days-{late}">2.0<' in page and "阶段期限" in page
    desk = claims.get("/claims").get_data(as_text=True)
    assert 'data-testid="claims-overdue-banner"' in desk and "件理赔已逾期" in desk
    assert f'data-testid="claim-overdue-{late}"' in desk and f'data-testid="claim-overdue-{fresh}"' not in desk
    assert f'data-testid="claim-days-open-{late}">3.0<' in desk
    claim_page = claims.get(f"/claims/{late}").get_data(as_text=True)
    assert 'data-testid="claim-overdue"' in claim_page and 'data-testid="claim-days-in-stage">3.0<' in claim_page
    # taken by claims staff: "mine" keeps it for them, not for another
    assert claims.post(f"/claims/{late}/start_investigation").status_code == 303
    with console.db.session() as s:
        s.get(Claim, late).stage_since = utcnow() - timedelta(days=9)  # type: ignore[union-attr]
    mine = claims.get("/claims/overdue?mine=1").get_data(as_text=True)
    assert f'data-testid="overdue-row-{late}"' in mine
    supervisor = console.login("supervisor")
    page = supervisor.get("/claims/overdue").get_data(as_text=True)
    assert f'data-testid="overdue-row-{late}"' in page and "<td>claims</td>" in page
    assert console.login("agent1001").get("/claims/overdue").status_code == 403


def test_refuse_and_withdraw_need_a_reason_and_close_the_case(console: Console) -> None:
    refused, case_id = _claim(console, "要拒赔的理赔", days_ago=0)
    withdrawn, _ = _claim(console, "客户撤回的理赔", days_ago=0)
    claims = console.login("claims")
    resp = claims.post(f"/claims/{refused}/refuse", data={"reason": " "})
    assert resp.status_code == 400 and "请填写必填项" in resp.get_data(as_text=True)
    resp = claims.post(f"/claims/{refused}/refuse", data={"reason": "货物自身缺陷，非运输责任"})
    assert resp.status_code == 303
    page = claims.get(f"/claims/{refused}").get_data(as_text=True)
    assert 'data-testid="claim-ended">拒赔<' in page and "货物自身缺陷，非运输责任" in page
    assert 'data-testid="claim-final"' in page and 'data-testid="form-withdraw"' not in page
    assert claims.post(f"/claims/{withdrawn}/withdraw", data={"reason": "客户与分公司自行协商"}).status_code == 303
    resp = claims.post(f"/claims/{withdrawn}/refuse", data={"reason": "x"})
    assert resp.status_code == 409 and "不能执行「拒赔」" in resp.get_data(as_text=True)
    case_page = console.login("agent1001").get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="case-page-status">已关闭<' in case_page and 'data-stage="refused"' in case_page


def test_the_agent_sees_the_claims_stage_and_due_date_on_the_case(console: Console) -> None:
    cid, case_id = _claim(console, "客户催问理赔进度", days_ago=2)
    agent = console.login("agent1001")
    page = agent.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="case-claim-stage" data-stage="reported">已报案' in page
    assert 'data-testid="case-claim-overdue">逾期 1.0<' in page
    assert f"/claims/{cid}" not in page  # agents do not work claims: no link to the desk
    sup = console.login("supervisor").get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="/claims/{cid}"' in sup


def test_the_branch_desk_lists_what_the_branch_owes(console: Console, tmp_path: Path) -> None:
    ours, _ = _claim(console, "郑州分公司应承担的理赔", days_ago=1, branch="上海分公司")
    theirs, _ = _claim(console, "上海分公司应承担的理赔", days_ago=1, branch="郑州分公司")
    store = EvidenceStore(root=tmp_path / "ev")
    with console.db.session() as s:
        for cid, party in ((ours, "郑州分公司"), (theirs, "上海分公司")):
            cl.start_investigation(s, cid, by="claims")
            cl.add_evidence(s, cid, filename="p.png", data=PNG, content_type="image/png", store=store, by="claims")
            cl.fix_liability(s, cid, parties=[LiabilityInput("branch", "75", party), LiabilityInput("loader", "25")],
                             by="claims")
    branch = console.login("branch_zz")  # 郑州分公司
    page = branch.get("/branch").get_data(as_text=True)
    assert f'data-testid="branch-owed-{ours}"' in page and f'data-testid="branch-owed-{theirs}"' not in page
    assert "金额待确定" in page and "75 %" in page
    with console.db.session() as s:
        cl.offer(s, ours, offered_by="company", amount="1000", by="claims")
        cl.agree_amount(s, ours, amount="1000", by="claims")
        cl.notify_parties(s, ours, by="claims")
    page = branch.get("/branch").get_data(as_text=True)
    assert f'data-testid="branch-owed-amount-{ours}">¥750.00<' in page


def test_claim_deadlines_from_the_settings_file_reach_the_console(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('secret_key = "k"\n[claim_deadlines]\nreported = 2\ninvestigating = 10\ntotal = 0\n',
                   encoding="utf-8")
    config = console_config(load_settings(cfg, environ={}), demo=False)
    got = config.claim_deadlines
    assert (got.reported, got.investigating, got.negotiating, got.total) == (2.0, 10.0, 7.0, 0.0)
    for text, message in [("claim_deadlines = 3\n", r"claim_deadlines must be a table"),
                          ("[claim_deadlines]\ninsurer_claimed = 3\n", r"unknown \[claim_deadlines\] keys"),
                          ("[claim_deadlines]\npaid = -1\n", r"claim_deadlines.paid: -1 is not a number of days")]:
        cfg.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_settings(cfg, environ={})


def test_an_overdue_claim_is_a_reminder_for_its_reporter_and_the_supervisors(console: Console) -> None:
    cid, case_id = _claim(console, "逾期提醒的理赔", days_ago=2)

    def kinds(user: str) -> set[tuple[int, str]]:
        body = console.login(user).get("/api/reminders").get_json()
        return {(r["case_id"], r["kind"]) for r in body["reminders"]}

    assert (case_id, "claim_overdue") in kinds("supervisor")
    assert (case_id, "claim_overdue") in kinds("agent1001")  # who reported it, until claims staff take it
    assert (case_id, "claim_overdue") not in kinds("agent1002")
    with console.db.session() as s:
        cl.start_investigation(s, cid, by="claims")  # a new stage: 7 days before it is due again
    assert (case_id, "claim_overdue") not in kinds("supervisor")
