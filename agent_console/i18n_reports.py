"""The reports page's strings of issue #17 (the supervisor's analysis and suggestions), zh-CN and English."""

from __future__ import annotations

REPORTS_ZH: dict[str, str] = {
    "reports.analysis.title": "分析与合理化建议",
    "reports.analysis.hint": "本期问题分析，提出合理化建议（随报表导出到 XLSX 和 PDF）",
    "reports.analysis.save": "保存分析",
    "reports.analysis.saved": "分析已保存，导出的 XLSX 和 PDF 已包含",
    "reports.analysis.by": "撰写人",
    "reports.analysis.none": "本期尚无客服主管的分析",
    "reports.analysis.note": "每次保存覆盖上一版本，并记入操作日志",
}

REPORTS_EN: dict[str, str] = {
    "reports.analysis.title": "Analysis and suggestions",
    "reports.analysis.hint": "The period's problems analysed, with suggestions (exported with the XLSX and PDF)",
    "reports.analysis.save": "Save the analysis",
    "reports.analysis.saved": "Analysis saved: the XLSX and PDF now carry it",
    "reports.analysis.by": "Written by",
    "reports.analysis.none": "No analysis by the supervisor for this period yet",
    "reports.analysis.note": "Each save replaces the one before and is recorded in the audit log",
}
