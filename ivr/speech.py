"""Numbers, digit strings, dates, times and amounts as Hotline's own word prompts (`num-7`, `month-12`, ...),
never Asterisk's `digits/` sounds (SAY DATE / SAY NUMBER speak the channel's language, English on a stock
install, to a Chinese caller).

Each function gives the word names in speaking order. Both languages share one sequence per value; a word a
language does not say (`date-day` 日 in English, `time-at` in Mandarin) has an empty text in that language's
prompt texts and is skipped when played (`spoken`).

Mandarin reads numbers by place with 十/百/千/万 and one 零 for a run of zeros (1005 一千零五, 110 一百一十,
12 万 0 千 3 百 一十二万零三百); English by hundreds with thousand and million."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

LIMIT = 100_000_000  # numbers up to 99,999,999 (九千九百九十九万..., ninety nine million ...)

DIGITS = tuple(f"num-{d}" for d in range(10))
NUMBER_WORDS = (*(f"num-{n}" for n in range(21)), *(f"num-{n}" for n in range(30, 100, 10)),
                "num-100", "num-1000", "num-10000", "num-million", "num-point")
MONTHS = tuple(f"month-{m}" for m in range(1, 13))
TIME_WORDS = ("date-day", "time-at", "time-hour", "time-minute", "time-oh", "time-sharp")
MONEY_WORDS = ("money-yuan",)
WORDS: frozenset[str] = frozenset((*NUMBER_WORDS, *MONTHS, *TIME_WORDS, *MONEY_WORDS))
"""Every word name; the prompt texts must name each in every language (an empty text: not said there)."""


class UnsayableNumber(ValueError):
    """A number out of the range the words cover (negative, or LIMIT and above)."""


def number(n: int, lang: str) -> list[str]:
    """A whole number: 2024 → zh 二千零二十四 [num-2, num-1000, num-0, num-20, num-4]."""
    if not 0 <= n < LIMIT:
        raise UnsayableNumber(f"cannot say {n}: numbers from 0 to {LIMIT - 1} only")
    return _zh(n) if lang == "zh" else _en(n)


def digits(text: str) -> list[str]:
    """A digit string digit by digit (phone numbers, case and waybill numbers); other characters are skipped."""
    return [DIGITS[int(ch)] for ch in text if ch in "0123456789"]


def date_time(at: datetime, lang: str, utc_offset: timedelta) -> list[str]:
    """Month, day and time of day in the hotline's time: zh 十二月六日十四点零五分, en December six at fourteen
    oh five; a whole hour ends with time-sharp (整 / o'clock)."""
    local = at.astimezone(timezone(utc_offset))
    words = [MONTHS[local.month - 1], *number(local.day, lang), "date-day", "time-at", *number(local.hour, lang),
             "time-hour"]
    if local.minute == 0:
        return [*words, "time-sharp"]
    if local.minute < 10:
        words.append("time-oh")
    return [*words, *number(local.minute, lang), "time-minute"]


def amount(fen: int, lang: str) -> list[str]:
    """An amount of money in fen, as yuan: 123450 → 一千二百三十四点五元 / one thousand two hundred thirty four
    point five yuan."""
    if fen < 0:
        raise UnsayableNumber(f"cannot say an amount below zero ({fen} fen)")
    yuan, cents = divmod(fen, 100)
    words = number(yuan, lang)
    if cents:
        words += ["num-point", *digits(f"{cents:02d}".rstrip("0"))]
    return [*words, "money-yuan"]


def spoken(words: list[str], texts: Mapping[str, str]) -> list[str]:
    """The words that have a text in this language (the rest are silent in it)."""
    return [w for w in words if texts.get(w, "").strip()]


def _below_100(n: int) -> list[str]:
    if n <= 20 or n % 10 == 0:
        return [f"num-{n}"]
    return [f"num-{n - n % 10}", f"num-{n % 10}"]


def _en(n: int) -> list[str]:
    if n < 100:
        return _below_100(n)
    for size, word in ((1_000_000, "num-million"), (1000, "num-1000"), (100, "num-100")):
        if n >= size:
            high, rest = divmod(n, size)
            return [*_en(high), word, *(_en(rest) if rest else [])]
    raise AssertionError(n)  # pragma: no cover - every n >= 100 matches a size


def _zh(n: int) -> list[str]:
    if n < 100:
        return _below_100(n)
    wan, rest = divmod(n, 10_000)
    if not wan:
        return _zh_places(rest, leading=True)
    words = [*_zh_places(wan, leading=True), "num-10000"]
    if rest:
        if rest < 1000:
            words.append("num-0")
        words += _zh_places(rest, leading=False)
    return words


def _zh_places(n: int, *, leading: bool) -> list[str]:
    """1..9999 by place: 千 百 十 and units, one 零 for zeros between spoken places. A leading 1 of the tens
    place is 十 alone only at the start of the number (十二, but 一百一十二)."""
    words: list[str] = []
    zero = False
    for place, unit in ((1000, "num-1000"), (100, "num-100"), (10, "num-10"), (1, "")):
        d = n // place % 10
        if d == 0:
            zero = bool(words)
            continue
        if zero:
            words.append("num-0")
            zero = False
        if place == 10 and d == 1:
            words += ["num-10"] if leading and not words else ["num-1", "num-10"]
        elif place == 10:
            words.append(f"num-{d * 10}")
        elif unit:
            words += [DIGITS[d], unit]
        else:
            words.append(DIGITS[d])
    return words
