"""Deterministic demo workflows for one month: complaints, claims, inspections with rewards and
penalties, incidents (`cases.demo_incidents`), self-settled business, hotline calls and the agents' work
on them (`cases.demo_agents`: checks, wrap-up codes, consignee changes, a confirmed 重大事故) — what the
example reports in docs/reports are rendered from (`python -m cases.demo_workflows DIR`)."""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cases import claims, complaints, inspections
from cases.call_records import record_call
from cases.claims import EvidenceStore, LiabilityInput
from cases.demo_agents import seed_agent_work
from cases.demo_data import STAGES
from cases.demo_incidents import seed_incidents
from cases.follow_ups import record_follow_up
from cases.inspections import InspectionInput
from cases.views import CaseInput
from telephony.records import CallRecord

BRANCHES = ("郑州分公司", "上海分公司", "成都分公司", "武汉分公司", "广州分公司")
PEOPLE = ("王强", "李明", "赵军", "刘洋", "陈刚", "杨帆")
AGENTS = ("agent1001", "agent1002", "agent1003")
COMPLAINT_TYPES = ("delay", "delay", "damage", "attitude", "loss", "wrong_delivery", "charges")
CAUSES = ("transport_delay", "operation_error", "staff_attitude", "handling", "communication")
DEPTS = ("branch", "market_area", "trunk_vehicle", "warehouse")
ACCIDENTS = ("handling_damage", "handling_damage", "packaging", "traffic_accident", "loss", "water", "shortage")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def seed_month(s: Session, month: date, *, evidence_root: Path, tz: str = "Asia/Shanghai", seed: int = 6) -> None:
    """Fill one month (starting `month`, day 1) with demo workflow data and calls."""
    rnd = random.Random(seed)
    zone = ZoneInfo(tz)
    start = datetime.combine(month.replace(day=1), time(8, 30), zone).astimezone(UTC)
    store = EvidenceStore(root=evidence_root)

    def at(day: float, hour: float) -> datetime:
        return start + timedelta(days=day, hours=hour)

    for i in range(36):
        day = rnd.randrange(28)
        t0 = at(day, rnd.uniform(0, 9))
        c = complaints.open_complaint(
            s,
            CaseInput(
                kind="complaint",
                subject=f"投诉 {i + 1}：{rnd.choice(['货物延误', '外包装破损', '派送员态度差', '少件'])}",
            ),
            complaint_type=rnd.choice(COMPLAINT_TYPES),
            branch=rnd.choice(BRANCHES),
            by="agent1001",
            at=t0,
        )
        depth = rnd.randint(0, 5)
        if depth >= 1:
            complaints.analyse(
                s,
                c.id,
                cause=rnd.choice(CAUSES),
                responsible_department=rnd.choice(DEPTS),
                by="agent1001",
                at=t0 + timedelta(hours=1),
            )
        if depth >= 2:
            complaints.refer(
                s,
                c.id,
                department=rnd.choice(DEPTS),
                deadline=t0 + timedelta(days=1),
                by="agent1001",
                at=t0 + timedelta(hours=2),
            )
        if depth >= 3:
            complaints.confirm_rectification(
                s, c.id, rectification="已整改", by="supervisor", at=t0 + timedelta(hours=20)
            )
        if depth >= 4:
            complaints.verify(s, c.id, by="supervisor", at=t0 + timedelta(hours=21))
            complaints.tell_customer(s, c.id, reply="已回复客户", by="agent1002", at=t0 + timedelta(hours=22))
        if depth >= 5:
            record_follow_up(s, c.id, outcome="satisfied", by="agent1002", at=t0 + timedelta(hours=23))
            complaints.close(s, c.id, by="supervisor", at=t0 + timedelta(days=1, hours=1))
        del day

    for i in range(18):
        t0 = at(i * 1.5, rnd.uniform(0, 9))
        claimed = Decimal(rnd.choice([800, 1500, 2600, 4200, 9800, 62000])) + Decimal("0.50") * rnd.randint(0, 1)
        cl = claims.open_claim(
            s,
            CaseInput(kind="claim", subject=f"理赔 {i + 1}"),
            channel=rnd.choice(["hotline", "agent", "branch"]),
            accident_cause=rnd.choice(ACCIDENTS),
            claimed=claimed,
            branch=rnd.choice(BRANCHES),
            by="agent1003",
            at=t0,
        )
        depth = rnd.randint(0, 7)
        step = t0
        if depth >= 1:
            step += timedelta(hours=2)
            claims.start_investigation(s, cl.id, by="claims", at=step)
            claims.add_evidence(
                s,
                cl.id,
                filename=f"photo{i}.png",
                data=PNG + bytes([i]),
                content_type="image/png",
                store=store,
                by="claims",
                at=step,
            )
        if depth >= 2:
            step += timedelta(days=1)
            claims.fix_liability(
                s,
                cl.id,
                parties=[
                    LiabilityInput("branch", "70", cl.branch),
                    LiabilityInput(rnd.choice(["loader", "trunk_vehicle"]), "30"),
                ],
                by="claims",
                at=step,
            )
        if depth >= 3:
            step += timedelta(hours=5)
            offer = (claimed * Decimal("0.8")).quantize(Decimal("0.01"))
            claims.offer(s, cl.id, offered_by="company", amount=offer, by="claims", at=step)
            claims.offer(s, cl.id, offered_by="customer", amount=claimed, by="claims", at=step + timedelta(hours=1))
        if depth >= 4:
            step += timedelta(hours=3)
            claims.agree_amount(s, cl.id, amount=claimed, by="claims", at=step)
        if depth >= 5:
            claims.notify_parties(s, cl.id, by="claims", at=step + timedelta(hours=1))
        if depth >= 6:
            step += timedelta(days=1)
            if claimed > 5000:
                claims.file_insurer_claim(
                    s,
                    cl.id,
                    insurer="中国平安财产保险",
                    policy_no="PA-2026-001",
                    insurer_claim_no=f"PA-C-{i:04d}",
                    by="claims",
                    at=step,
                )
                claims.update_insurer_claim(
                    s,
                    cl.id,
                    status="paid",
                    payout=(claimed * Decimal("0.6")).quantize(Decimal("0.01")),
                    by="claims",
                    at=step,
                )
            claims.pay(s, cl.id, amount=claimed, by="claims", at=step + timedelta(hours=2))
        if depth >= 7:
            claims.close(s, cl.id, by="claims", at=step + timedelta(hours=3))

    kinds = (
        "freight_rate",
        "service_standard",
        "labour_discipline",
        "staff_appearance",
        "vehicle_appearance",
        "fund_transfer",
        "cod_handin",
        "freight_handin",
    )
    for i in range(30):
        t0 = at(i % 28, rnd.uniform(0, 8))
        kind, branch = kinds[i % len(kinds)], rnd.choice(BRANCHES)
        ok = rnd.random() < 0.6
        if kind == "freight_rate":
            data = InspectionInput(
                kind=kind,
                branch=branch,
                person=rnd.choice(PEOPLE),
                inspected_at=t0,
                quoted="120.00" if ok else "98.00",
                tariff="120.00",
            )
        elif kind in ("fund_transfer", "cod_handin", "freight_handin"):
            data = InspectionInput(
                kind=kind,
                branch=branch,
                person=rnd.choice(PEOPLE),
                inspected_at=t0,
                due_at=t0 - timedelta(days=1),
                done_at=t0 - timedelta(days=1, hours=2) if ok else t0 - timedelta(hours=3),
            )
        else:
            data = InspectionInput(kind=kind, branch=branch, person=rnd.choice(PEOPLE), inspected_at=t0, passed=ok)
        insp = inspections.record_inspection(s, data, by="inspector")
        if not insp.passed:
            f = inspections.add_finding(
                s, insp.id, description="需整改", deadline=t0 + timedelta(days=3), by="inspector"
            )
            if rnd.random() < 0.6:
                inspections.rectify_finding(s, f.id, rectification="已整改", by="branch", at=t0 + timedelta(days=2))
                if rnd.random() < 0.7:
                    inspections.verify_finding(s, f.id, by="inspector", at=t0 + timedelta(days=2, hours=4))
            inspections.record_sanction(
                s,
                kind="penalty",
                branch=branch,
                person=insp.person,
                amount=rnd.choice(["50.00", "100.00", "200.00"]),
                reason=f"{insp.kind.label_zh}不合格",
                decided_at=t0 + timedelta(hours=1),
                inspection_id=insp.id,
                by="inspector",
            )
        elif rnd.random() < 0.3:
            inspections.record_sanction(
                s,
                kind="reward",
                branch=branch,
                person=insp.person,
                amount="100.00",
                reason=f"{insp.kind.label_zh}优秀",
                decided_at=t0 + timedelta(hours=1),
                inspection_id=insp.id,
                by="inspector",
            )

    for i in range(24):
        t0 = at(i % 28, rnd.uniform(0, 9))
        inspections.record_self_settled(
            s,
            settled_by=rnd.choice(["market", "branch", "driver", "loader"]),
            branch=rnd.choice(BRANCHES),
            person=rnd.choice(PEOPLE),
            issue=rnd.choice(COMPLAINT_TYPES),
            settled_at=t0,
            amount=rnd.choice(["0", "50.00", "120.00", "300.00"]),
            note="现场协商解决",
            by="supervisor",
        )

    paths = random.Random(seed + 15)  # the IVR paths: the calls drawn from `rnd` stay as they were
    for i in range(420):
        t0 = at(i % 28, rnd.uniform(0, 10))
        hotline = "service" if rnd.random() < 0.75 else "claims"
        queue = {"service": rnd.choice(["service-inquiry", "service-complaints"]), "claims": "claims"}[hotline]
        r = rnd.random()
        wait = round(rnd.expovariate(1 / 18), 1)
        if r < 0.8:
            outcome, agent, talk = "answered", rnd.choice(AGENTS), round(rnd.uniform(40, 420), 1)
        elif r < 0.93:
            outcome, agent, talk = "abandoned_in_queue", None, None
        else:
            outcome, agent, talk, wait, queue = "abandoned_in_ivr", None, None, 0.0, None  # type: ignore[assignment]
        ts = t0.timestamp()
        path = _demo_ivr_path(paths, hotline, queue, t0.astimezone(zone).date(), i)
        if outcome == "abandoned_in_ivr" and path.removesuffix(">hangup").endswith("goodbye"):
            outcome = "self_served"  # as telephony stores a call the IVR ended with its goodbye
        record_call(
            s,
            CallRecord(
                linkedid=f"demo-{month:%Y%m}-{i:05d}",
                caller=f"1380013{i:04d}",
                dialed="4008001" if hotline == "service" else "4008002",
                hotline=hotline,
                queue=queue,
                outcome=outcome,
                agent=agent,
                agents=[agent] if agent else [],
                wait_s=wait,
                talk_s=talk,
                started_at=ts,
                answered_at=ts + wait if agent else None,
                ended_at=ts + wait + (talk or 0),
                ivr_path=path,
            ),
        )

    for i in range(30):  # out of hours: the IVR says the hotline is closed and offers a callback
        t0 = at(i % 28, paths.uniform(13, 22.5))  # 21:30 to 07:00
        hotline = "service" if paths.random() < 0.7 else "claims"
        case_no = f"C{t0.astimezone(zone):%Y%m%d}-9{i:03d}"
        ts = t0.timestamp()
        record_call(
            s,
            CallRecord(
                linkedid=f"demo-{month:%Y%m}-ooh-{i:03d}",
                caller=f"1390013{i:04d}",
                dialed="4008001" if hotline == "service" else "4008002",
                hotline=hotline,
                outcome="out_of_hours",
                started_at=ts,
                ended_at=ts + paths.uniform(8, 30),
                ivr_path=paths.choice(["closed>goodbye", f"closed>case={case_no}>callback>goodbye", "closed>hangup"]),
            ),
        )
    seed_incidents(s, month, tz=tz)  # incidents (突发事件), penalties collected (已收缴)
    seed_agent_work(s, start)  # checks, wrap-up codes, consignee changes, a confirmed 重大事故


