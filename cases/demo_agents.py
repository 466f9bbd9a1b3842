"""The demo month's work of the agents and the supervisor beside the desks' (part of
`cases.demo_workflows.seed_month`, from a random generator of its own so the rest of the month stays as it
was): service checks (质检评分) of the agents' answered calls and the wrap-up codes (话后代码) they chose,
so `agents-monthly` has figures; consignee changes requested, approved and refused (客服员 3.4) in the
month, for the weekly complaint summary; one 重大事故 the supervisor confirmed; one claim refused (拒赔) and
one the customer withdrew (客户撤回)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import changes
from cases.call_checks import CallAnalysisInput, FindingInput, record_call_analysis
from cases.case_records import create_case
from cases.claim_decisions import decide_major, refuse, withdraw
from cases.models.calls import Call
from cases.models.workflows import Claim
from cases.shipment_records import create_shipment, find_shipment
from cases.views import CaseInput, ShipmentInput
from cases.wrap_ups import record_wrap_up

# the console's default wrap-up codes (agent_console.config.DEFAULT_WRAP_UP_CODES), with their zh-CN labels
WRAP_UP_CODES = (("resolved", "已解决"), ("info_given", "已告知"), ("follow_up", "需跟进"), ("referred", "已转交"),
                 ("complaint", "投诉受理"), ("wrong_number", "打错电话"))
WRAP_UP_WEIGHTS = (30, 35, 12, 8, 10, 5)
FINDINGS = (  # (rule, message, deduction): cases.call_checks' rules
    ("greeting", "开头未使用标准问候语", 5),
    ("closing", "结束时未使用标准结束语", 5),
    ("silence", "长时间静音（超过 15 秒）", 10),
    ("talk_over", "抢话、打断客户", 5),
    ("taboo", "使用服务禁语", 20),
)
AGENT_LEVEL = {"agent1001": 0.08, "agent1002": 0.2, "agent1003": 0.35}  # how often a rule is failed
DEMO_CHANGE_WAYBILLS = (("800090000011", "郑州", "上海", "周敏", "13812340011", "上海市浦东新区张江路 88 号"),
                        ("800090000012", "成都", "武汉", "吴刚", "13812340012", "武汉市洪山区珞喻路 66 号"))


def seed_agent_work(s: Session, month_start: datetime, *, seed: int = 17) -> None:
    """Checks and wrap-ups of the month's answered demo calls, change requests, a confirmed 重大事故."""
    rnd = random.Random(seed)
    _checks_and_wrap_ups(s, month_start, rnd)
    _changes(s, month_start, rnd)
    _major(s, month_start)
    _ended(s, month_start)


def _checks_and_wrap_ups(s: Session, month_start: datetime, rnd: random.Random) -> None:
    prefix = f"demo-{month_start.astimezone(UTC):%Y%m}-"
    answered = s.execute(
        select(Call.linkedid, Call.agent, Call.started_at, Call.ended_at)
        .where(Call.linkedid.like(f"{prefix}%"), Call.agent.is_not(None))
        .order_by(Call.linkedid)
    ).all()
    for i, (linkedid, who, started, ended) in enumerate(answered):
        agent = str(who)  # answered: an agent took it
        if i % 3 == 0:  # the supervisor checks every third answered call
            level = AGENT_LEVEL.get(agent, 0.2)
            found = tuple(FindingInput(rule, msg, deduction=points) for rule, msg, points in FINDINGS
                          if rnd.random() < level * (0.4 if rule == "taboo" else 1))
            record_call_analysis(s, linkedid, CallAnalysisInput(score=max(0, 100 - sum(f.deduction for f in found)),
                                                                findings=found))
        if i % 2 == 0:  # a case noted on every other answered call, with the agent's wrap-up code
            code, label = rnd.choices(WRAP_UP_CODES, WRAP_UP_WEIGHTS)[0]
            case = create_case(s, CaseInput(kind="inquiry", subject=f"来电咨询 {i + 1}", linkedid=linkedid), agent)
            done = ended if ended is not None else started
            record_wrap_up(s, case.id, code, label, agent, at=done + timedelta(seconds=20) if done else None)


def _changes(s: Session, month_start: datetime, rnd: random.Random) -> None:
    for waybill, origin, destination, name, phone, address in DEMO_CHANGE_WAYBILLS:
        if find_shipment(s, waybill) is None:
            create_shipment(s, ShipmentInput(waybill, origin, destination, consignee_name=name, consignee_phone=phone,
                                             consignee_address=address))
    plan = (  # (day of the month, waybill, field, new value, reason, decision)
        (3, 0, "consignee_phone", "13912340011", "收货人换了手机号", "apply"),
        (9, 0, "consignee_address", "上海市浦东新区张江路 99 号", "收货人搬家", "apply"),
        (10, 1, "consignee_name", "吴芳", "收货人出差，由家人代收", "apply"),
        (11, 1, "consignee_phone", "13712340012", "来电人要求改为本人电话", "reject"),
        (12, 0, "consignee_name", "周杰", "", "pending"),
        (20, 1, "consignee_address", "武汉市武昌区中南路 8 号", "客户要求改送公司地址", "apply"),
    )
    for day, k, field, value, reason, decision in plan:
        at = month_start + timedelta(days=day - 1, hours=rnd.uniform(1, 8))
        agent = rnd.choice(sorted(AGENT_LEVEL))
        case = create_case(s, CaseInput(kind="change_request", subject="更改收货信息",
                                        waybill=DEMO_CHANGE_WAYBILLS[k][0]), agent)
        req = changes.request_change(s, case.id, field=field, new_value=value, reason=reason, by=agent, at=at)
        if decision == "apply":
            changes.approve_change(s, req.id, by="supervisor", at=at + timedelta(hours=1))
        elif decision == "reject":
            changes.reject_change(s, req.id, note="来电人不是收货人，需收货人本人来电", by="supervisor",
                                  at=at + timedelta(hours=1))


def _major(s: Session, month_start: datetime) -> None:
    """The largest claim of the month suggested as 重大事故 (its amount) is confirmed by the supervisor."""
    claim_id = s.scalar(
        select(Claim.id)
        .where(Claim.reported_at >= month_start, Claim.reported_at < month_start + timedelta(days=31),
               Claim.major_status == "suggested")
        .order_by(Claim.claimed_fen.desc(), Claim.id)
        .limit(1)
    )
    if claim_id is not None:
        reported = s.get(Claim, claim_id)
        assert reported is not None
        decide_major(s, claim_id, confirm=True, note="索赔金额超过 5 万元，确认重大事故并上报中心负责人",
                     by="supervisor", at=reported.reported_at + timedelta(hours=3))




def _ended(s: Session, month_start: datetime) -> None:
    """The month's first two claims still being investigated (or just reported): one refused, one withdrawn."""
    open_ids = s.scalars(
        select(Claim.id)
        .where(Claim.reported_at >= month_start, Claim.reported_at < month_start + timedelta(days=31),
               Claim.stage.in_(("reported", "investigating")), Claim.major_status.is_(None))
        .order_by(Claim.reported_at, Claim.id)
        .limit(2)
    ).all()
    for claim_id, end in zip(open_ids, (refuse, withdraw), strict=False):
        claim = s.get(Claim, claim_id)
        assert claim is not None
        reason = "货物自身包装不符合要求，非运输责任" if end is refuse else "客户已与分公司协商解决，撤回理赔"
        end(s, claim_id, reason=reason, by="claims", at=claim.stage_since + timedelta(days=1))
