"""The strings of the claims, inspection and branch consoles and of shipment lookups, merged into
`agent_console.i18n`'s catalogues (kept apart so the case work has a file of its own). The Chinese
words are the service standard's own (理赔, 监察, 整改, 奖罚, 明确责任人, 反馈和跟踪确认 ...)."""

from __future__ import annotations

CASES_ZH: dict[str, str] = {
    "pop.shipment_unavailable": "运单查询暂不可用",
}

CASES_EN: dict[str, str] = {
    "pop.shipment_unavailable": "Waybill lookup unavailable",
}
