"""Escalation words mark what is out of the ordinary (#17): an ordinary complaint or claims call (投诉, 赔偿,
破损, 延误 …) raises no alert, after the call (check_call), live (LiveWatcher) or on a stream
(EscalationWatcher); the press, a lawyer, going over the centre's head do; an admin's list replaces the
shipped one."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcripts.audiosocket import LiveResult
from transcripts.live_events import LiveLine, LiveWatcher
from transcripts.standard import Alert, EscalationWatcher, check_call, load_rules
from transcripts.turns import AGENT, CUSTOMER, Turn

ORDINARY_COMPLAINT = [
    (AGENT, "您好 路港物流 很高兴为您服务"),
    (CUSTOMER, "我 要 投诉 你们 的 快递员 态度 很 差 货 还 破损 了"),
    (CUSTOMER, "你们 得 赔偿 我 的 损失 我 要 理赔 延误 了 三 天"),
    (CUSTOMER, "投诉 一下 你们 分公司 赔 我 三百 元"),
    (AGENT, "感谢您的来电 再见"),
]
OUT_OF_THE_ORDINARY = [
    ("我 要 找 记者 曝光 你们", {"记者", "曝光"}),
    ("我 已经 请 了 律师 要 去 法院 起诉", {"律师", "法院", "起诉"}),
    ("不 解决 我 就 投诉 到 总部 找 领导", {"投诉到总部", "找领导"}),
    ("我 打 一 二 三 一 五 消协 去", {"12315", "消协"}),
]


def _turns(lines: list[tuple[str, str]]) -> list[Turn]:
    return [Turn(speaker, float(i * 5), float(i * 5 + 4), text) for i, (speaker, text) in enumerate(lines)]


def _live(linkedid: str, text: str, speaker: str = CUSTOMER) -> LiveLine:
    return LiveLine(linkedid, "agent1001", speaker, "st-" + linkedid, 1, True, text, 3.0, 0.0)


def test_an_ordinary_complaint_call_raises_no_alert() -> None:
    rules = load_rules()
    check = check_call(_turns(ORDINARY_COMPLAINT), rules)
    assert not check.escalated and [f.rule for f in check.findings if f.rule == "escalation"] == []
    watcher = LiveWatcher(rules)
    assert [a for _, text in ORDINARY_COMPLAINT for a in watcher.check(_live("L.1", text))] == []
    alerts: list[Alert] = []
    stream = EscalationWatcher(rules, alerts.append)
    for _, text in ORDINARY_COMPLAINT:
        stream(LiveResult("s1", True, text, (), 1.0, 0.0))
    assert alerts == []


@pytest.mark.parametrize(("said", "words"), OUT_OF_THE_ORDINARY)
def test_out_of_the_ordinary_words_raise_an_alert(said: str, words: set[str]) -> None:
    rules = load_rules()
    check = check_call(_turns([*ORDINARY_COMPLAINT[:2], (CUSTOMER, said)]), rules)
    assert check.escalated and {f.phrase for f in check.findings if f.rule == "escalation"} == words
    alerts = LiveWatcher(rules).check(_live("L.2", said))
    assert {a.phrase for a in alerts if a.rule == "escalation"} == words
    # the customer's words: the agent repeating them is no escalation
    assert [a for a in LiveWatcher(rules).check(_live("L.3", said, speaker=AGENT)) if a.rule == "escalation"] == []


def test_the_escalation_list_is_an_admins(tmp_path: Path) -> None:
    builtin = Path(__file__).resolve().parents[2].joinpath("transcripts", "standard_rules.toml").read_text("utf-8")
    start = builtin.index("[escalation]")
    edited = builtin[:start] + '[escalation]\nspeaker = "customer"\nphrases = ["破损"]\n'
    path = tmp_path / "rules.toml"
    path.write_text(edited, encoding="utf-8")
    rules = load_rules(path)
    assert rules.escalation.phrases == ("破损",)
    alerts = LiveWatcher(rules).check(_live("L.4", "货 破损 了 我 要 找 记者"))
    assert [a.phrase for a in alerts if a.rule == "escalation"] == ["破损"]
