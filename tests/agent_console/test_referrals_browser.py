"""A referral to the warehouse (仓管) in real Chromium: the centre analyses and refers a complaint on its
page, the warehouse's desk answers with its rectification (整改), the centre sends it back once (验证
未通过) and verifies the second answer, tells the customer, records the follow-up call (回访) and
closes. zh-CN screenshots at 1366×768 (to docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from cases import complaints as co
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def _stage(page: Any) -> str:
    return str(page.get_attribute('[data-testid="complaint-stage"]', "data-stage"))


def _do(page: Any, action: str) -> None:
    page.click(f'[data-testid="do-{action}"]')
    page.wait_for_load_state("load")


def test_a_department_answers_and_the_centre_verifies_in_chromium(console: Console, base_url: str, tmp_path: Path,
                                                                   chromium: Any) -> None:
    with console.db.session() as s:
        c = co.open_complaint(s, CaseInput(kind="complaint", subject="入库时外箱被叉车撞破"), complaint_type="damage",
                              branch="郑州分公司", by="agent1001")
    errors: list[str] = []
    centre = login(new_page(chromium, errors), base_url, "supervisor", connected=False)
    centre.goto(f"{base_url}/complaints/{c.id}")
    assert centre.text_content('[data-testid="complaint-reported-branch"]') == "郑州分公司"
    assert not centre.is_visible('[data-testid="complaint-responsible-department"]')
    centre.select_option('[data-testid="complaint-cause"]', "handling")
    centre.select_option('[data-testid="complaint-responsible"]', "warehouse")
    centre.fill('[data-testid="complaint-analysis"]', "叉车操作不当")
    _do(centre, "analyse")
    assert _stage(centre) == "analysed"
    assert "仓管" in (centre.text_content('[data-testid="complaint-responsible-department"]') or "")
    assert centre.input_value('[data-testid="complaint-department"]') == "warehouse"
    _do(centre, "refer")
    assert _stage(centre) == "referred"
    assert "仓管" in (centre.text_content('[data-testid="complaint-referred-to"]') or "")

    desk = login(new_page(chromium, errors), base_url, "warehouse", connected=False)
    assert desk.url.endswith("/branch")
    assert desk.is_visible(f'[data-testid="referral-{c.id}"]')
    assert "仓管" in (desk.text_content('[data-testid="branch-department"]') or "")
    desk.fill(f'[data-testid="answer-text-{c.id}"]', "已处理")
    desk.click(f'[data-testid="answer-{c.id}"]')
    desk.wait_for_load_state("load")
    assert "已完成：反馈整改" in (desk.text_content('[data-testid="notice-ok"]') or "")

    centre.reload()
    assert _stage(centre) == "rectified"
    assert not centre.is_visible('[data-testid="do-tell_customer"]')  # not before the centre verifies
    centre.fill('[data-testid="complaint-send-back-note"]', "请说明叉车司机的处理和防护措施")
    _do(centre, "send_back")
    assert _stage(centre) == "referred"
    assert centre.is_visible('[data-testid="complaint-sent-back"]')

    desk.reload()
    assert "请说明叉车司机的处理和防护措施" in (desk.text_content(f'[data-testid="sent-back-{c.id}"]') or "")
    shot(desk, tmp_path, "department-desk")
    desk.fill(f'[data-testid="answer-text-{c.id}"]', "叉车司机已停岗培训，入库通道加装防撞条")
    desk.click(f'[data-testid="answer-{c.id}"]')
    desk.wait_for_load_state("load")
    assert desk.is_visible('[data-testid="referrals-answered"]')

    centre.reload()
    assert "加装防撞条" in (centre.text_content('[data-testid="complaint-rectification"]') or "")
    centre.fill('[data-testid="complaint-verify-note"]', "现场照片已核实")
    _do(centre, "verify")
    assert _stage(centre) == "verified"
    assert "现场照片已核实" in (centre.text_content('[data-testid="complaint-verified"]') or "")
    centre.fill('[data-testid="complaint-reply"]', "已告知客户整改措施并赔付破损")
    _do(centre, "tell_customer")
    assert not centre.is_visible('[data-testid="do-close"]')  # the follow-up call first
    centre.select_option('[data-testid="complaint-follow-up-outcome"]', "satisfied")
    centre.fill('[data-testid="complaint-follow-up-note"]', "客户表示满意")
    _do(centre, "follow_up")
    assert _stage(centre) == "followed_up"
    assert "客户表示满意" in (centre.text_content('[data-testid="complaint-follow-ups"]') or "")
    shot(centre, tmp_path, "complaint-verified")
    _do(centre, "close")
    assert _stage(centre) == "closed"
    desk.reload()
    assert not desk.is_visible(f'[data-testid="referral-{c.id}"]')
    assert errors == []
