"""Strings of the live transcript pane (agent) and live-call view (supervisor), zh-CN and English."""

from __future__ import annotations

LIVE_ZH_CN: dict[str, str] = {
    "live.title": "实时转写",
    "live.empty": "通话接通后，这里实时显示客户和坐席的话语。",
    "live.customer": "客户",
    "live.agent": "坐席",
    "live.partial": "识别中…",
    "live.calls_title": "通话实时转写",
    "live.calls_empty": "暂无正在转写的通话",
    "live.alerts_title": "实时预警",
    "live.alerts_empty": "暂无预警",
    "live.alert.escalation": "升级词",
    "live.alert.taboo": "服务禁语",
    "live.ended": "通话已结束",
    "live.call": "通话",
}

LIVE_EN: dict[str, str] = {
    "live.title": "Live transcript",
    "live.empty": "Once a call is answered, what the customer and you say appears here as it is said.",
    "live.customer": "Customer",
    "live.agent": "Agent",
    "live.partial": "hearing…",
    "live.calls_title": "Live call transcripts",
    "live.calls_empty": "No call being transcribed",
    "live.alerts_title": "Live alerts",
    "live.alerts_empty": "No alerts",
    "live.alert.escalation": "Escalation word",
    "live.alert.taboo": "Taboo phrase",
    "live.ended": "Call ended",
    "live.call": "Call",
}
