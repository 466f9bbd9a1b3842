"""The claims, inspection and branch consoles through their pages (Flask test client, real SQLite):
every step of a claim, refused steps with a clear message and nothing changed, evidence limits,
inspections with findings, rectification and verification, rewards and penalties, and branch staff
who see and answer only their own branch's work."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cases import claims as cl
from cases import complaints as co
from cases import inspections as ins
from cases.accounts import create_user
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.models.audit import AuditEntry
from cases.models.workflows import Claim, ClaimEvidence
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console


@pytest.fixture
def db(db_both: Database) -> Database:
    """The desks' tests run on SQLite and on PostgreSQL."""
    return db_both

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


def _claim_id(resp_location: str) -> int:
    found = re.search(r"/claims/(\d+)", resp_location)
    assert found, resp_location
    return int(found.group(1))


def _stage(console: Console, claim_id: int) -> str:
    with console.db.reading() as s:
        return cl.get_claim(s, claim_id).stage.value


def _audit_count(console: Console) -> int:
    with console.db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _report(client: FlaskClient, **extra: str) -> int:
    form = {"subject": "货物外箱破损，内件受损", "waybill": "800012345678", "branch": "郑州分公司",
            "channel": "hotline", "accident_cause": "handling_damage", "claimed": "3,000.00", **extra}
    resp = client.post("/claims", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return _claim_id(resp.headers["Location"])


def _upload(client: FlaskClient, url: str, name: str, data: bytes, ctype: str) -> tuple[int, str]:
    resp = client.post(url, data={"file": (io.BytesIO(data), name, ctype)}, content_type="multipart/form-data")
    return resp.status_code, resp.get_data(as_text=True)


def test_a_claim_walks_every_step_through_the_pages(console: Console) -> None:
    claims = console.login("claims")
    page = claims.get("/claims").get_data(as_text=True)
    assert "理赔案件" in page and "理赔报案" in page
    cid = _report(claims)
    assert _stage(console, cid) == "reported"
    page = claims.get(f"/claims/{cid}?done=claim.report").get_data(as_text=True)
    assert "已完成：报案" in page and "开始调查" in page and "¥3,000.00" in page

    def step(action: str, **form: str) -> None:
        resp = claims.post(f"/claims/{cid}/{action}", data=form)
        assert resp.status_code == 303, (action, resp.get_data(as_text=True))

    step("start_investigation")
    code, _ = _upload(claims, f"/claims/{cid}/add_evidence", "现场照片.png", PNG, "image/png")
    assert code == 303
    step("fix_liability", party_0="branch", name_0="郑州分公司", share_0="70",
         party_1="trunk_vehicle", name_1="豫A12345", share_1="30")
    step("offer", offered_by="company", amount="2000", note="按货值七成")
    step("offer", offered_by="customer", amount="2600.50", note="客户还价")
    step("offer", offered_by="company", amount="2400")
    step("agree_amount", amount="2400")
    step("notify_parties")
    step("file_insurer_claim", insurer="平安财险", policy_no="P-2026-001", insurer_claim_no="PA-778")
    step("update_insurer_claim", status="paid", payout="1800")
    step("pay", amount="2,400.00")
    step("close")
    with console.db.reading() as s:
        view = cl.get_claim(s, cid)
    assert view.stage.value == "closed" and view.paid == Decimal("2400.00")
    assert [(p.party.value, p.owed) for p in view.liabilities] == [("branch", Decimal("1680.00")),
                                                                  ("trunk_vehicle", Decimal("720.00"))]
    assert view.insurer_payout == Decimal("1800.00") and view.evidence[0].filename == "现场照片.png"
    page = claims.get(f"/claims/{cid}").get_data(as_text=True)
    assert "已结案，无后续步骤" in page and "¥1,680.00" in page
    # the evidence is served to the claims staff
    ev = claims.get(f"/claims/{cid}/evidence/{view.evidence[0].id}")
    assert ev.status_code == 200 and ev.data == PNG and ev.mimetype == "image/png"


def test_illegal_steps_are_refused_with_a_clear_message_and_change_nothing(console: Console) -> None:
    claims = console.login("claims")
    cid = _report(claims)
    before = _audit_count(console)
    resp = claims.post(f"/claims/{cid}/pay", data={"amount": "100"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "当前阶段为「已报案」，不能执行「赔付」。现在可以：开始调查" in body
    assert _stage(console, cid) == "reported" and _audit_count(console) == before
    claims.post(f"/claims/{cid}/start_investigation")
    # liability without evidence, then with shares that do not sum to 100 %
    resp = claims.post(f"/claims/{cid}/fix_liability", data={"party_0": "branch", "share_0": "100"})
    assert resp.status_code == 400 and "明确责任前请先收集证据" in resp.get_data(as_text=True)
    _upload(claims, f"/claims/{cid}/add_evidence", "单据.pdf", PDF, "application/pdf")
    resp = claims.post(f"/claims/{cid}/fix_liability", data={"party_0": "branch", "share_0": "60",
                                                            "party_1": "loader", "share_1": "30"})
    assert resp.status_code == 400 and "责任比例合计必须为 100%" in resp.get_data(as_text=True)
    assert "sum to 90" in resp.get_data(as_text=True)
    assert _stage(console, cid) == "investigating"
    claims.post(f"/claims/{cid}/fix_liability", data={"party_0": "customer", "share_0": "100"})
    claims.post(f"/claims/{cid}/offer", data={"offered_by": "company", "amount": "500"})
    resp = claims.post(f"/claims/{cid}/agree_amount", data={"amount": "800"})
    assert resp.status_code == 400 and "理赔金额必须是协商中双方提出过的金额之一" in resp.get_data(as_text=True)
    resp = claims.post(f"/claims/{cid}/offer", data={"offered_by": "company", "amount": "12.345"})
    assert resp.status_code == 400 and "more than 2 decimals" in resp.get_data(as_text=True)
    claims.post(f"/claims/{cid}/agree_amount", data={"amount": "500"})
    claims.post(f"/claims/{cid}/notify_parties")
    resp = claims.post(f"/claims/{cid}/pay", data={"amount": "499.99"})
    assert resp.status_code == 400 and "赔付金额必须等于确定的理赔金额" in resp.get_data(as_text=True)
    resp = claims.post(f"/claims/{cid}/close")
    assert resp.status_code == 409 and "不能执行「结案」" in resp.get_data(as_text=True)
    assert _stage(console, cid) == "parties_notified"
    # English labels too
    resp = claims.post(f"/claims/{cid}/close?lang=en")
    assert "“Close” is not possible now" in resp.get_data(as_text=True)
    assert claims.post(f"/claims/{cid}/no_such_action").status_code == 404
    assert claims.post("/claims/9999/close").status_code == 404


def test_evidence_type_and_size_limits(console: Console) -> None:
    claims = console.login("claims")
    cid = _report(claims)
    code, body = _upload(claims, f"/claims/{cid}/add_evidence", "photo.png", PNG, "image/png")
    assert code == 409 and "不能执行「上传证据」" in body  # not investigating yet
    claims.post(f"/claims/{cid}/start_investigation")
    code, body = _upload(claims, f"/claims/{cid}/add_evidence", "run.exe", b"MZ\x90\x00", "application/x-msdownload")
    assert code == 400 and "证据文件不被接受" in body and "is not accepted" in body
    code, body = _upload(claims, f"/claims/{cid}/add_evidence", "fake.png", b"GIF89a....", "image/png")
    assert code == 400 and "does not look like image/png" in body
    big = PNG + b"\x00" * (console.config.evidence_max_bytes + 10)
    code, body = _upload(claims, f"/claims/{cid}/add_evidence", "big.png", big, "image/png")
    assert code == 400 and "上传文件过大" in body
    code, body = _upload(claims, f"/claims/{cid}/add_evidence", "", b"", "image/png")
    assert code == 400 and "请选择要上传的文件" in body
    with console.db.reading() as s:
        assert cl.get_claim(s, cid).evidence == ()
    assert not list((console.config.evidence_dir or console.db.url).glob("**/*.png"))  # type: ignore[union-attr]


def test_a_major_claim_is_suggested_then_confirmed_by_the_supervisor(console: Console) -> None:
    # issue #17: the amount only suggests 重大事故; the supervisor confirms it, and only then is it escalated
    claims = console.login("claims")
    cid = _report(claims, claimed="80000", major="")
    page = claims.get(f"/claims/{cid}").get_data(as_text=True)
    assert "疑似重大事故" in page and "已上报 supervisor" not in page
    assert 'data-testid="form-decide_major"' not in page  # claims staff do not decide it
    resp = claims.post(f"/claims/{cid}/decide_major", data={"decision": "confirm", "note": "x"})
    assert resp.status_code == 403
    supervisor = console.login("supervisor")
    resp = supervisor.post(f"/claims/{cid}/decide_major", data={"decision": "confirm", "note": ""})
    assert resp.status_code == 400  # a note is required
    resp = supervisor.post(f"/claims/{cid}/decide_major", data={"decision": "confirm", "note": "整车货损，上报"})
    assert resp.status_code == 303
    page = supervisor.get(f"/claims/{cid}").get_data(as_text=True)
    assert "已上报 supervisor" in page and "整车货损，上报" in page and 'data-status="confirmed"' in page
    resp = supervisor.post(f"/claims/{cid}/decide_major", data={"decision": "decline", "note": "改判"})
    assert resp.status_code == 400 and "已确认的不能再改" in resp.get_data(as_text=True)
    bad = claims.post("/claims", data={"subject": "x", "channel": "fax", "accident_cause": "loss", "claimed": "1"})
    assert bad.status_code == 400 and "选项无效" in bad.get_data(as_text=True)
    bad = claims.post("/claims", data={"subject": "x", "channel": "hotline", "accident_cause": "loss",
                                       "claimed": "一千"})
    assert bad.status_code == 400 and "金额格式错误" in bad.get_data(as_text=True)


def test_inspection_finding_rectified_by_the_branch_and_verified(console: Console) -> None:
    inspector = console.login("inspector")
    resp = inspector.post("/inspections", data={"kind": "freight_rate", "branch": "郑州分公司", "person": "王强",
                                                "inspected_at": "2026-11-30T10:00", "quoted": "120", "tariff": "100"})
    assert resp.status_code == 303
    iid = int(resp.headers["Location"].split("/inspections/")[1].split("?")[0])
    page = inspector.get(f"/inspections/{iid}").get_data(as_text=True)
    assert "不合格" in page and "市场运价" in page  # quoted 120 vs tariff 100: failed, worked out
    deadline = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    resp = inspector.post(f"/inspections/{iid}/add_finding", data={"description": "报价高于标准运价 20 元",
                                                                   "assignee": "王强", "deadline": deadline})
    assert resp.status_code == 303
    resp = inspector.post(f"/inspections/{iid}/sanction", data={"kind": "penalty", "branch": "郑州分公司",
                                                                "person": "王强", "amount": "200.00",
                                                                "reason": "违规加价"})
    assert resp.status_code == 303
    with console.db.reading() as s:
        finding = ins.get_inspection(s, iid).findings[0]
    # verifying before the branch rectified: refused, clearly
    resp = inspector.post(f"/inspections/{iid}/verify", data={"finding_id": str(finding.id)})
    assert resp.status_code == 409 and "不能执行「验证通过」" in resp.get_data(as_text=True)
    branch = console.login("branch_zz")
    page = branch.get("/branch").get_data(as_text=True)
    assert "报价高于标准运价 20 元" in page and "郑州分公司" in page
    resp = branch.post(f"/branch/findings/{finding.id}/rectify", data={"rectification": "已按标准运价退还差价"})
    assert resp.status_code == 303
    resp = inspector.post(f"/inspections/{iid}/reopen", data={"finding_id": str(finding.id), "note": "未见退款凭证",
                                                              "deadline": deadline})
    assert resp.status_code == 303
    branch.post(f"/branch/findings/{finding.id}/rectify", data={"rectification": "退款凭证已上传"})
    resp = inspector.post(f"/inspections/{iid}/verify", data={"finding_id": str(finding.id)})
    assert resp.status_code == 303
    with console.db.reading() as s:
        view = ins.get_inspection(s, iid)
    assert view.findings[0].stage.value == "verified" and view.findings[0].rectification == "退款凭证已上传"
    page = inspector.get(f"/inspections/{iid}").get_data(as_text=True)
    assert "¥200.00" in page and "违规加价" in page and "已验证" in page
    assert inspector.post(f"/inspections/{iid}/verify", data={"finding_id": "9999"}).status_code == 404
    bad = inspector.post("/inspections", data={"kind": "freight_rate", "branch": "郑州分公司",
                                                "inspected_at": "2026-11-30T10:00"})
    assert bad.status_code == 400 and "needs the quoted rate" in bad.get_data(as_text=True)


def _referred_complaint(console: Console, branch: str) -> int:
    with console.db.session() as s:
        c = co.open_complaint(s, CaseInput(kind="complaint", subject=f"{branch} 派送延误三天"),
                              complaint_type="delay", branch=branch, by="agent1001")
        co.analyse(s, c.id, cause="transport_delay", responsible_department="branch", by="agent1001")
        co.refer(s, c.id, department="branch", deadline=datetime.now(UTC) + timedelta(days=1), by="agent1001")
        return c.id


def test_branch_staff_see_and_answer_only_their_branch(console: Console) -> None:
    mine = _referred_complaint(console, "郑州分公司")
    theirs = _referred_complaint(console, "上海分公司")
    claims = console.login("claims")
    own_claim = _report(claims)
    other_claim = _report(claims, branch="上海分公司")
    claims.post(f"/claims/{own_claim}/start_investigation")
    claims.post(f"/claims/{other_claim}/start_investigation")
    branch = console.login("branch_zz")
    assert branch.get("/").headers["Location"].endswith("/branch")
    page = branch.get("/branch").get_data(as_text=True)
    assert "郑州分公司 派送延误三天" in page and "上海分公司 派送延误三天" not in page
    assert f'data-testid="branch-claim-{own_claim}"' in page and f'data-testid="branch-claim-{other_claim}"' not in page
    # another branch's work: refused, nothing changed
    assert branch.post(f"/branch/complaints/{theirs}/answer", data={"rectification": "x"}).status_code == 403
    code, _ = _upload(branch, f"/branch/claims/{other_claim}/evidence", "p.png", PNG, "image/png")
    assert code == 403
    # an empty answer is refused; a real one moves the complaint to rectified (the centre follows up)
    resp = branch.post(f"/branch/complaints/{mine}/answer", data={"rectification": "  "})
    assert resp.status_code == 400 and "请填写必填项" in resp.get_data(as_text=True)
    resp = branch.post(f"/branch/complaints/{mine}/answer", data={"rectification": "已批评派送员并当日送达"})
    assert resp.status_code == 303
    with console.db.reading() as s:
        assert co.get_complaint(s, mine).stage.value == "rectified"
        assert co.get_complaint(s, theirs).stage.value == "referred"
    resp = branch.post(f"/branch/complaints/{mine}/answer", data={"rectification": "again"})
    assert resp.status_code == 409 and "不能执行「反馈整改」" in resp.get_data(as_text=True)
    code, _ = _upload(branch, f"/branch/claims/{own_claim}/evidence", "现场.png", PNG, "image/png")
    assert code == 303
    with console.db.reading() as s:
        ev = cl.get_claim(s, own_claim).evidence
        other_branch = s.scalars(select(Claim.branch).where(Claim.id == other_claim)).one()
    assert [e.uploaded_by for e in ev] == ["branch_zz"]
    assert branch.get(f"/claims/{own_claim}/evidence/{ev[0].id}").status_code == 200
    claims.post(f"/claims/{other_claim}/add_evidence", data={"file": (io.BytesIO(PNG), "o.png", "image/png")},
                content_type="multipart/form-data")
    with console.db.reading() as s:
        other_ev_id = cl.get_claim(s, other_claim).evidence[0].id
    assert other_branch == "上海分公司"
    assert branch.get(f"/claims/{other_claim}/evidence/{other_ev_id}").status_code == 403
    assert branch.get(f"/claims/{own_claim}/evidence/{other_ev_id}").status_code == 404
    # branch staff do not reach the centre's cases, recordings or the claims desk
    for url in ("/cases", "/claims", "/inspections", f"/claims/{own_claim}"):
        assert branch.get(url).status_code == 403, url


def test_branch_user_needs_a_branch(console: Console) -> None:
    from cases.errors import InvalidUserInput

    with console.db.session() as s, pytest.raises(InvalidUserInput, match="needs the branch"):
        create_user(s, "nobranch", DEMO_PASSWORD, "branch", "x")
    with console.db.session() as s:
        view = create_user(s, "sh_market", DEMO_PASSWORD, "branch", "上海市场", branch="上海市场区域")
    assert view.branch == "上海市场区域"
    page = console.login("sh_market").get("/branch").get_data(as_text=True)
    assert "上海市场区域" in page and "没有待处理的转交" in page


def test_pages_in_english(console: Console) -> None:
    claims = console.login("claims")
    cid = _report(claims)
    page = claims.get(f"/claims/{cid}?lang=en").get_data(as_text=True)
    assert "Start investigation" in page and "Reported" in page and "Handling damage" in page
    page = console.login("inspector").get("/inspections?lang=en").get_data(as_text=True)
    assert "Record an inspection" in page and "Freight rate" in page
    page = console.login("branch_zz").get("/branch?lang=en").get_data(as_text=True)
    assert "Complaints referred to this branch" in page


def test_evidence_is_in_the_backup_folders_and_served_after_a_move(console: Console, tmp_path: Path) -> None:
    from hotline_cli.commands import _backup_folders
    from hotline_cli.config import load_settings

    settings = load_settings(None, environ={"HOTLINE_DATA_DIR": str(tmp_path / "data")})
    assert _backup_folders(settings)["evidence"] == tmp_path / "data" / "evidence"
    claims = console.login("claims")
    cid = _report(claims)
    claims.post(f"/claims/{cid}/start_investigation")
    _upload(claims, f"/claims/{cid}/add_evidence", "p.png", PNG, "image/png")
    with console.db.session() as s:  # as if restored from a backup made under another data folder
        ev = s.scalars(select(ClaimEvidence).where(ClaimEvidence.claim_id == cid)).one()
        ev.stored_path = "/elsewhere/evidence/" + str(cid) + "/" + Path(ev.stored_path).name
        ev_id = ev.id
    resp = claims.get(f"/claims/{cid}/evidence/{ev_id}")
    assert resp.status_code == 200 and resp.data == PNG


def test_branch_records_self_settled_business_for_its_own_branch(console: Console) -> None:
    from cases import reports

    branch = console.login("branch_zz")
    resp = branch.post("/branch/self-settled", data={"settled_by": "driver", "issue": "damage", "amount": "150.50",
                                                     "settled_at": "2026-11-20T15:00", "person": "张师傅",
                                                     "note": "外箱破损，司机当场赔付", "branch": "上海分公司"})
    assert resp.status_code == 303
    page = branch.get("/branch").get_data(as_text=True)
    assert "外箱破损，司机当场赔付" in page and "¥150.50" in page and "司机" in page
    bad = branch.post("/branch/self-settled", data={"settled_by": "driver", "issue": "bribery", "amount": "1",
                                                    "settled_at": "2026-11-20T15:00"})
    assert bad.status_code == 400 and "选项无效" in bad.get_data(as_text=True)
    bad = branch.post("/branch/self-settled", data={"settled_by": "driver", "issue": "damage", "amount": "-5",
                                                    "settled_at": "2026-11-20T15:00"})
    assert bad.status_code == 400 and "is negative" in bad.get_data(as_text=True)
    with console.db.reading() as s:
        report = reports.build(s, "self-settled-monthly", reports.make_period(date(2026, 11, 1), date(2026, 12, 1)))
    assert report.total == 1 and report.amount == Decimal("150.50")
    # the branch comes from the user, never from the form
    assert [b.label for b in report.by_branch] == ["郑州分公司"]
