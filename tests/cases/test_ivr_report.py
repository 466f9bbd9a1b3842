"""The IVR report (语音导航报表) against hand-computed figures on SQLite and PostgreSQL: calls of both
hotlines over two local days at UTC+8 and the period's edges, every way a call leaves the IVR; the
node naming of every step ivr.flow writes; the XLSX and PDF show the figures."""

from __future__ import annotations

import ast
import io
import subprocess
import tomllib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cases import reports
from cases.call_records import record_call
from cases.db import Database
from cases.ivr_path import NODES, exit_node, ivr_node, ivr_steps, self_service
from cases.reports.ivr import IvrEnd, IvrLine, NodeCount, ivr_end
from telephony.records import CallRecord

CST = timezone(timedelta(hours=8))
TWO_DAYS = reports.make_period(date(2026, 11, 2), date(2026, 11, 4), "Asia/Shanghai")
WAYBILL = "800012345678"
FLOW = Path(__file__).resolve().parents[2] / "ivr" / "flow.py"


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CST)


# (linkedid, local start, hotline, outcome, IVR path)
CALLS: tuple[tuple[str, datetime, str | None, str, str | None], ...] = (
    # service, 11-02
    ("s1", t(2, 9), "service", "answered", f"menu=1:tracking>waybill={WAYBILL}>status=运输中>agent=service"),
    ("s2", t(2, 0, 0), "service", "abandoned_in_queue", "menu=0:agent>agent=service"),  # 11-01 16:00 UTC
    ("s3", t(2, 10), "service", "abandoned_in_ivr", f"menu=1:tracking>waybill={WAYBILL}>status=运输中>goodbye"),
    ("s4", t(2, 11), "service", "abandoned_in_ivr", "menu=1:tracking>waybill:invalid=123>hangup"),
    ("s5", t(2, 12), "service", "abandoned_in_ivr",
     "menu=2:complaint>waybill:skipped>recorded=5.7s:hangup>case=C20261102-0001>hangup"),
    # service, 11-03
    ("s6", t(3, 7), "service", "abandoned_in_ivr", "hangup"),  # 11-02 23:00 UTC: local day 11-03
    ("s7", t(3, 22, 30), "service", "out_of_hours", "closed>case=C20261103-0002>callback>goodbye"),
    ("s8", t(3, 23, 59), "service", "out_of_hours", None),  # the path was not recorded
    ("s9", t(3, 10), "service", "callback_offered",
     "menu=0:agent>agent=service>wait_limit=service>case=C20261103-0003>callback>goodbye"),
    ("s10", t(3, 11), "service", "abandoned_in_ivr",
     f"menu=3:change_phone>waybill={WAYBILL}>phone=13900139000>phone:confirmed>case=C20261103-0004>goodbye>hangup"),
    ("s11", t(3, 12), "service", "unanswered",
     "menu:timeout>menu:timeout>menu:timeout>menu:too_many_tries>agent=service"),
    ("s12", t(3, 13), "service", "answered",
     f"menu=2:complaint>waybill={WAYBILL}>recorded=12.0s>case=C20261103-0005>agent=complaints"),
    ("s13", t(3, 14), "service", "abandoned_in_ivr", "menu=0:agent>agent=service"),  # gone before the queue
    ("s14", t(3, 15), "service", "interrupted", f"menu=1:tracking>waybill={WAYBILL}"),
    # claims
    ("c1", t(2, 9), "claims", "answered",
     "menu=2:claim_status>claim=202611020001>claim_status=in_progress>agent=claims"),
    ("c2", t(2, 15), "claims", "abandoned_in_ivr",
     "menu=2:claim_status>claim=202611020001>claim_status=closed>goodbye"),
    ("c3", t(2, 16), "claims", "abandoned_in_ivr", "menu=1:new_claim>waybill:skipped>hangup"),
    ("c4", t(3, 19), "claims", "out_of_hours", "closed>hangup"),
    ("c5", t(3, 9), "claims", "abandoned_in_queue",
     f"menu=1:new_claim>waybill={WAYBILL}>recorded=30.2s>case=C20261103-0006>agent=claims"),
    ("c6", t(3, 9, 30), "claims", "abandoned_in_ivr", "announcement=storm-delay>menu:invalid=7>hangup"),
    # not in the report
    ("x1", t(2, 9, 30), "service", "answered", None),  # straight to the queue (no IVR)
    ("x2", t(1, 23, 59), "service", "abandoned_in_ivr", "hangup"),  # 11-01 local: before the period
    ("x3", t(4, 0, 0), "service", "abandoned_in_ivr", "hangup"),  # the period's end is exclusive
    ("x4", t(2, 9), None, "internal", None),
    ("x5", t(3, 9), "service", "pending", "menu=0:agent>agent=service"),
    ("x6", t(3, 9), "claims", "rejected", None),
    ("x7", t(3, 9), "claims", "abandoned_in_queue", ""),  # an empty path is no path
)


