"""Deterministic demo incidents (突发事件) for one month, with their measures, and the month's penalties
partly collected (已收缴) — part of the demo month of `cases.demo_workflows.seed_month`, drawn from a random
generator of their own so the other demo data stay as they were."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import incidents, sanctions
from cases.incidents import IncidentInput
from cases.models.workflows import Sanction
from cases.vocab import SanctionKind

# (kind, branch, place, what happened, people involved, reported by, measures, result; "" = still open)
DEMO_INCIDENTS = (
    ("traffic_accident", "郑州分公司", "京港澳高速 K689", "干线车辆追尾，车厢后门变形，部分货物受损", "司机 王强",
     "司机 王强", ("报警，通知保险公司到场查勘", "调派车辆转运货物"), "货物已转运，受损货物转理赔"),
    ("fire", "武汉分公司", "二号仓库", "仓库配电箱冒烟起火，及时扑灭", "仓管员 刘洋", "仓管员 刘洋",
     ("切断电源，组织灭火", "清点受影响货物"), "无货物损失，已请电工检修线路"),
    ("theft_robbery", "广州分公司", "白云网点", "夜间网点被撬，丢失代收货款现金", "", "网点经理 陈刚",
     ("报警并保护现场",), ""),
    ("mass_incident", "上海分公司", "嘉定网点门口", "十余名收货人聚集网点，要求当天提货", "收货人十余名", "网点经理",
     ("安排专人接待，登记诉求", "协调加班派送"), "当日派送完毕，人员散去"),
    ("system_failure", "成都分公司", "开单系统", "网络中断两小时，无法开单查询", "", "客服员 agent1002",
     (), ""),
)


def seed_incidents(s: Session, month: date, *, tz: str = "Asia/Shanghai", seed: int = 17) -> None:
    """The month's demo incidents in every stage, a penalty from one of them, and about two in three of the
    month's penalties collected a few days after they were decided."""
    rnd = random.Random(seed)
    zone = ZoneInfo(tz)
    start = datetime.combine(month.replace(day=1), time(7, 0), zone).astimezone(UTC)
    first_id = None
    for n, (kind, branch, place, what, people, reporter, measures, result) in enumerate(DEMO_INCIDENTS):
        t0 = start + timedelta(days=3 + 5 * n, hours=rnd.uniform(0, 12))
        view = incidents.record_incident(s, IncidentInput(kind=kind, occurred_at=t0, branch=branch, place=place,
                                                          description=what, people=people, reported_by=reporter),
                                         by="inspector", now=t0 + timedelta(minutes=20))
        first_id = first_id or view.id
        for k, measure in enumerate(measures):
            when = t0 + timedelta(minutes=40 * (k + 1))
            if k == 0:
                incidents.handle_incident(s, view.id, measure=measure, by="inspector", at=when)
            else:
                incidents.add_measure(s, view.id, measure=measure, by="inspector", at=when)
        if result:
            incidents.close_incident(s, view.id, result=result, by="inspector", at=t0 + timedelta(hours=6))
    if first_id is not None:
        sanctions.record_sanction(s, kind="penalty", branch="郑州分公司", person="王强", amount="300.00",
                                  reason="未按规定保持车距", decided_at=start + timedelta(days=5),
                                  incident_id=first_id, by="inspector")
    end = start + timedelta(days=31)
    penalties = s.scalars(select(Sanction).where(
        Sanction.kind == SanctionKind.PENALTY.value, Sanction.decided_at >= start, Sanction.decided_at < end,
    ).order_by(Sanction.id)).all()
    for x in penalties:
        if rnd.random() < 0.67:
            sanctions.collect_penalty(s, x.id, by="inspector", at=x.decided_at + timedelta(days=rnd.randint(1, 5)))
