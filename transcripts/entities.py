"""Spoken Chinese numbers to digits, and waybill numbers, phone numbers and amounts in transcript text.

`normalize_numbers("运单号 幺 三 八 零 ...")` turns runs of spoken digits (一二三…, 幺 for 1, 两 for 2,
零/〇) into digit strings and positional numbers (三百五十, 两千, 一万二) into their value.
`extract_entities(text)` finds `Entity` values in the normalised text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

DIGITS = {
    "零": 0, "〇": 0, "洞": 0,
    "一": 1, "壹": 1, "幺": 1, "么": 1,
    "二": 2, "贰": 2, "两": 2,
    "三": 3, "叁": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6,
    "七": 7, "柒": 7, "拐": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9, "勾": 9,
}  # fmt: skip
UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
# Letters that are digits only in digit strings (幺 洞 拐 勾 are radio-style readings; 么 is ambiguous).
_STRING_ONLY = set("洞拐勾么")
_NUMERAL = "".join(DIGITS) + "".join(UNITS) + "".join(BIG_UNITS)
_RUN = re.compile(rf"[{_NUMERAL}0-9](?:[\s{_NUMERAL}0-9])*[{_NUMERAL}0-9]|[{_NUMERAL}0-9]")


class NumeralError(ValueError):
    """Text that is not a Chinese number."""


def chinese_number(text: str) -> int:
    """The value of a positional Chinese number: 十五 15, 三百五十 350, 三百五 350, 两千零六 2006, 一万二 12000."""
    text = text.replace(" ", "")
    if not text:
        raise NumeralError("empty number")
    total = 0  # finished 万/亿 groups
    section = 0  # current group below 万
    digit: int | None = None
    last_unit = 1
    for ch in text:
        if ch in DIGITS:
            if digit is not None and ch not in "零〇":
                raise NumeralError(f"two digits in a row in {text!r}: read it as a digit string")
            digit = DIGITS[ch] if ch not in "零〇" else None
            if ch in "零〇":
                last_unit = 10  # after 零 a bare digit is units: 一百零五
        elif ch in UNITS:
            unit = UNITS[ch]
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        elif ch in BIG_UNITS:
            section += digit or 0
            total = (total + section) * BIG_UNITS[ch]
            section, digit, last_unit = 0, None, BIG_UNITS[ch]
        elif ch.isdigit():
            raise NumeralError(f"mixed Arabic and Chinese digits in {text!r}")
        else:
            raise NumeralError(f"not a Chinese number: {text!r}")
    if digit is not None:
        # 三百五 = 350, 一万二 = 12000: a trailing digit counts one step below the last unit
        section += digit * (last_unit // 10 if last_unit >= 10 else 1)
    return total + section


def _convert_run(run: str) -> str:
    compact = run.replace(" ", "")
    if compact.isdigit() and compact.isascii():
        return compact
    if any(c in UNITS or c in BIG_UNITS for c in compact) and not (set(compact) & _STRING_ONLY):
        if any(c.isascii() and c.isdigit() for c in compact):
            return run
        try:
            return str(chinese_number(compact))
        except NumeralError:
            return run
    if all(c in DIGITS or (c.isascii() and c.isdigit()) for c in compact):
        return "".join(c if c.isascii() else str(DIGITS[c]) for c in compact)
    return run


_MONEY_AFTER = "元块毛角"


def _replace(m: re.Match[str]) -> str:
    run = m.group(0)
    compact = run.replace(" ", "")
    if compact[0] in BIG_UNITS or compact[0] in "百佰千仟":
        return run  # 万一 "in case", 千万 "by all means": words, not numbers
    if len(compact) == 1 and not compact.isdigit():
        after = m.string[m.end() :].lstrip()
        before = m.string[: m.start()].rstrip()
        if (not after or after[0] not in _MONEY_AFTER) and not before.endswith(("块", "元")):
            return run  # a lone 一/十 is usually part of a word (一下, 一样)
    return _convert_run(run)


def normalize_numbers(text: str) -> str:
    """Spoken numbers in `text` as digits; spaces inside a number (Vosk puts them between words) go.

    Lone numerals stay as they are unless an amount follows (五块), and runs starting with 万/千/百 are
    left alone (万一, 千万 are words).
    """
    return _RUN.sub(_replace, text)


@dataclass(frozen=True, slots=True)
class Entity:
    """Something worth linking to the case: kind "waybill", "phone" or "amount"."""

    kind: str
    value: str  # digits for waybill/phone; a decimal string in 元 for amounts
    text: str  # the normalised text it was found in (the match)
    start: int  # offset in the normalised text
    end: int


_WAYBILL_CUE = re.compile(r"(运单|单号|快递单|订单号|运单号)\s*(?:号码?|是|为|:|:)?\s*$")
_DIGIT_RUN = re.compile(r"(?<![0-9.])[0-9]{7,14}(?![0-9.])")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[1-9][0-9]{8,10}$")
_AMOUNT = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*(元|块钱|块)(?:\s*([0-9])(?![0-9]))?(?:\s*(?:角|毛))?")


def extract_entities(text: str) -> list[Entity]:
    """Waybill numbers (10-14 digits), phone numbers (mobile 1[3-9]xxxxxxxxx, landline 0xx…) and amounts (元/块)."""
    norm = normalize_numbers(text)
    found: list[Entity] = []
    for m in _DIGIT_RUN.finditer(norm):
        digits = m.group(0)
        cue = bool(_WAYBILL_CUE.search(norm[: m.start()]))
        if not cue and (_MOBILE.match(digits) or _LANDLINE.match(digits)):
            found.append(Entity("phone", digits, digits, m.start(), m.end()))
        elif 10 <= len(digits) <= 14:
            found.append(Entity("waybill", digits, digits, m.start(), m.end()))
        elif 7 <= len(digits) <= 8 and not cue:
            found.append(Entity("phone", digits, digits, m.start(), m.end()))
    taken = [(e.start, e.end) for e in found]
    for m in _AMOUNT.finditer(norm):
        if any(s < m.end(1) and m.start(1) < e for s, e in taken):
            continue
        value = Decimal(m.group(1))
        if m.group(3) is not None and m.group(2) == "块" and "." not in m.group(1):
            value += Decimal(m.group(3)) / 10  # 三块五 = 3.5
        found.append(Entity("amount", str(value), m.group(0), m.start(), m.end()))
    found.sort(key=lambda e: e.start)
    return found
