"""One vocabulary (issue #17): every zh-CN text a user sees or hears — the console's i18n tables, its
templates and scripts, the labels of cases.vocab, the reports' headings, the IVR's prompt texts and menus —
uses the service standard's own words, never the drifted ones (理赔专员, 服务标准, 员工形象, 资金划拨, 报价,
还价, 协商金额 / 确定金额, 工单 / 工单号, 寄件人 / 收件人, 变更). The search box suggests a waybill of ours (12
digits), not a courier's (SF1234567890)."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from agent_console.i18n import EN, ZH_CN
from cases import reports, vocab

REPO = Path(__file__).resolve().parent.parent

# drifted term -> the standard's word(s) to use instead
DRIFTED = {
    "理赔专员": "理赔 / 理赔员",
    "服务标准": "服务规范 (the standard's title 物流客服中心服务标准 excepted)",
    "员工形象": "仪容仪表",
    "资金划拨": "转款",
    "报价": "协商 (claims) / 实收运价 (freight-rate spot checks)",
    "还价": "协商",
    "协商金额": "理赔金额 / 协商",
    "确定金额": "理赔金额",
    "工单": "案件 (the case and its number: 案件号)",
    "寄件人": "发货人",
    "收件人": "收货人",
    "变更": "更改",
}
ALLOWED = ("客服中心服务标准",)  # the standard's own title


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _literals(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _labels() -> Iterator[tuple[str, str]]:
    for name in dir(vocab):
        enum = getattr(vocab, name)
        if isinstance(enum, type) and issubclass(enum, StrEnum) and hasattr(enum, "label_zh"):
            for member in enum:
                yield f"cases.vocab.{name}.{member.value}", member.label_zh


def zh_texts() -> Iterator[tuple[str, str]]:
    """(where, text) of every zh-CN text shown or spoken."""
    for key, text in ZH_CN.items():
        yield f"i18n ZH_CN[{key!r}]", text
    console = REPO / "agent_console"
    for path in sorted([*console.glob("templates/**/*.html"), *console.glob("static/**/*.js")]):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield f"{path.relative_to(REPO)}:{n}", line
    yield from _labels()
    for spec in reports.REPORTS.values():
        yield f"report {spec.name} title", spec.title
    for path in sorted((REPO / "cases" / "reports").glob("*.py")):  # headings, KPI labels, analysis sentences
        for text in _literals(path):
            yield f"{path.relative_to(REPO)}", text
    for path in sorted((REPO / "ivr" / "data").glob("*.toml")):
        for text in _strings(tomllib.loads(path.read_text(encoding="utf-8"))):
            yield f"{path.relative_to(REPO)}", text


def drifted(text: str) -> list[str]:
    for ok in ALLOWED:
        text = text.replace(ok, "")
    return [term for term in DRIFTED if term in text]


def test_the_scan_finds_drifted_words() -> None:
    assert drifted("请输入工单号") == ["工单"]
    assert drifted("寄件人与收件人变更") == ["寄件人", "收件人", "变更"]
    assert drifted("客户还价后协商金额为 800 元") == ["还价", "协商金额"]
    assert drifted("物流客服中心服务标准") == [] and drifted("抽查服务标准") == ["服务标准"]
    assert drifted("更改收货人，协商确定理赔金额") == []
    texts = dict(zh_texts())
    assert len(texts) > 500  # every source was read
    assert any(w.startswith("ivr/data/prompts.toml") for w in texts)
    assert any(w.startswith("cases/reports/") for w in texts)
    assert any(w.startswith("agent_console/templates/") for w in texts)


def test_no_drifted_words_in_zh_texts() -> None:
    found = [f"{where}: {term!r} -> use {DRIFTED[term]} ({text.strip()[:80]!r})"
             for where, text in zh_texts() for term in drifted(text)]
    assert not found, "drifted words (the service standard's words instead):\n" + "\n".join(found)


def test_the_standards_words_are_used() -> None:
    labels = dict(_labels())
    assert labels["cases.vocab.CustomerKind.shipper"] == "发货人"
    assert labels["cases.vocab.CustomerKind.consignee"] == "收货人"
    assert "仪容仪表" in labels.values()
    assert ZH_CN["action.claim.agree_amount"] == "确定理赔金额"
    assert ZH_CN["case.number"] == "案件号"
    assert any("案件号" in text for where, text in zh_texts() if where.startswith("cases/reports/"))


def test_search_box_suggests_one_of_our_waybills() -> None:
    for table in (ZH_CN, EN):
        hint = table["search.placeholder"]
        assert "SF" not in hint
        assert re.search(r"(?<!\d)\d{12}(?!\d)", hint), hint  # our waybills: 12 digits
