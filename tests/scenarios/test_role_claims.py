"""理赔 (role claims) does the standard's duties in the console, over HTTP on the seeded SQLite database.

Steps and the standard's duties (理赔 工作职责及程序):
- 2 接听理赔电话，并对事故调查取证，明确责任人: a call to the claims hotline (理赔热线) pops and the claim is
  taken in from the pop; the claims desk lists it; the claims user starts the investigation, uploads the photo
  (取证), the branch concerned adds its own evidence from its desk (5 指导分公司…对客户的理赔工作), and the liability
  is fixed on 郑州分公司 70 % and the driver 赵四 30 % (责任人);
- 3 联系客户，协商确定理赔金额，通知责任人赔偿金额: offers of both sides (协商), the agreed amount (理赔金额), the
  liable parties notified: the branch sees what it owes on its desk;
- 4 与保险公司联系，处理保险理赔: the insurer's claim filed after the liability was fixed, its payout recorded after
  the customer was paid (the insurer's track runs beside the customer's);
- 1 协调处理好事故的理赔工作: paid and closed; a claim without the carrier's liability refused with a reason;
- 6 每月做出理赔报表及事故原因分析: claims-monthly counts them by cause with the amounts, the days to settle (a
  claim the IVR took ten days before, by time-travel with `at=`), the 责任人 and the accident-cause analysis in
  words on the page.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING

from scenario_support import period, report_json, ring, save_from_pop, store_call, text_of

from cases import claims as cl
from cases.audit import audit_for
from cases.models.base import utcnow
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console
    from flask.testing import FlaskClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _step(client: FlaskClient, claim_id: int, action: str, **form: object) -> None:
    resp = client.post(f"/claims/{claim_id}/{action}", data=form)
    assert resp.status_code == 303, (action, resp.get_data(as_text=True)[:2000])


def _settle(claims: FlaskClient, claim_id: int, amount: str) -> None:
    """From reported to paid and closed with one liable branch (the second claim of the month)."""
    _step(claims, claim_id, "start_investigation")
    _step(claims, claim_id, "add_evidence", file=(BytesIO(PNG), "现场.png", "image/png"))
    _step(claims, claim_id, "fix_liability", party_0="loader", share_0="100", name_0="装卸工 钱七")
    _step(claims, claim_id, "offer", offered_by="company", amount=amount)
    _step(claims, claim_id, "agree_amount", amount=amount)
    _step(claims, claim_id, "notify_parties")
    _step(claims, claim_id, "pay", amount=amount)
    _step(claims, claim_id, "close")


def test_claims_staff_take_investigate_settle_refuse_and_report(console: Console) -> None:
    # 2: the claims hotline's call pops; the claim is taken in from the pop with its call
    pop = ring(console, "scn-claims.1", hotline="claims", agent="agent1002")
    taken = save_from_pop(console.login("agent1002"), pop, kind="claim", subject="冰箱外箱压坏，要求赔偿",
                          accident_cause="handling_damage", claimed="1,500", branch="郑州分公司")
    store_call(console, pop, hotline="claims", agent="agent1002")
    cid = taken["claim_id"]
    claims = console.login("claims")
    desk = claims.get("/claims").get_data(as_text=True)
    assert taken["number"] in desk and "冰箱外箱压坏" in desk
    assert "scn-claims.1" in claims.get(taken["url"]).get_data(as_text=True)

    # 2: investigation with evidence, the branch's own evidence, the liable parties
    _step(claims, cid, "start_investigation")
    _step(claims, cid, "add_evidence", file=(BytesIO(PNG), "破损照片.png", "image/png"))
    branch = console.login("branch_zz")
    assert f'data-testid="branch-claim-{cid}"' in branch.get("/branch").get_data(as_text=True)
    resp = branch.post(f"/branch/claims/{cid}/evidence", data={"file": (BytesIO(PNG), "签收单.png", "image/png")})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    _step(claims, cid, "fix_liability", party_0="branch", share_0="70", name_0="郑州分公司",
          party_1="trunk_vehicle", share_1="30", name_1="司机 赵四")
    page = branch.get("/branch").get_data(as_text=True)
    assert f'data-testid="branch-owed-{cid}"' in page and "70 %" in page  # liable, amount not yet agreed

    # 4: the insurer's claim any time from the liability on
    _step(claims, cid, "file_insurer_claim", insurer="平安财险", policy_no="P-2026-88", insurer_claim_no="PA-77")

    # 3: negotiation, the agreed amount, the parties notified: the branch sees what it owes
    _step(claims, cid, "offer", offered_by="company", amount="1000", note="按货值折旧")
    _step(claims, cid, "offer", offered_by="customer", amount="1500")
    resp = claims.post(f"/claims/{cid}/agree_amount", data={"amount": "1300"})
    assert resp.status_code == 400 and "1300" in resp.get_data(as_text=True)  # never offered by either side
    _step(claims, cid, "offer", offered_by="company", amount="1200", note="补偿运费")
    _step(claims, cid, "agree_amount", amount="1200")
    _step(claims, cid, "notify_parties")
    page = branch.get("/branch").get_data(as_text=True)
    assert f'data-testid="branch-owed-amount-{cid}">¥840.00<' in page  # 70 % of 1200

    # 1, 4: paid; the insurer's payout recorded after the payment; closed
    _step(claims, cid, "pay", amount="1200")
    _step(claims, cid, "update_insurer_claim", status="paid", payout="1000")
    _step(claims, cid, "close")
    with console.db.reading() as s:
        view = cl.get_claim(s, cid)
        trail = [a.what for a in audit_for(s, "claim", cid)]
    assert (str(view.stage), view.agreed, view.paid, view.insurer_payout) == (
        "closed", Decimal("1200.00"), Decimal("1200.00"), Decimal("1000.00"))
    assert [(p.party.value, p.name, p.share_percent) for p in view.liabilities] == [
        ("branch", "郑州分公司", Decimal("70")), ("trunk_vehicle", "司机 赵四", Decimal("30"))]
    assert {"claim.add_evidence", "claim.fix_liability", "claim.notify_parties", "claim.pay",
            "claim.update_insurer_claim", "claim.close"} <= set(trail)
    assert trail.index("claim.pay") < trail.index("claim.update_insurer_claim")
    case_page = console.login("agent1002").get(taken["url"]).get_data(as_text=True)
    assert 'data-testid="case-claim-stage" data-stage="closed">已结案' in case_page

    # 1: a claim the carrier is not liable for: refused with the reason
    refused = save_from_pop(console.login("agent1002"), pop, kind="claim", subject="包装内货物自身质量问题",
                            accident_cause="other", claimed="600", branch="郑州分公司")["claim_id"]
    _step(claims, refused, "start_investigation")
    resp = claims.post(f"/claims/{refused}/refuse", data={"reason": " "})
    assert resp.status_code == 400
    _step(claims, refused, "refuse", reason="货物自身质量缺陷，非运输责任")
    assert "拒赔" in claims.get(f"/claims/{refused}").get_data(as_text=True)

    # a claim the IVR took ten days ago (time-travel), settled now: ten days to settle
    with console.db.session() as s:
        old = cl.open_claim(s, CaseInput(kind="claim", subject="十天前报案的丢件"), channel="hotline",
                            accident_cause="loss", claimed="300", branch="上海分公司", by="ivr",
                            at=utcnow() - timedelta(days=10))
    _settle(claims, old.id, "300")

    # 6: the monthly claims report with days to settle, 责任人 and the cause analysis
    month = period(days_back=20)
    report = report_json(claims, "claims-monthly", month)
    assert (report["total"], report["closed"], report["settled"]) == (3, 2, 2)
    assert Decimal(report["paid"]) == Decimal("1500") and Decimal(report["insurer_payout"]) == Decimal("1000")
    assert Decimal("4.9") <= Decimal(report["avg_days_to_settle"]) <= Decimal("5.1")  # (10 + 0) / 2
    days = {r["case_number"]: r["days_to_settle"] for r in report["rows"]}
    assert Decimal(days[old.case_number]) >= Decimal("9.9") and days[taken["number"]] == "0.0"
    causes = {c["cause"]: (c["count"], Decimal(c["paid"])) for c in report["by_cause"]}
    assert causes == {"handling_damage": (1, Decimal("1200")), "loss": (1, Decimal("300")),
                      "other": (1, Decimal("0"))}
    people = {(p["party"], p["name"]): Decimal(p["owed"]) for p in report["by_person"]}
    assert people[("branch", "郑州分公司")] == Decimal("840")
    assert people[("trunk_vehicle", "司机 赵四")] == Decimal("360")
    page = text_of(claims.get("/reports", query_string={"name": "claims-monthly", **month}).get_data(as_text=True))
    assert "事故原因分析" in page and "平均理赔天数" in page