def seed(s: Session) -> None:
    for linkedid, at, hotline, outcome, path in CALLS:
        answered = outcome == "answered"
        record_call(s, CallRecord(
            linkedid=linkedid, caller="13800138000", hotline=hotline, outcome=outcome, ivr_path=path,
            agent="agent1001" if answered else None, started_at=at.timestamp(),
            answered_at=at.timestamp() + 12 if answered else None, ended_at=at.timestamp() + 90))


@pytest.fixture
def ivr_db(db: Database) -> Database:
    with db.session() as s:
        seed(s)
    return db


def figures(x: IvrLine) -> tuple[int, ...]:
    return (x.entered, x.to_agent, x.answered, x.abandoned_in_queue, x.unanswered_in_queue, x.self_served,
            x.left_in_ivr, x.out_of_hours, x.out_of_hours_callbacks, x.other, x.cases_registered)


def nodes(counts: tuple[NodeCount, ...]) -> list[tuple[str, int, Decimal]]:
    return [(n.node, n.count, n.share_percent) for n in counts]


def test_ivr_report_figures(ivr_db: Database) -> None:
    with ivr_db.session() as s:
        r = reports.ivr_report(s, TWO_DAYS)
    #                   entered to_agent answered q_aband q_unans self left ooh ooh_cb other cases
    assert figures(r.total) == (20, 6, 3, 2, 1, 4, 6, 3, 1, 1, 6)
    assert (r.total.answered_percent, r.total.self_served_percent, r.total.left_percent) == (
        Decimal("15.0"), Decimal("20.0"), Decimal("30.0"))
    assert [x.hotline for x in r.by_hotline] == ["service", "claims"]
    service, claims = r.by_hotline
    assert figures(service) == (14, 4, 2, 1, 1, 3, 4, 2, 1, 1, 5)
    assert (service.answered_percent, service.self_served_percent, service.left_percent) == (
        Decimal("14.3"), Decimal("21.4"), Decimal("28.6"))
    assert figures(claims) == (6, 2, 1, 1, 0, 1, 2, 1, 0, 0, 1)
    # where callers left: the last node before the hang-up (a message ended by hanging up: recording)
    assert nodes(r.total.left_at) == [("menu", 2, Decimal("33.3")), ("waybill", 2, Decimal("33.3")),
                                      ("recording", 1, Decimal("16.7")), ("agent", 1, Decimal("16.7"))]
    assert [(n.label, n.label_en) for n in r.total.left_at][:2] == [
        ("主菜单", "main menu"), ("输入运单号", "waybill number")]
    assert nodes(service.left_at) == [("menu", 1, Decimal("25.0")), ("waybill", 1, Decimal("25.0")),
                                      ("recording", 1, Decimal("25.0")), ("agent", 1, Decimal("25.0"))]
    assert nodes(claims.left_at) == [("menu", 1, Decimal("50.0")), ("waybill", 1, Decimal("50.0"))]
    assert nodes(r.total.served) == [("tracking", 1, Decimal("25.0")), ("change_phone", 1, Decimal("25.0")),
                                     ("claim_status", 1, Decimal("25.0")), ("callback", 1, Decimal("25.0"))]


