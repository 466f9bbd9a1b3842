"""Department desks without a unit list what their liable parties owe on claims, as the branch desk does:
仓管 (warehouse) the warehouses' and the loaders' (装卸工) lines, 干线车辆 the trunk vehicles' (drivers');
settlement and the other departments never liable see no such section; refused claims owe nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cases import claim_decisions
from cases import claims as cl
from cases.accounts import create_user
from cases.claim_owed import owed_by_department
from cases.claims import EvidenceStore, LiabilityInput
from cases.errors import InvalidWorkflowInput
from cases.models.base import utcnow
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _liable(console: Console, store: EvidenceStore, subject: str, parties: list[LiabilityInput]) -> int:
    with console.db.session() as s:
        cid = cl.open_claim(s, CaseInput(kind="claim", subject=subject), channel="hotline",
                            accident_cause="handling_damage", claimed="2000", branch="郑州分公司", by="agent1001",
                            at=utcnow() - timedelta(days=1)).id
        cl.start_investigation(s, cid, by="claims")
        cl.add_evidence(s, cid, filename="p.png", data=PNG, content_type="image/png", store=store, by="claims")
        cl.fix_liability(s, cid, parties=parties, by="claims")
    return cid


def test_warehouse_and_trunk_desks_list_what_they_owe(console: Console, tmp_path: Path) -> None:
    store = EvidenceStore(root=tmp_path / "ev")
    with console.db.session() as s:
        create_user(s, "trunk1", "password-123", "branch", "干线调度", department="trunk_vehicle")
        create_user(s, "settle1", "password-123", "branch", "结算", department="settlement")
    shared = _liable(console, store, "仓库装卸破损", [LiabilityInput("warehouse", "50", "郑州中转仓"),
                                                     LiabilityInput("loader", "50", "赵六")])
    truck = _liable(console, store, "干线运输途中破损", [LiabilityInput("trunk_vehicle", "100", "豫A12345 王师傅")])
    branch_only = _liable(console, store, "分公司破损", [LiabilityInput("branch", "100", "郑州分公司")])
    refused = _liable(console, store, "已拒赔的仓库理赔", [LiabilityInput("warehouse", "100", "上海仓")])
    with console.db.session() as s:
        claim_decisions.refuse(s, refused, reason="非运输责任", by="claims")
        cl.offer(s, shared, offered_by="company", amount="1000", by="claims")
        cl.agree_amount(s, shared, amount="1000", by="claims")
        cl.notify_parties(s, shared, by="claims")

    with console.db.reading() as s:
        wh = owed_by_department(s, "warehouse")
        assert [(x.claim_id, x.party.value, x.name, x.owed) for x in wh] == [
            (shared, "warehouse", "郑州中转仓", Decimal("500.00")), (shared, "loader", "赵六", Decimal("500.00"))]
        assert {x.claim_id for x in owed_by_department(s, "trunk_vehicle")} == {truck}
        assert owed_by_department(s, "settlement") == ()
        assert owed_by_department(s, "branch") == ()  # a unit department without its unit: nothing
        assert {x.claim_id for x in owed_by_department(s, "branch", "郑州分公司")} == {branch_only}
        with pytest.raises(InvalidWorkflowInput):
            owed_by_department(s, "canteen")

    page = console.login("warehouse").get("/branch").get_data(as_text=True)
    assert 'data-testid="branch-owed"' in page and 'data-testid="branch-owed-parties">仓管 · 装卸工<' in page
    assert "仓库装卸破损" in page and "郑州中转仓" in page and "赵六" in page
    assert "干线运输途中破损" not in page and "分公司破损" not in page and "已拒赔的仓库理赔" not in page
    assert page.count("¥500.00") == 2 and 'data-testid="branch-owed-total">¥1,000.00<' in page
    assert 'data-testid="branch-claims"' not in page  # no unit: no claims of a branch to upload evidence to

    page = console.login("trunk1", "password-123").get("/branch").get_data(as_text=True)
    assert "干线运输途中破损" in page and "豫A12345 王师傅" in page and "仓库装卸破损" not in page
    assert "金额待确定" in page and "100 %" in page

    page = console.login("settle1", "password-123").get("/branch").get_data(as_text=True)
    assert 'data-testid="branch-owed"' not in page
