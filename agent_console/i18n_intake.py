"""Strings of the screen pop's intake (the new-case form's fields of each kind, the claim stage of the caller's
open claims), zh-CN first, with English."""

from __future__ import annotations

from cases.vocab import ClaimStage

INTAKE_ZH: dict[str, str] = {
    "intake.complaint": "投诉信息",
    "intake.complaint_type": "投诉类型",
    "intake.claim": "理赔报案信息",
    "intake.accident_cause": "事故原因",
    "intake.claimed": "索赔金额（元，可不填）",
    "intake.branch": "相关分公司",
    "intake.change": "更改内容（可稍后填写）",
    "intake.complaint_recorded": "投诉已登记，已进入投诉处理台",
    "intake.claim_reported": "理赔已报案，已进入理赔处理台",
    "intake.change_requested": "更改申请已提交，待审批",
    "intake.claim_stage": "理赔阶段",
    "intake.err.complaint_type": "未知的投诉类型",
    "intake.err.accident_cause": "未知的事故原因",
    "intake.err.claimed": "索赔金额格式错误：请填写不小于 0、最多两位小数的金额",
    "intake.err.branch": "相关分公司名称过长（最多 100 字）",
    "intake.err.change_field": "未知的更改项",
    "intake.err.change_pair": "更改申请需同时填写更改项和新内容",
    "intake.err.change_waybill": "更改申请需填写运单号",
    "intake.err.not_for_kind": "所填字段不属于该案件类型",
    **{f"intake.stage.{st.value}": st.label_zh for st in ClaimStage},
}

INTAKE_EN: dict[str, str] = {
    "intake.complaint": "Complaint",
    "intake.complaint_type": "Complaint type",
    "intake.claim": "Claim report",
    "intake.accident_cause": "Accident cause",
    "intake.claimed": "Amount claimed (yuan, optional)",
    "intake.branch": "Branch concerned",
    "intake.change": "Change (may be added later)",
    "intake.complaint_recorded": "complaint recorded, on the complaints desk",
    "intake.claim_reported": "claim reported, on the claims desk",
    "intake.change_requested": "change requested, awaiting approval",
    "intake.claim_stage": "Claim stage",
    "intake.err.complaint_type": "Unknown complaint type",
    "intake.err.accident_cause": "Unknown accident cause",
    "intake.err.claimed": "The amount claimed is not valid: an amount of at least 0 with at most two decimals",
    "intake.err.branch": "The branch name is too long (at most 100 characters)",
    "intake.err.change_field": "Unknown field to change",
    "intake.err.change_pair": "A change needs both the field and the new value",
    "intake.err.change_waybill": "A change needs the waybill",
    "intake.err.not_for_kind": "A field does not belong to this kind of case",
    **{f"intake.stage.{st.value}": st.value.replace("_", " ").capitalize() for st in ClaimStage},
}
