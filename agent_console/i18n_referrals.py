"""The strings of referrals to every department, the centre's verification and the follow-up call
(回访), merged into `agent_console.i18n`'s catalogues after `i18n_cases` (whose branch-only words for
the department desk and the department's answer they replace). The standard's words: 整改, 验证, 回访,
相关分公司 (as reported) vs 责任部门/责任分公司 (from the analysis)."""

from __future__ import annotations

REFERRALS_ZH: dict[str, str] = {
    # replacing i18n_cases: the desk of every department, and the department's answer
    "role.branch": "部门/分公司人员",
    "nav.branch": "部门工作台",
    "branch.title": "部门工作台",
    "branch.answer_hint": "整改情况与处理结果（反馈客服中心验证）",
    "action.complaint.confirm_rectification": "反馈整改",
    "login.demo_hint": "演示账号：agent1001、agent1002、agent1003、supervisor、claims（理赔）、inspector（监察）、"
    "branch_zz（郑州分公司）、warehouse（仓管），密码 hotline-demo",
    # the workflow's new steps
    "action.complaint.verify": "验证通过",
    "action.complaint.send_back": "退回重新整改",
    "action.complaint.follow_up": "回访",
    "action.complaint.follow_up_attempt": "回访（未联系上）",
    "referrals.to_department": "转交给本部门的投诉",
    "referrals.answered": "已反馈，等待客服中心验证",
    "referrals.sent_back": "验证未通过，已退回",
    "referrals.reported_branch": "相关分公司（登记时）",
    "referrals.responsible_unit": "责任分公司/市场区域",
    "referrals.unit": "转交分公司/市场区域",
    "referrals.unit_hint": "转交分公司或市场区域时必填：哪一个",
    "referrals.no_desk": "（无工作台用户）",
    "referrals.verification": "验证",
    "referrals.verified": "整改已验证",
    "referrals.verify_hint": "核实部门的整改确已落实后验证；未落实则退回并给出新的期限。",
    "referrals.send_back_why": "退回原因（未落实之处）",
    "referrals.follow_ups": "回访记录",
    "referrals.outcome": "回访结果",
    "referrals.follow_up_hint": "记录每次回访；联系不上的客户须再次回访，第 {n} 次仍联系不上方可结案。",
    "loose.not_verified": "整改未验证",
    "loose.no_return_call": "未回访",
    "reminder.not_verified": "留有尾巴：整改未验证",
    "reminder.no_return_call": "留有尾巴：未回访",
}

REFERRALS_EN: dict[str, str] = {
    "role.branch": "Department / branch staff",
    "nav.branch": "Department desk",
    "branch.title": "Department desk",
    "branch.answer_hint": "What was rectified and the result (the centre verifies it)",
    "action.complaint.confirm_rectification": "Report rectification",
    "login.demo_hint": "Demo accounts: agent1001, agent1002, agent1003, supervisor, claims, inspector, branch_zz "
    "(Zhengzhou branch), warehouse; password hotline-demo",
    "action.complaint.verify": "Verify",
    "action.complaint.send_back": "Send back",
    "action.complaint.follow_up": "Follow-up call",
    "action.complaint.follow_up_attempt": "Follow-up call (not reached)",
    "referrals.to_department": "Complaints referred to this department",
    "referrals.answered": "Answered: waiting for the centre's verification",
    "referrals.sent_back": "Not verified: sent back",
    "referrals.reported_branch": "Branch concerned (as reported)",
    "referrals.responsible_unit": "Responsible branch / market area",
    "referrals.unit": "Branch / market area referred to",
    "referrals.unit_hint": "Required for a branch or market area: which one",
    "referrals.no_desk": "(no desk user)",
    "referrals.verification": "Verification",
    "referrals.verified": "Rectification verified",
    "referrals.verify_hint": "Verify once the department's rectification is really in place; otherwise send it "
    "back with a new deadline.",
    "referrals.send_back_why": "Why it is sent back (what is not done)",
    "referrals.follow_ups": "Follow-up calls",
    "referrals.outcome": "Outcome",
    "referrals.follow_up_hint": "Record every call; a customer not reached is called again, and the complaint may "
    "close after the {n}th call that does not reach them.",
    "loose.not_verified": "Rectification not verified",
    "loose.no_return_call": "No follow-up call",
    "reminder.not_verified": "Loose end: rectification not verified",
    "reminder.no_return_call": "Loose end: no follow-up call",
}
