"""The pop's new-case form in real Chromium (#17): a complaint call pops with the complaint's fields (投诉类型,
相关分公司) and not a claim's; a malformed amount on a claim is refused with a clear message; the complaint
saved from the pop is on the complaints desk (/complaints) at once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from cases.customers import find_customer_by_phone
from cases.demo_data import DEMO_WAYBILLS
from cases.intake import ClaimIntake, take_in
from cases.views import CaseInput
from telephony.events import AgentRinging, CallAnswered, CallQueued, CallStarted, CallVariable, IvrDigit

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def test_a_complaint_saved_from_the_pop_is_on_the_complaints_desk(console: Console, base_url: str, chromium: Any,
                                                                   tmp_path: Path) -> None:
    with console.db.session() as s:  # 张伟's open claim: the pop shows its stage (理赔阶段)
        customer = find_customer_by_phone(s, "49305551001")
        assert customer is not None
        claim = take_in(s, CaseInput(kind="claim", subject="上月的破损理赔", customer_id=customer.id), "claims",
                        ClaimIntake(accident_cause="handling_damage", claimed="500")).case
    errors: list[str] = []
    page = login(new_page(chromium, errors), base_url, "agent1001")
    page.wait_for_url("**/agent")
    t0 = time.time()
    lid, waybill = f"{t0:.2f}", DEMO_WAYBILLS[0]
    console.bus.publish(CallStarted(lid, "49305551001", "ZHANG WEI", "4008001", "service", t0))
    console.bus.publish(IvrDigit(lid, "2", "2", t0))  # 投诉 in the service hotline's menu
    console.bus.publish(CallVariable(lid, "WAYBILL", waybill, t0))
    console.bus.publish(CallQueued(lid, "complaints", 1, t0))
    console.bus.publish(AgentRinging(lid, "agent1001", "complaints", "49305551001", t0))
    page.wait_for_selector(f'[data-testid="pop-linkedid"]:has-text("{lid}")')
    console.bus.publish(CallAnswered(lid, "agent1001", "complaints", t0 + 2))
    assert page.input_value('[data-testid="case-kind"]') == "complaint"
    assert page.text_content(f'[data-testid="pop-claim-stage-{claim.id}"]') == "理赔阶段: 已报案"
    page.wait_for_selector('[data-testid="case-complaint-fields"]:visible')
    assert page.is_hidden('[data-testid="case-claim-fields"]') and page.is_hidden('[data-testid="case-change-fields"]')
    assert page.input_value('[data-testid="case-complaint-type"]') == "other"  # 其他 until the agent chooses

    # a claim's amount that is no amount: refused by the server, nothing saved
    page.select_option('[data-testid="case-kind"]', "claim")
    page.wait_for_selector('[data-testid="case-claim-fields"]:visible')
    assert page.is_hidden('[data-testid="case-complaint-fields"]')
    page.fill('[data-testid="case-subject"]', "货物破损")
    page.fill('[data-testid="case-claimed"]', "一千")
    page.click('[data-testid="case-save"]')
    page.wait_for_selector('[data-testid="case-error"]:visible')
    assert "索赔金额格式错误" in (page.text_content('[data-testid="case-error"]') or "")
    assert page.is_hidden('[data-testid="case-result"]')

    page.select_option('[data-testid="case-kind"]', "complaint")
    page.select_option('[data-testid="case-complaint-type"]', "damage")
    page.fill('[data-testid="case-branch"]', "郑州分公司")
    page.fill('[data-testid="case-subject"]', "外箱破损，客户投诉郑州分公司")
    page.click('[data-testid="case-save"]')
    page.wait_for_selector('[data-testid="case-number"]:visible')
    number = page.text_content('[data-testid="case-number"]') or ""
    assert "投诉已登记" in (page.text_content('[data-testid="case-workflow"]') or "")
    assert page.is_hidden('[data-testid="case-error"]')
    shot(page, tmp_path, "agent-pop-complaint")

    page.goto(f"{base_url}/complaints")
    row = page.locator("tr", has_text=number)
    row.wait_for()
    text = row.text_content() or ""
    assert "破损" in text and "郑州分公司" in text, text
    assert errors == []
