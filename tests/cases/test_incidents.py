"""Incidents (突发事件) and rewards and penalties (奖罚) from any source, on SQLite and PostgreSQL: every legal and
illegal incident step (audited, or refused with nothing changed), bad input refused, the case link; a sanction
from one source at most (inspection, complaint, claim, incident), existing sources only, kept when its source
goes; a penalty collected (已收缴) once, a reward never."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from workflow_support import INCIDENT_PATHS, incident_actions, new_claim, new_complaint, new_finding, new_incident

from cases import complaints, incidents, sanctions
from cases.audit import audit_for
from cases.claims import get_claim
from cases.db import Database
from cases.errors import IllegalTransition, IncidentNotFound, InvalidInput, SanctionNotFound
from cases.models.audit import AuditEntry
from cases.models.incidents import Incident, IncidentMeasure
from cases.models.workflows import Complaint, InspectionFinding, Sanction
from cases.workflow import INCIDENT

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _audits(db: Database) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize("stage", list(INCIDENT_PATHS))
def test_incident_steps(db: Database, stage: str) -> None:
    actions = incident_actions()
    assert set(actions) == set(INCIDENT.actions())
    with db.session() as s:
        ident = new_incident(s)
        for action in INCIDENT_PATHS[stage]:
            actions[action](s, ident)
    for action in INCIDENT.actions():
        with db.session() as s:
            before = {c.key: getattr(s.get(Incident, ident), c.key) for c in Incident.__table__.columns}
            measures = s.scalar(select(func.count()).select_from(IncidentMeasure))
            audits = s.scalar(select(func.count()).select_from(AuditEntry))
            sp = s.begin_nested()
            if action in INCIDENT.allowed(stage):
                view = actions[action](s, ident)
                target = next(st.target for st in INCIDENT.steps if st.action == action and stage in st.sources)
                assert getattr(view, "stage") == target  # noqa: B009
                last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
                assert (last.what, last.entity_id) == (f"incident.{action}", str(ident))
                sp.rollback()
                continue
            with pytest.raises(IllegalTransition) as err:
                actions[action](s, ident)
            assert (err.value.stage, err.value.action) == (stage, action)
            sp.rollback()
            s.expire_all()
            assert {c.key: getattr(s.get(Incident, ident), c.key) for c in Incident.__table__.columns} == before
            assert s.scalar(select(func.count()).select_from(IncidentMeasure)) == measures
            assert s.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_an_incident_from_report_to_close_with_its_measures_and_case(db: Database) -> None:
    with db.session() as s:
        claim_id = new_claim(s)
        case_number = get_claim(s, claim_id).case_number
        v = incidents.record_incident(s, incidents.IncidentInput(
            kind="fire", occurred_at=NOW, branch=" 郑州分公司 ", place="二号仓库", description="仓库电线起火",
            people="仓管员 李明", reported_by="仓管员 李明", case_number=case_number), by="inspector1", now=NOW)
        assert (v.stage.value, v.case_number, v.claim_id, v.complaint_id, v.branch) == (
            "reported", case_number, claim_id, None, "郑州分公司")
        incidents.handle_incident(s, v.id, by="inspector2", at=NOW + timedelta(minutes=10))
        incidents.add_measure(s, v.id, measure="组织灭火、疏散人员", by="inspector2", at=NOW + timedelta(minutes=20))
        incidents.add_measure(s, v.id, measure="清点受损货物", by="supervisor", at=NOW + timedelta(hours=2))
        with pytest.raises(InvalidInput, match="before it was taken in hand"):
            incidents.close_incident(s, v.id, result="x", by="inspector2", at=NOW)
        done = incidents.close_incident(s, v.id, result="火已扑灭，受损货物 3 件转理赔", by="inspector2",
                                        at=NOW + timedelta(hours=3))
    assert (done.stage.value, done.handled_by, done.handling_at, done.closed_at) == (
        "closed", "inspector2", NOW + timedelta(minutes=10), NOW + timedelta(hours=3))
    assert [(m.measure, m.taken_by) for m in done.measures] == [("组织灭火、疏散人员", "inspector2"),
                                                                 ("清点受损货物", "supervisor")]
    with db.reading() as s:
        trail = audit_for(s, "incident", v.id)
        assert [t.what for t in trail] == ["incident.record", "incident.handle", "incident.add_measure",
                                           "incident.add_measure", "incident.close"]
        assert json.loads(trail[0].detail_json)["case"] == case_number
        assert [i.id for i in incidents.list_incidents(s, stage="closed")] == [v.id]
        assert incidents.list_incidents(s, stage="reported") == ()
        with pytest.raises(IncidentNotFound):
            incidents.get_incident(s, v.id + 1)


@pytest.mark.parametrize(("change", "why"), [
    ({"kind": "earthquake"}, "unknown incident kind"),
    ({"occurred_at": NOW + timedelta(hours=1)}, "in the future"),
    ({"occurred_at": datetime(2026, 11, 30, 8)}, "timezone-aware"),
    ({"branch": "  "}, "branch is required"),
    ({"description": ""}, "description is required"),
    ({"reported_by": ""}, "reported_by is required"),
    ({"case_number": "C20260101-9999"}, "there is no case"),
    ({"place": "长" * 201}, "too long"),
])
def test_bad_incident_input_is_refused_and_nothing_stored(db: Database, change: dict[str, object], why: str) -> None:
    fields: dict[str, object] = {"kind": "traffic_accident", "occurred_at": NOW - timedelta(hours=1),
                                 "branch": "郑州分公司", "description": "追尾", "reported_by": "司机"} | change
    with db.session() as s, pytest.raises(InvalidInput, match=why):
        incidents.record_incident(s, incidents.IncidentInput(**fields), by="inspector1", now=NOW)  # type: ignore[arg-type]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
    assert _audits(db) == 0


def test_sanctions_from_each_source_at_most_one_and_kept_when_the_source_goes(db: Database) -> None:
    with db.session() as s:
        complaint_id, claim_id, incident_id = new_complaint(s), new_claim(s), new_incident(s)
        finding = s.get(InspectionFinding, new_finding(s))
        assert finding is not None
        inspection_id = finding.inspection_id
        base = {"kind": "penalty", "branch": "郑州分公司", "amount": "100", "reason": "违规", "decided_at": NOW}
        made = {
            "inspection": sanctions.record_sanction(s, **base, inspection_id=inspection_id, by="inspector1"),
            "complaint": sanctions.record_sanction(s, **base, complaint_id=complaint_id, by="inspector1"),
            "claim": sanctions.record_sanction(s, **base, claim_id=claim_id, by="supervisor"),
            "incident": sanctions.record_sanction(s, **base, incident_id=incident_id, by="inspector1"),
            "none": sanctions.record_sanction(s, **{**base, "kind": "reward"}, by="inspector1"),
        }
        complaint_no = complaints.get_complaint(s, complaint_id).case_number
        assert sanctions.source_of_case(s, complaint_no) == sanctions.SourceRef(complaint_id=complaint_id)
        with pytest.raises(InvalidInput, match="one source at most"):
            sanctions.record_sanction(s, **base, complaint_id=complaint_id, claim_id=claim_id, by="inspector1")
        with pytest.raises(InvalidInput, match="there is no incident 999"):
            sanctions.record_sanction(s, **base, incident_id=999, by="inspector1")
        with pytest.raises(InvalidInput, match="unknown sanction kind"):
            sanctions.record_sanction(s, **{**base, "kind": "bonus"}, by="inspector1")
    assert {k: (v.source.value if v.source else None) for k, v in made.items()} == {
        "inspection": "inspection", "complaint": "complaint", "claim": "claim", "incident": "incident", "none": None}
    assert made["complaint"].source_ref == complaint_no and made["incident"].source_ref == f"#{incident_id}"
    assert made["claim"].decided_by == "supervisor"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Sanction)) == 5
        only = sanctions.list_sanctions(s, source=sanctions.SourceRef(claim_id=claim_id))
        assert [x.id for x in only] == [made["claim"].id]
        s.execute(delete(Complaint).where(Complaint.id == complaint_id))
    with db.reading() as s:
        kept = s.get(Sanction, made["complaint"].id)
        assert kept is not None and kept.complaint_id is None and kept.amount_fen == 10000
        trail = audit_for(s, "sanction", made["incident"].id)
        assert json.loads(trail[0].detail_json)["incident"] == incident_id


def test_a_penalty_is_collected_once_and_a_reward_never(db: Database) -> None:
    with db.session() as s:
        p = sanctions.record_sanction(s, kind="penalty", branch="郑州分公司", person="王强", amount="200",
                                      reason="运费迟交", decided_at=NOW, by="inspector1")
        r = sanctions.record_sanction(s, kind="reward", branch="郑州分公司", amount="50", reason="及时上报",
                                      decided_at=NOW, by="inspector1")
        assert p.collectable and not r.collectable
        with pytest.raises(InvalidInput, match="before it was decided"):
            sanctions.collect_penalty(s, p.id, by="inspector1", at=NOW - timedelta(days=1))
        done = sanctions.collect_penalty(s, p.id, by="inspector2", at=NOW + timedelta(days=2))
        assert (done.collected_by, done.collected_at) == ("inspector2", NOW + timedelta(days=2))
        assert not done.collectable
        assert [x.id for x in sanctions.list_sanctions(s, uncollected=True)] == []
    with db.session() as s:
        with pytest.raises(InvalidInput, match="already collected"):
            sanctions.collect_penalty(s, p.id, by="inspector1")
        with pytest.raises(InvalidInput, match="is a reward"):
            sanctions.collect_penalty(s, r.id, by="inspector1")
        with pytest.raises(SanctionNotFound):
            sanctions.collect_penalty(s, 9999, by="inspector1")
    with db.reading() as s:
        assert [a.what for a in audit_for(s, "sanction", p.id)] == ["sanction.record", "sanction.collect"]
        assert audit_for(s, "sanction", r.id)[-1].what == "sanction.record"