def test_ivr_report_per_hotline_and_local_day(ivr_db: Database) -> None:
    with ivr_db.session() as s:
        r = reports.ivr_report(s, TWO_DAYS)
    by_day = {(x.hotline, x.day): x for x in r.by_day}
    assert list(by_day) == [("service", date(2026, 11, 2)), ("service", date(2026, 11, 3)),
                            ("claims", date(2026, 11, 2)), ("claims", date(2026, 11, 3))]
    s2, s3 = by_day["service", date(2026, 11, 2)], by_day["service", date(2026, 11, 3)]
    assert figures(s2) == (5, 2, 1, 1, 0, 1, 2, 0, 0, 0, 1)  # s2 at local midnight is 11-02
    assert (s2.answered_percent, s2.left_percent) == (Decimal("20.0"), Decimal("40.0"))
    assert nodes(s2.left_at) == [("waybill", 1, Decimal("50.0")), ("recording", 1, Decimal("50.0"))]
    assert figures(s3) == (9, 2, 1, 0, 1, 2, 2, 2, 1, 1, 4)  # s6 at 07:00 local (23:00 UTC the day before)
    assert nodes(s3.left_at) == [("menu", 1, Decimal("50.0")), ("agent", 1, Decimal("50.0"))]
    assert nodes(s3.served) == [("change_phone", 1, Decimal("50.0")), ("callback", 1, Decimal("50.0"))]
    assert figures(by_day["claims", date(2026, 11, 2)]) == (3, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0)
    assert figures(by_day["claims", date(2026, 11, 3)]) == (3, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1)
    assert [(x.day, x.entered, x.answered, x.left_in_ivr) for x in r.days] == [
        (date(2026, 11, 2), 8, 2, 3), (date(2026, 11, 3), 12, 1, 3)]
    # a period of one day on either side of the edge sees its own calls only
    with ivr_db.session() as s:
        first = reports.ivr_report(s, reports.make_period(date(2026, 11, 1), date(2026, 11, 2)))
        quiet = reports.ivr_report(s, reports.make_period(date(2026, 11, 5), date(2026, 11, 6)))
    assert figures(first.total)[:1] == (1,) and nodes(first.total.left_at) == [("menu", 1, Decimal("100.0"))]
    assert (quiet.total.entered, quiet.by_hotline, quiet.by_day, len(quiet.days)) == (0, (), (), 1)
    assert quiet.total.answered_percent == Decimal("0.0")


