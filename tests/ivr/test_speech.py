"""Numbers, dates and amounts as Hotline's own word prompts (ivr/speech.py), read as a Mandarin or English
speaker would, and the word texts in the shipped prompt file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr import speech
from ivr.config import load_prompts

TEXTS = load_prompts().texts


def said(words: list[str], lang: str) -> str:
    return " ".join(TEXTS[lang][w] for w in speech.spoken(words, TEXTS[lang]))


@pytest.mark.parametrize(("n", "zh"), [
    (0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (23, "二十 三"), (100, "一 百"),
    (101, "一 百 零 一"), (110, "一 百 一 十"), (115, "一 百 一 十 五"), (1005, "一 千 零 五"),
    (1050, "一 千 零 五十"), (2024, "二 千 零 二十 四"), (10000, "一 万"), (10012, "一 万 零 一 十 二"),
    (120000, "十 二 万"), (1000000, "一 百 万"), (30_0400, "三十 万 零 四 百"),
    (99_999_999, "九 千 九 百 九十 九 万 九 千 九 百 九十 九"),
])
def test_mandarin_numbers_by_place_with_one_zero_for_a_gap(n: int, zh: str) -> None:
    assert said(speech.number(n, "zh"), "zh") == zh


@pytest.mark.parametrize(("n", "en"), [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (99, "ninety nine"), (101, "one hundred one"),
    (2024, "two thousand twenty four"), (12345, "twelve thousand three hundred forty five"),
    (1_000_000, "one million"), (12_000_007, "twelve million seven"),
])
def test_english_numbers(n: int, en: str) -> None:
    assert said(speech.number(n, "en"), "en") == en


@pytest.mark.parametrize("n", [-1, speech.LIMIT])
def test_a_number_out_of_range_is_refused(n: int) -> None:
    with pytest.raises(speech.UnsayableNumber, match="numbers from 0 to 99999999"):
        speech.number(n, "zh")


def test_dates_in_the_hotlines_time() -> None:
    at = datetime(2026, 12, 6, 6, 5, tzinfo=UTC)  # 14:05 in China
    eight = timedelta(hours=8)
    assert said(speech.date_time(at, "zh", eight), "zh") == "十二月 六 日 十四 点 零 五 分"
    assert said(speech.date_time(at, "en", eight), "en") == "December six at fourteen oh five"
    assert said(speech.date_time(at.replace(hour=16, minute=0), "zh", eight), "zh") == "十二月 七 日 零 点 整"
    assert said(speech.date_time(at.replace(minute=30), "en", timedelta(0)), "en") == "December six at six thirty"


def test_amounts_in_yuan() -> None:
    assert said(speech.amount(100050, "zh"), "zh") == "一 千 点 五 元"
    assert said(speech.amount(123456, "zh"), "zh") == "一 千 二 百 三十 四 点 五 六 元"
    assert said(speech.amount(5, "en"), "en") == "zero point zero five yuan"
    assert said(speech.amount(80000, "en"), "en") == "eight hundred yuan"
    with pytest.raises(speech.UnsayableNumber, match="below zero"):
        speech.amount(-1, "zh")


def test_digit_strings_skip_what_is_not_a_digit() -> None:
    assert said(speech.digits("C20261207-0003"), "zh") == "二 零 二 六 一 二 零 七 零 零 零 三"


def test_every_word_has_a_text_in_every_language_and_only_listed_words_may_be_silent() -> None:
    for lang, texts in TEXTS.items():
        assert speech.WORDS <= set(texts), lang
        silent = {name for name, text in texts.items() if not text.strip()}
        assert silent <= speech.WORDS, lang
    assert not TEXTS["zh"]["date-day"] == "" and TEXTS["en"]["date-day"] == ""
