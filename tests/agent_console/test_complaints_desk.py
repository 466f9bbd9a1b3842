"""The complaints desk with the branch desk: the standard's loop of feedback and follow-up
(反馈和跟踪确认) — recorded, analysed, referred to a branch with a deadline, answered by the
branch, the customer told, closed — with refused steps and loose ends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from cases import complaints as co
from cases.db import Database

if TYPE_CHECKING:
    from conftest import Console


@pytest.fixture
def db(db_both: Database) -> Database:
    """The desks' tests run on SQLite and on PostgreSQL."""
    return db_both


def _local(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).astimezone(UTC).strftime("%Y-%m-%dT%H:%M+00:00")


def test_a_complaint_round_trip_with_the_branch(console: Console) -> None:
    agent = console.login("agent1001")
    resp = agent.post("/complaints", data={"subject": "派送员态度恶劣", "complaint_type": "attitude",
                                           "branch": "郑州分公司", "description": "客户来电投诉"})
    assert resp.status_code == 303
    cid = int(re.search(r"/complaints/(\d+)", resp.headers["Location"]).group(1))  # type: ignore[union-attr]

    def step(action: str, **form: str) -> None:
        r = agent.post(f"/complaints/{cid}/{action}", data=form)
        assert r.status_code == 303, (action, r.get_data(as_text=True))

    # illegal first: closing a recorded complaint
    r = agent.post(f"/complaints/{cid}/close")
    assert r.status_code == 409 and "当前阶段为「已登记」，不能执行「结案」。现在可以：分析" in r.get_data(as_text=True)
    step("analyse", cause="staff_attitude", responsible_department="branch", analysis="派送员服务意识差")
    # a deadline in the past is refused
    r = agent.post(f"/complaints/{cid}/refer", data={"department": "branch", "deadline": _local(-timedelta(hours=1))})
    assert r.status_code == 400 and "not in the future" in r.get_data(as_text=True)
    step("refer", department="branch", deadline=_local(timedelta(days=1)), note="请三日内整改")
    with console.db.reading() as s:
        assert co.get_complaint(s, cid).stage.value == "referred"
    # the branch answers on its desk
    branch = console.login("branch_zz")
    assert "派送员态度恶劣" in branch.get("/branch").get_data(as_text=True)
    assert branch.post(f"/branch/complaints/{cid}/answer",
                       data={"rectification": "已对派送员批评教育并上门致歉"}).status_code == 303
    page = agent.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "已对派送员批评教育并上门致歉" in page and "验证通过" in page and "退回重新整改" in page
    # the branch's own answer does not close the loop: the centre verifies it first
    r = agent.post(f"/complaints/{cid}/tell_customer", data={"reply": "已告知"})
    assert r.status_code == 409 and "不能执行「回复客户」。现在可以：验证通过、退回重新整改" in r.get_data(as_text=True)
    step("verify", note="已电话核实")
    r = agent.post(f"/complaints/{cid}/tell_customer", data={"reply": " "})
    assert r.status_code == 400 and "请填写必填项" in r.get_data(as_text=True)
    step("tell_customer", reply="已电话告知客户处理结果，客户满意")
    r = agent.post(f"/complaints/{cid}/close")
    assert r.status_code == 409 and "现在可以：回访" in r.get_data(as_text=True)
    step("follow_up", outcome="satisfied", note="客户对处理结果满意")
    step("close")
    with console.db.reading() as s:
        view = co.get_complaint(s, cid)
    assert view.stage.value == "closed" and view.customer_reply == "已电话告知客户处理结果，客户满意"
    page = agent.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "已结案，无后续步骤" in page and "反馈整改" in page  # the history names the branch's answer
    assert "客户对处理结果满意" in page and "满意" in page
    assert agent.post(f"/complaints/{cid}/no_such").status_code == 404
    assert agent.post("/complaints/9999/close").status_code == 404


def test_loose_ends_are_flagged_on_the_desk(console: Console) -> None:
    from cases.views import CaseInput

    long_ago = datetime.now(UTC) - timedelta(days=5)
    with console.db.session() as s:
        c = co.open_complaint(s, CaseInput(kind="complaint", subject="三天无人跟进的投诉"),
                              complaint_type="delay", branch="上海分公司", by="agent1001", at=long_ago)
    page = console.login("supervisor").get("/complaints").get_data(as_text=True)
    assert "留有尾巴" in page and "无跟进" in page and f"/complaints/{c.id}" in page
    assert console.login("claims").get("/complaints").status_code == 403