def test_ivr_report_renders_its_figures(ivr_db: Database, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    with ivr_db.session() as s:
        xlsx = reports.render(s, "ivr", TWO_DAYS, "xlsx")
        pdf = reports.render(s, "ivr", TWO_DAYS, "pdf")
        page = reports.produce(s, "ivr", TWO_DAYS, reports.PAGE)
    assert isinstance(page, reports.document.ReportDoc) and page.title == "语音导航报表 IVR report"
    wb = load_workbook(io.BytesIO(xlsx))
    summary = {wb["概要"].cell(i, 1).value: wb["概要"].cell(i, 2).value for i in range(4, 11)}
    assert summary == {"进入导航": 20, "接通人工": 3, "队列中放弃": 2, "导航中挂机": 6, "自助完成": 4,
                       "非工作时间": 3, "接通率%": 15.0}
    sheet = wb["按热线"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert rows[0][:4] == ["热线", "进入导航", "转人工", "接通人工"]
    assert rows[1][:4] == ["客服热线", 14, 4, 2] and rows[2][:4] == ["理赔热线", 6, 2, 1]
    assert rows[3][:8] == ["合计", 20, 6, 3, 15.0, 2, 1, 6]
    left = [[c.value for c in row] for row in wb["挂机节点"].iter_rows(min_row=4)]
    assert left == [["主菜单", "main menu", 1, 1, 2, 33.3], ["输入运单号", "waybill number", 1, 1, 2, 33.3],
                    ["录音留言", "recorded message", 1, 0, 1, 16.7], ["转人工服务", "to an agent", 1, 0, 1, 16.7]]
    days = [[c.value for c in row][:3] for row in wb["按热线和日期"].iter_rows(min_row=4)]
    assert days == [["2026-11-02", "客服热线", 5], ["2026-11-03", "客服热线", 9],
                    ["2026-11-02", "理赔热线", 3], ["2026-11-03", "理赔热线", 3]]
    assert sum(len(ws._charts) for ws in wb.worksheets) == 3  # type: ignore[attr-defined]
    (tmp_path / "ivr.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "ivr.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "语音导航报表 IVR report" in text and "2026-11-02 – 2026-11-03 (Asia/Shanghai)" in text
    assert "输入运单号" in text and "录音留言" in text and "回电登记" in text
    total_row = next(line for line in text.splitlines() if line.strip().startswith("合计") and "15.0" in line)
    assert total_row.split()[:5] == ["合计", "20", "6", "3", "15.0"]


def test_every_step_ivr_flow_writes_has_a_named_node() -> None:
    """Each `st.step(...)` of ivr/flow.py, its values filled in (the collected item's name from the
    `_collect` calls, the menus' actions from ivr/data/*.toml, else a digit), maps to a node of the table."""
    tree = ast.parse(FLOW.read_text(encoding="utf-8"))
    calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)]
    whats = sorted({c.args[3].value for c in calls if c.func.attr == "_collect"  # type: ignore[attr-defined]
                    and isinstance(c.args[3], ast.Constant)})
    actions = sorted({o["action"] for f in (FLOW.parent / "data").glob("*.toml") if f.name != "prompts.toml"
                      for o in tomllib.loads(f.read_text(encoding="utf-8")).get("options", [])})
    fill = {"what": whats, "option.action": actions}

    def expand(node: ast.expr) -> list[str]:
        if isinstance(node, ast.Constant):
            return [str(node.value)]
        if isinstance(node, ast.IfExp):  # "offer:timeout" if not digits else f"offer={digits}"
            return expand(node.body) + expand(node.orelse)
        if isinstance(node, ast.BinOp):  # f"recorded=…" + (f":{ended}" if ended else "")
            return expand(node.left)
        assert isinstance(node, ast.JoinedStr), ast.unparse(node)
        out = [""]
        for part in node.values:
            values = ([str(part.value)] if isinstance(part, ast.Constant)
                      else fill.get(ast.unparse(part.value), ["1"]))  # type: ignore[attr-defined]
            out = [o + v for o in out for v in values]
        return out

    samples = [step for c in calls if c.func.attr == "step" for step in expand(c.args[0])]
    assert whats == ["claim", "phone", "waybill"] and "tracking" in actions and "new_claim" in actions
    assert {"closed", "hangup", "menu=1:tracking", "menu=1:claim_status", "phone:retry", "offer:timeout",
            "waybill:too_many_tries"} <= set(samples)
    unnamed = {step: ivr_node(step) for step in samples if ivr_node(step) not in NODES}
    assert unnamed == {}


@pytest.mark.parametrize(("step", "node"), [
    ("menu=1:tracking", "tracking"), ("menu=0:agent", "agent"), ("menu:timeout", "menu"),
    ("menu:invalid=7", "menu"), ("menu:too_many_tries", "menu"), ("back", "menu"),
    (f"waybill={WAYBILL}", "waybill"), ("waybill:invalid=123", "waybill"), ("waybill:skipped", "waybill"),
    ("waybill:none=12", "waybill"), ("status=运输中", "status"), ("phone:retry", "phone"),
    ("claim:not_found=202001010001", "claim"), ("claim_status=paid", "claim_result"),
    ("menu=2:claim_status", "claim_status"), ("recorded=5.7s", "recording"), ("recorded=5.0s:hangup", "recording"),
    ("case=C20261207-0003", "case"), ("agent=complaints", "agent"), ("wait_limit=service", "wait_limit"),
    ("offer:timeout", "wait_limit"), ("offer=7", "wait_limit"), ("announcement=weather-delay", "announcement"),
    ("closed", "closed"), ("callback", "callback"), ("goodbye", "goodbye"), ("error", "error"), ("hangup", "hangup"),
    ("something_new=1", "something_new"),
])
def test_ivr_node(step: str, node: str) -> None:
    assert ivr_node(step) == node


def test_where_callers_left_and_what_the_ivr_served() -> None:
    assert exit_node(ivr_steps("menu=1:tracking>hangup")) == "tracking"
    assert exit_node(ivr_steps("menu=2:complaint>waybill:skipped>recorded=5.0s:hangup>case=C20261207-0001>hangup")) \
        == "recording"
    assert exit_node(ivr_steps("hangup")) == exit_node(ivr_steps(None)) == "menu"
    assert exit_node(ivr_steps(f"menu=1:tracking>waybill={WAYBILL}>status=运输中>back>hangup")) == "menu"
    assert ivr_steps(" a > >b ") == ("a", "b")
    assert self_service(ivr_steps(f"menu=1:tracking>waybill={WAYBILL}>status=运输中>goodbye")) == "tracking"
    assert self_service(ivr_steps(f"menu=1:tracking>waybill={WAYBILL}>status=运输中>goodbye>hangup")) == "tracking"
    assert self_service(ivr_steps(f"menu=1:tracking>waybill={WAYBILL}>status=运输中>back>menu=0:agent>agent=service")) \
        is None
    assert self_service(ivr_steps("menu=0:agent>agent=service>wait_limit=service>case=C1>callback>goodbye")) \
        == "callback"
    assert self_service(ivr_steps("menu=1:tracking>hangup")) is None
    assert ivr_end("abandoned_in_ivr", ivr_steps("closed>goodbye")) is IvrEnd.OUT_OF_HOURS
    assert ivr_end("callback_offered", ivr_steps("wait_limit=service>hangup")) is IvrEnd.LEFT_IN_IVR
    assert ivr_end("answered", ivr_steps("")) is IvrEnd.ANSWERED
    assert ivr_end("interrupted", ivr_steps("menu=0:agent>agent=service")) is IvrEnd.OTHER
