"""The changes desk in real Chromium (Playwright): an agent's consignee-address change waits on the
supervisor's desk (待审批), the supervisor approves it with a note, the agent's open page gets the
callback (回电) at once and marks it done, and the case page shows the outcome. zh-CN screenshots at
1366×768 (to docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from cases import changes
from cases.case_records import create_case
from cases.demo_data import DEMO_WAYBILLS
from cases.shipment_records import find_shipment
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]

NEW_ADDRESS = "郑州市二七区大学路 75 号 3 号楼"


def test_a_supervisor_approves_a_change_and_the_agent_calls_back(console: Console, base_url: str, tmp_path: Path,
                                                                  chromium: Any) -> None:
    with console.db.session() as s:
        case = create_case(s, CaseInput(kind="change_request", subject="收货人搬家，要求更改收货地址",
                                        waybill=DEMO_WAYBILLS[1]), "agent1001")
        rid = changes.request_change(s, case.id, field="consignee_address", new_value=NEW_ADDRESS,
                                     reason="收货人来电，已核对运单号和收货人姓名", by="agent1001").id
    errors: list[str] = []
    agent = login(new_page(chromium, errors), base_url, "agent1001")
    agent.wait_for_selector('[data-testid="change-callbacks-empty"]:visible')

    sup = login(new_page(chromium, errors), base_url, "supervisor")
    sup.click('[data-testid="nav-changes"]')
    sup.wait_for_url("**/changes")
    row = f'[data-testid="change-row-{rid}"]'
    assert sup.get_attribute(row, "data-stage") == "requested"
    assert NEW_ADDRESS in (sup.text_content(row) or "") and "待审批" in (sup.text_content(row) or "")
    assert sup.text_content('[data-testid="changes-waiting"]') == "1"
    shot(sup, tmp_path, "changes-desk")
    # refusing without a reason is not even sent: the field is required
    sup.click(f'[data-testid="reject-{rid}"]')
    assert sup.evaluate(f'document.querySelector(\'[data-testid="reject-note-{rid}"]\').validity.valueMissing')
    assert sup.get_attribute(row, "data-stage") == "requested"
    sup.fill(f'[data-testid="approve-note-{rid}"]', "已电话核实收货人身份")
    sup.click(f'[data-testid="approve-{rid}"]')
    sup.wait_for_selector('[data-testid="notice-ok"]')
    assert "已完成：批准更改" in (sup.text_content('[data-testid="notice-ok"]') or "")
    assert sup.is_visible('[data-testid="changes-empty"]')  # nothing waits any more
    sup.select_option('[data-testid="changes-stage"]', "applied")
    sup.wait_for_selector(row)
    assert sup.get_attribute(row, "data-stage") == "applied" and "已更改" in (sup.text_content(row) or "")
    with console.db.reading() as s:
        assert find_shipment(s, DEMO_WAYBILLS[1]).consignee_address == NEW_ADDRESS  # type: ignore[union-attr]

    # the agent's page got the callback without a reload
    item = agent.wait_for_selector('[data-testid^="change-callback-"][data-outcome="applied"]')
    said = (item.text_content() or "") if item is not None else ""
    assert NEW_ADDRESS in said and case.number in said
    assert agent.text_content('[data-testid="change-callbacks-count"]') == "1"
    shot(agent, tmp_path, "changes-agent-callback")
    agent.click('[data-testid^="change-callback-done-"]')
    agent.wait_for_selector('[data-testid="change-callbacks-empty"]:visible')

    agent.goto(f"{base_url}/cases/{case.id}")
    outcome = agent.text_content(f'[data-testid="case-change-{rid}"]') or ""
    assert "已更改" in outcome and "已回电" in outcome and "已电话核实收货人身份" in outcome
    assert errors == []
