"""Who may do what: roles per capability, and CSRF tokens (login rate limiting: agent_console.login_limiter).

Roles (cases.vocab.Role): agent, supervisor, claims, inspector, admin, branch. Every HTTP route declares
the capability it needs (`requires("...")`), every Socket.IO event checks it the same way, and
`tests/agent_console/test_authorization.py` walks the whole matrix.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from flask import abort, request, session

CSRF_SESSION_KEY = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

ALL_ROLES = ("agent", "supervisor", "claims", "inspector", "admin", "branch")
CENTRE_ROLES = frozenset(ALL_ROLES) - {"branch"}  # the centre's own staff; branch staff see only their branch's work

# capability -> roles that have it
CAPABILITIES: Mapping[str, frozenset[str]] = {
    "agent_console": frozenset({"agent", "supervisor", "admin"}),  # take calls: pops, states, callbacks
    "wallboard": frozenset({"supervisor", "admin"}),  # watch queues, listen in, re-route
    "read_cases": CENTRE_ROLES,
    "write_cases": frozenset({"agent", "supervisor", "claims", "admin"}),
    "recordings": CENTRE_ROLES,  # agents: only calls they were on or were assigned (ownership)
    # every call's recording and transcripts on case pages, and linking any call to a case; agents see and
    # link only the calls they were on or were assigned (cases.call_access.may_see_call, agent_console.data)
    "all_calls": CENTRE_ROLES - {"agent"},
    # give an agent a call to work on: it may then link it and see its recording and transcripts
    "assign_calls": frozenset({"supervisor", "admin"}),
    # transcript search: agents only over calls they talked on (enforced in agent_console.search)
    "search_transcripts": frozenset({"agent", "supervisor", "inspector", "admin"}),
    "search_all_transcripts": frozenset({"supervisor", "inspector", "admin"}),
    # the claims console: claims through their workflow (agents and supervisors may follow them too)
    "claims_work": frozenset({"claims", "supervisor", "admin"}),
    # 重大事故: the supervisor confirms or declines what the amount or the reporter suggests
    "major_incident": frozenset({"supervisor", "admin"}),
    # the inspection console: inspections, findings, rectification verification, rewards and penalties
    "inspections_work": frozenset({"inspector", "supervisor", "admin"}),
    # the department desk (/branch): referrals routed to the user's department and unit, and a branch's
    # rectifications and claims (only its own: ownership)
    "branch_work": frozenset({"branch"}),
    # a claim's evidence files: claims staff, and the branch the claim belongs to (ownership)
    "claim_evidence": frozenset({"claims", "supervisor", "admin", "branch"}),
    # the complaints desk: analyse, refer, verify rectifications, tell the customer, follow up, close; the
    # inspection supervisor takes and resolves complaints too (监察主管3: 对接收到的客户投诉问题进行落实、解决)
    "complaints_work": frozenset({"agent", "supervisor", "inspector", "admin"}),
    # the changes desk: approve or refuse consignee changes (更改收货人/联系电话/收货地址) agents requested
    "changes_decide": frozenset({"supervisor", "admin"}),
    # the standard's reports on the page and as XLSX / PDF / JSON downloads
    "reports": CENTRE_ROLES,
    # the written analysis and suggestions of a report and period (分析…提出合理化建议): the supervisor's
    # for every report; claims staff and inspectors only for their own (`REPORT_AUTHORS`)
    "report_analysis": frozenset({"supervisor", "admin", "claims", "inspector"}),
}

# Who writes the analysis of which report beyond the supervisor and admin: 理赔6 每月做出理赔报表及事故原因
# 分析; 监察主管5 负责出具每月的监察奖罚明细报表.
ANALYSIS_FOR_EVERY_REPORT: frozenset[str] = frozenset({"supervisor", "admin"})
REPORT_AUTHORS: dict[str, frozenset[str]] = {
    "claims-monthly": frozenset({"claims"}),
    "inspections-monthly": frozenset({"inspector"}),
}


def may_write_analysis(role: str, report: str) -> bool:
    """Whether `role` writes the analysis of report `report` (the capability `report_analysis` lets a role
    reach the form at all)."""
    return role in ANALYSIS_FOR_EVERY_REPORT or role in REPORT_AUTHORS.get(report, frozenset())


def allowed(role: str, capability: str) -> bool:
    return role in CAPABILITIES[capability]


# --- CSRF ----------------------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """400 unless the form field or the X-CSRF-Token header carries the session's token."""
    expected = session.get(CSRF_SESSION_KEY)
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
        abort(400, description="CSRF token missing or wrong: reload the page")