def _demo_ivr_path(rnd: random.Random, hotline: str, queue: str | None, day: date, i: int) -> str:
    """An IVR path (ivr.flow's steps) that fits a demo call: to the agent's `queue`, or (no queue) hung up in
    the IVR or served by it, ending with goodbye."""
    waybill = f"8000{rnd.randrange(10**8):08d}"
    status = rnd.choice(STAGES)
    case_no = f"C{day:%Y%m%d}-8{i:03d}"
    claim_no = f"{day:%Y%m%d}{rnd.randrange(1, 60):04d}"
    said = f"recorded={rnd.uniform(4, 60):.1f}s"
    if queue is not None:
        options = {
            "service-inquiry": [
                f"menu=0:agent>agent={queue}",
                f"menu=1:tracking>waybill={waybill}>status={status}>agent={queue}",
                f"menu=1:tracking>waybill:not_found={waybill[:-1]}7>waybill={waybill}>status={status}>agent={queue}",
                f"menu:timeout>menu:timeout>menu:timeout>menu:too_many_tries>agent={queue}",
                f"menu=3:change_phone>waybill:invalid=8000>waybill:timeout>waybill:timeout>waybill:too_many_tries"
                f">agent={queue}",
            ],
            "service-complaints": [
                f"menu=2:complaint>waybill={waybill}>{said}>case={case_no}>agent={queue}",
                f"menu=2:complaint>waybill:skipped>{said}>case={case_no}>agent={queue}",
            ],
            "claims": [
                f"menu=1:new_claim>waybill={waybill}>{said}>case={case_no}>agent={queue}",
                f"menu=2:claim_status>claim={claim_no}>claim_status=in_progress>agent={queue}",
                f"menu=0:agent>agent={queue}",
            ],
        }[queue]
        return rnd.choice(options)
    if hotline == "claims":
        return rnd.choice([
            f"menu=2:claim_status>claim={claim_no}>claim_status=in_progress>goodbye",
            "hangup",
            "menu=1:new_claim>hangup",
            f"menu=1:new_claim>waybill:skipped>{said}:hangup>case={case_no}>hangup",
            "menu=2:claim_status>claim:timeout>hangup",
        ])
    return rnd.choice([
        f"menu=1:tracking>waybill={waybill}>status={status}>goodbye",
        f"menu=1:tracking>waybill={waybill}>status={status}>goodbye",
        f"menu=3:change_phone>waybill={waybill}>phone=1391234{i:04d}>phone:confirmed>case={case_no}>goodbye",
        "hangup",
        "menu:timeout>hangup",
        "menu=1:tracking>hangup",
        "menu=1:tracking>waybill:invalid=80001234>hangup",
        f"menu=2:complaint>waybill:skipped>{said}:hangup>case={case_no}>hangup",
        "menu=0:agent>agent=service>hangup",
    ])


def main(argv: list[str]) -> int:
    """Render one XLSX and one PDF of every report from a fresh SQLite demo database into DIR."""
    import tempfile

    from cases import reports
    from cases.db import Database

    out = Path(argv[0]) if argv else Path("docs/reports")
    out.mkdir(parents=True, exist_ok=True)
    month = date(2026, 11, 1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/demo.db")
        db.migrate()
        with db.session() as s:
            seed_month(s, month, evidence_root=Path(tmp) / "evidence")
        with db.session() as s:
            for name in reports.REPORTS:
                period = (
                    reports.make_period(date(2026, 11, 9), date(2026, 11, 16))
                    if name == "complaints-weekly"
                    else reports.make_period(month, date(2026, 12, 1))
                )
                for fmt in ("xlsx", "pdf"):
                    (out / f"{name}.{fmt}").write_bytes(reports.render(s, name, period, fmt))
                    print(out / f"{name}.{fmt}")
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
