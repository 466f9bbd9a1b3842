"""The claims, inspection and branch consoles in real Chromium (Playwright).

A claim walks from report to payment and closing through the pages: reported → investigating with
an uploaded photo → liability (a 90 % split refused first) → offers and a counter-offer → agreed →
responsible parties notified (the insurer claim filed beside) → paid (a wrong amount refused first; the
insurer's payout recorded after) → closed; a step
from a page another worker has overtaken is refused with the standard's words and changes nothing.
Then an inspector's finding is rectified at the branch desk and verified. zh-CN screenshots at
1366×768 are saved (to docs/screenshots/ when HOTLINE_SCREENSHOTS=1).
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from cases import claims as cl
from cases import complaints as co
from cases import inspections as ins
from cases.demo_workflows import seed_month
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def _photo(path: Path) -> Path:
    """A real 96×64 PNG (a brown parcel on grey) for the evidence upload."""
    width, height = 96, 64
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            box = 16 <= x < 80 and 12 <= y < 52
            tear = box and abs((x - 48) - (y - 32)) < 3
            row += bytes((40, 30, 20) if tear else (176, 128, 72) if box else (200, 204, 210))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + \
        chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


@pytest.fixture
def base_url(console: Console, base_url: str) -> str:
    """The served console (conftest's base_url) on a month of demo workflows (complaints, claims,
    inspections), so the lists look like a working centre."""
    assert console.config.evidence_dir is not None
    with console.db.session() as s:
        seed_month(s, date(2026, 11, 1), evidence_root=console.config.evidence_dir)
        c = co.open_complaint(s, CaseInput(kind="complaint", subject="派送员未按约定时间送货，客户投诉"),
                              complaint_type="delay", branch="郑州分公司", by="agent1001")
        co.analyse(s, c.id, cause="transport_delay", responsible_department="branch",
                   analysis="派送排班不足，当日件积压", by="supervisor")
        co.refer(s, c.id, department="branch", deadline=datetime.now(UTC) + timedelta(hours=20), by="supervisor")
    return base_url


def _stage(page: Any) -> str:
    return str(page.get_attribute('[data-testid="claim-stage"]', "data-stage"))


def _do(page: Any, action: str) -> None:
    page.click(f'[data-testid="do-{action}"]')
    page.wait_for_load_state("load")


def _ok(page: Any, text: str) -> None:
    assert text in (page.text_content('[data-testid="notice-ok"]') or ""), page.content()[:2000]


def _error(page: Any) -> str:
    return str(page.text_content('[data-testid="notice-error"]') or "")


def test_a_claim_from_report_to_payment_in_chromium(console: Console, base_url: str, tmp_path: Path,
                                                    chromium: Any) -> None:
    photo = _photo(tmp_path / "破损照片.png")
    errors: list[str] = []
    page = login(new_page(chromium, errors), base_url, "claims", connected=False)
    assert page.url.endswith("/claims")
    shot(page, tmp_path, "claims-list")

    # report
    page.fill('[data-testid="claim-subject"]', "冷链药品外箱压损，三箱受损")
    page.fill('[data-testid="claim-waybill"]', "800012345679")
    page.fill('[data-testid="claim-branch"]', "郑州分公司")
    page.select_option('[data-testid="claim-channel"]', "hotline")
    page.select_option('[data-testid="claim-cause"]', "handling_damage")
    page.fill('[data-testid="claim-claimed"]', "3,000.00")
    page.fill('[data-testid="claim-description"]', "收货人当场拒收，已拍照。")
    page.click('[data-testid="claim-report-submit"]')
    page.wait_for_url("**/claims/*")
    _ok(page, "已完成：报案")
    assert _stage(page) == "reported"
    claim_id = int(page.url.split("/claims/")[1].split("?")[0])
    claim_url = f"{base_url}/claims/{claim_id}"

    # a second tab of the same worker still shows the claim as reported
    stale = page.context.new_page()
    stale.goto(claim_url)
    assert stale.is_visible('[data-testid="do-start_investigation"]')

    _do(page, "start_investigation")
    assert _stage(page) == "investigating"
    # the stale tab's step is refused with the stage it is in now, and nothing changes
    _do(stale, "start_investigation")
    message = _error(stale)
    assert "当前阶段为「调查中」，不能执行「开始调查」" in message and "上传证据" in message
    assert _stage(stale) == "investigating"

    # investigating: an uploaded photo
    page.set_input_files('[data-testid="evidence-file"]', str(photo))
    _do(page, "add_evidence")
    _ok(page, "上传证据")
    assert page.is_visible('[data-testid="claim-evidence-list"] img.thumb')
    assert "破损照片.png" in (page.text_content('[data-testid="claim-evidence-list"]') or "")
    assert page.evaluate("document.querySelector('img.thumb').naturalWidth") == 96

    # liability: 60 + 30 refused, 70 + 30 accepted
    page.select_option('[data-testid="party-0"]', "branch")
    page.fill('[data-testid="party-name-0"]', "郑州分公司")
    page.fill('[data-testid="share-0"]', "60")
    page.select_option('[data-testid="party-1"]', "trunk_vehicle")
    page.fill('[data-testid="party-name-1"]', "豫A12345")
    page.fill('[data-testid="share-1"]', "30")
    _do(page, "fix_liability")
    assert "责任比例合计必须为 100%" in _error(page) and _stage(page) == "investigating"
    assert page.input_value('[data-testid="share-0"]') == "60"  # what was typed is kept
    page.fill('[data-testid="share-0"]', "70")
    _do(page, "fix_liability")
    assert _stage(page) == "liability_fixed"
    assert "70 %" in (page.text_content('[data-testid="claim-liabilities"]') or "")

    # offers and counter-offers, then the agreed amount
    for side, amount in (("company", "2000"), ("customer", "2600.50"), ("company", "2400")):
        page.select_option('[data-testid="offer-side"]', side)
        page.fill('[data-testid="offer-amount"]', amount)
        _do(page, "offer")
    assert _stage(page) == "negotiating"
    assert "¥2,600.50" in (page.text_content('[data-testid="claim-offers"]') or "")
    shot(page, tmp_path, "claim-negotiating")
    page.select_option('[data-testid="agree-amount"]', "2400.00")
    _do(page, "agree_amount")
    assert _stage(page) == "amount_agreed"
    assert page.text_content('[data-testid="claim-agreed-amount"]') == "¥2,400.00"
    _do(page, "notify_parties")
    owed = page.text_content('[data-testid="claim-liabilities"]') or ""
    assert "¥1,680.00" in owed and "¥720.00" in owed

    # insurer: its claim is a track beside the customer's (issue #17), filed here and answered after paying
    page.fill('[data-testid="insurer-name"]', "平安财险")
    page.fill('[data-testid="insurer-policy"]', "P-2026-0042")
    page.fill('[data-testid="insurer-claim-no"]', "PA-20261130-778")
    _do(page, "file_insurer_claim")
    assert _stage(page) == "parties_notified"
    assert not page.is_visible('[data-testid="do-file_insurer_claim"]')  # filed once

    # paid: a wrong amount is refused first
    page.fill('[data-testid="pay-amount"]', "2300")
    _do(page, "pay")
    assert "赔付金额必须等于确定的理赔金额" in _error(page) and _stage(page) == "parties_notified"
    page.fill('[data-testid="pay-amount"]', "2400.00")
    _do(page, "pay")
    assert _stage(page) == "paid"
    assert page.text_content('[data-testid="claim-paid-amount"]') == "¥2,400.00"
    # the insurer's payout after the customer is paid
    page.select_option('[data-testid="insurer-status"]', "paid")
    page.fill('[data-testid="insurer-payout"]', "1800")
    _do(page, "update_insurer_claim")
    assert "¥1,800.00" in (page.text_content('[data-testid="claim-insurer"]') or "") and _stage(page) == "paid"
    _do(page, "close")
    assert _stage(page) == "closed"
    assert page.is_visible('[data-testid="claim-final"]')
    shot(page, tmp_path, "claim-closed")

    # the stale tab again: closing twice is refused
    stale.goto(claim_url)
    assert not stale.is_visible('[data-testid="do-close"]')
    resp = stale.request.post(f"{claim_url}/close", form={"csrf_token": _csrf(stale)})
    # (a closed claim still records the insurer's answers: those are what is possible now)
    assert resp.status == 409 and "不能执行「结案」" in resp.text() and "更新保险理赔状态" in resp.text()

    with console.db.reading() as s:
        view = cl.get_claim(s, claim_id)
    assert view.stage.value == "closed" and view.paid == Decimal("2400.00")
    assert [o.amount for o in view.offers] == [Decimal("2000.00"), Decimal("2600.50"), Decimal("2400.00")]
    assert len(view.evidence) == 1 and view.evidence[0].size == photo.stat().st_size

    # the monthly claims report on the page, with the files to download
    page.goto(f"{base_url}/reports?name=claims-monthly&from=2026-11-01&until=2026-12-01")
    assert "每月理赔报表及事故原因分析" in (page.text_content('[data-testid="report-title"]') or "")
    assert page.get_attribute('[data-testid="download-pdf"]', "href").startswith("/reports/claims-monthly/pdf")
    shot(page, tmp_path, "reports")

    # the inspection and branch desks
    insp = login(new_page(chromium, errors), base_url, "inspector", connected=False)
    assert insp.url.endswith("/inspections")
    shot(insp, tmp_path, "inspections")
    insp.select_option('[data-testid="insp-kind"]', "vehicle_appearance")
    insp.fill('[data-testid="insp-branch"]', "郑州分公司")
    insp.fill('[data-testid="insp-person"]', "李明")
    insp.select_option('[data-testid="insp-passed"]', "no")
    insp.fill('[data-testid="insp-note"]', "车厢未清洁，车身广告破损")
    insp.click('[data-testid="insp-submit"]')
    insp.wait_for_url("**/inspections/*")
    insp.fill('[data-testid="finding-description"]', "车身广告破损，需更换")
    insp.click('[data-testid="finding-submit"]')
    insp.wait_for_load_state("load")
    insp.select_option('[data-testid="sanction-kind"]', "penalty")
    insp.fill('[data-testid="sanction-amount"]', "100")
    insp.fill('[data-testid="sanction-reason"]', "车容车貌不合格")
    insp.click('[data-testid="sanction-submit"]')
    insp.wait_for_load_state("load")
    inspection_url = insp.url.split("?")[0]
    inspection_id = int(inspection_url.rsplit("/", 1)[1])
    with console.db.reading() as s:
        finding = ins.get_inspection(s, inspection_id).findings[0]

    branch = login(new_page(chromium, errors), base_url, "branch_zz", connected=False)
    assert branch.url.endswith("/branch")
    assert branch.is_visible(f'[data-testid="rectification-{finding.id}"]')
    shot(branch, tmp_path, "branch-desk")
    branch.fill(f'[data-testid="rectify-text-{finding.id}"]', "已更换车身广告，照片见附件")
    branch.click(f'[data-testid="rectify-{finding.id}"]')
    branch.wait_for_load_state("load")
    assert "已完成：提交整改" in (branch.text_content('[data-testid="notice-ok"]') or "")

    insp.goto(inspection_url)
    insp.click(f'[data-testid="verify-{finding.id}"]')
    insp.wait_for_load_state("load")
    assert insp.text_content(f'[data-testid="finding-stage-{finding.id}"]') == "已验证"
    sanctions = insp.text_content('[data-testid="sanctions"]') or ""
    assert "处罚" in sanctions and "¥100.00" in sanctions and "车容车貌不合格" in sanctions
    shot(insp, tmp_path, "inspection")

    # the complaints desk: the branch's referral, answered, is waiting for the customer to be told
    agent = login(new_page(chromium, errors), base_url, "supervisor", connected=False)
    agent.goto(f"{base_url}/complaints")
    assert agent.is_visible('[data-testid="loose-ends"]')
    shot(agent, tmp_path, "complaints")
    assert errors == []


def _csrf(page: Any) -> str:
    return str(page.get_attribute('meta[name="csrf-token"]', "content"))
