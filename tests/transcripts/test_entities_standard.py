"""Chinese numerals and entities; service-standard checks from the TOML rules; the live escalation alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcripts.audiosocket import LiveResult
from transcripts.engine import Word
from transcripts.entities import Entity, NumeralError, chinese_number, extract_entities, normalize_numbers
from transcripts.standard import Alert, EscalationWatcher, RulesError, check_call, load_rules
from transcripts.turns import AGENT, CUSTOMER, Turn


@pytest.mark.parametrize(
    ("spoken", "value"),
    [("十", 10), ("十五", 15), ("二十三", 23), ("三百五十", 350), ("三百五", 350), ("两千零六", 2006),
     ("一百零五", 105), ("一万二", 12000), ("十五万", 150000), ("二十三万四千", 234000), ("壹佰贰拾", 120)],
)  # fmt: skip
def test_chinese_numbers(spoken: str, value: int) -> None:
    assert chinese_number(spoken) == value


def test_not_numbers() -> None:
    for bad in ("", "五五百", "三a"):
        with pytest.raises(NumeralError):
            chinese_number(bad)


def test_normalize_keeps_words_and_converts_spoken_digits() -> None:
    assert normalize_numbers("运单号 幺 二 三 四 五 六 七 八 九 零 一 二") == "运单号 123456789012"
    assert normalize_numbers("赔 三 百 五 十 元") == "赔 350 元"
    assert normalize_numbers("万一 丢了 千万 别 挂 等 一下") == "万一 丢了 千万 别 挂 等 一下"
    assert normalize_numbers("五 块") == "5 块"
    assert normalize_numbers("两 洞 洞 拐") == "2007"


def test_entities() -> None:
    text = (
        "我 的 运单 是 幺 二 三 四 五 六 七 八 九 零 一 二 "
        "电话 幺 三 八 零 零 一 三 八 零 零 零 要 赔 三 百 五 十 元 还有 三块五"
    )
    kinds = [(e.kind, e.value) for e in extract_entities(text)]
    assert kinds == [("waybill", "123456789012"), ("phone", "13800138000"), ("amount", "350"), ("amount", "3.5")]
    # an 11-digit number that looks like a mobile is a waybill when the caller says so
    assert [e.kind for e in extract_entities("运单号 13812345678")] == ["waybill"]
    assert extract_entities("座机 02112345678") == [Entity("phone", "02112345678", "02112345678", 3, 14)]
    assert extract_entities("九位数 123456789 不算") == []
    assert extract_entities("一下 一样 一起") == []


def turn(speaker: str, start: float, end: float, text: str) -> Turn:
    words = tuple(Word(w, start + i * 0.3, min(end, start + i * 0.3 + 0.3), 1.0) for i, w in enumerate(text.split()))
    return Turn(speaker, start, end, text, words)


GOOD = [
    turn(AGENT, 0.5, 3.0, "您好 路港物流 很高兴为您服务"),
    turn(CUSTOMER, 3.5, 8.0, "我 的 快递 还 没 到"),
    turn(AGENT, 8.5, 12.0, "好的 我 帮 您 查 一下"),
    turn(CUSTOMER, 12.5, 14.0, "谢谢"),
    turn(AGENT, 14.5, 16.0, "感谢您的来电 再见"),
]


def test_a_good_call_scores_100() -> None:
    check = check_call(GOOD, load_rules())
    assert (check.score, check.findings, check.escalated) == (100, (), False)


def test_a_bad_call_loses_points_with_findings() -> None:
    rules = load_rules()
    bad = [
        turn(AGENT, 0.5, 3.0, "喂 说"),
        turn(CUSTOMER, 2.0, 8.0, "我 要 投诉 你们 还要 赔偿 不然 找 律师 打 一 二 三 一 五"),
        turn(AGENT, 6.0, 9.0, "快点说 这 不归我管"),
        turn(CUSTOMER, 25.0, 26.0, "喂"),
        turn(AGENT, 26.5, 27.0, "嗯"),
    ]
    check = check_call(bad, rules)
    rules_hit = [f.rule for f in check.findings]
    assert "greeting" in rules_hit and "closing" in rules_hit
    assert "taboo:impatience" in rules_hit and "taboo:bad_attitude" in rules_hit
    # 投诉 and 赔偿 are the hotlines' daily business, no escalation (#17): a lawyer and the regulator's line are
    assert [f.phrase for f in check.findings if f.rule == "escalation"] == ["律师", "12315"]
    silence = [f for f in check.findings if f.rule == "silence"]
    assert len(silence) == 1 and silence[0].at_s == pytest.approx(6.9)  # last word before the gap ends at 6.9 s
    # 0.5-3.0 vs 2.0-8.0 overlaps by exactly 1 s (not more); 2.0-8.0 vs 6.0-9.0 by 2 s: under the max count
    assert [f.rule for f in check.findings].count("talk_over") == 1
    assert check.score == 100 - 10 - 10 - 15 - 15 - 5
    assert check.escalated and check.to_json_dict()["score"] == check.score


def test_rules_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(path)
    path.write_text("not = [toml")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)
    builtin = (Path(__file__).parents[2] / "transcripts" / "standard_rules.toml").read_text()
    path.write_text(builtin.replace("max_s = 10.0", "max_s = 10.0\nmax_minutes = 3"))
    with pytest.raises(RulesError, match=r"\[silence\] unknown keys: max_minutes"):
        load_rules(path)
    path.write_text(builtin.replace('speaker = "customer"', 'speaker = "boss"'))
    with pytest.raises(RulesError, match="speaker must be one of"):
        load_rules(path)
    path.write_text(builtin.replace("within_s = 15.0", "within_s = -1"))
    with pytest.raises(RulesError, match="must not be negative"):
        load_rules(path)
    path.write_text(builtin.replace("[escalation]", "[escalations]"))
    with pytest.raises(RulesError, match="unknown sections: escalations"):
        load_rules(path)
    # an admin's edit takes effect
    path.write_text(builtin.replace('"律师",', '"律师", "退钱",'))
    assert "退钱" in load_rules(path).escalation.phrases


def test_live_escalation_alert_once_per_stream_and_word() -> None:
    alerts: list[Alert] = []
    watcher = EscalationWatcher(load_rules(), alerts.append)
    said = [(False, "我 要 投诉"), (False, "我 要 找 律"), (False, "我 要 找 律师"), (True, "我 要 找 律师")]
    for final, text in said:
        watcher(LiveResult("s1", final, text, (), 1.0, 0.0))
    watcher(LiveResult("s2", True, "打 一 二 三 一 五", (), 1.0, 0.0))
    assert [(a.stream, a.phrase) for a in alerts] == [("s1", "律师"), ("s2", "12315")]
    watcher.forget("s1")
    watcher(LiveResult("s1", True, "律师", (), 1.0, 0.0))
    assert len(alerts) == 3
