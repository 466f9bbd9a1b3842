"""Chinese word segmentation (jieba) for the transcript search index and its queries.

One jieba `Tokenizer` per process, loaded on first use (≈ 1.2 s and ≈ 85 MB the first time on this
machine; jieba keeps a cache of its prefix dictionary in the temp folder, after which ≈ 0.6 s), from
the dictionary that ships inside the `jieba` package: nothing is downloaded. Its log lines are kept
at WARNING. Segmentation is the precise mode without HMM new-word guessing, so the same characters
give the same words in a document and in a query; spaces between Chinese characters (Vosk puts one
between its words) are removed first, so "运单 号" and "运单号" segment alike.

`index_tokens(text)` is what the index stores (precise words, then the finer words of jieba's search
mode and the digits of spoken digit strings such as 幺三八…, so "一三八" is found by "138");
`query_tokens(text)` is the precise words of one query term.
"""

from __future__ import annotations

import logging
import re
import resource
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_WORDLIKE = re.compile(rf"[0-9A-Za-z{_CJK}]|[^\W_]")
# spoken digit strings (幺三八 零零 …) -> digits, as extra index tokens
_SPOKEN = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
           "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9", "勾": "9"}
_SPOKEN_RUN = re.compile(rf"[{''.join(_SPOKEN)}0-9](?:\s*[{''.join(_SPOKEN)}0-9]){{3,}}")

_lock = threading.Lock()
_tokenizer: Any = None
_stats: SegmenterStats | None = None


@dataclass(frozen=True, slots=True)
class SegmenterStats:
    load_s: float  # time to load jieba's dictionary in this process
    rss_growth_mb: float  # growth of the process's peak resident memory while loading


def _load() -> Any:
    global _tokenizer, _stats
    with _lock:
        if _tokenizer is None:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _stats = SegmenterStats(
                load_s=round(time.perf_counter() - started, 3),
                rss_growth_mb=round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1),
            )
            log.info("jieba dictionary loaded in %.2f s", _stats.load_s)
            _tokenizer = tokenizer
        return _tokenizer


def warm_up() -> SegmenterStats:
    """Load the dictionary now (a web process calls this at start, not on the first search)."""
    _load()
    assert _stats is not None
    return _stats


def _prepare(text: str) -> str:
    return _SPACE_BETWEEN_CJK.sub("", text)


def _words(text: str) -> list[str]:
    """Precise-mode words of `text`, lower-cased, without spaces and punctuation."""
    return [w.lower() for w in _load().cut(_prepare(text), HMM=False) if _WORDLIKE.search(w)]


def query_tokens(term: str) -> list[str]:
    """The words of one query term ("运单号SF123" -> ["运单", "号", "sf123"]); empty if nothing searchable."""
    return _words(term)


def spoken_digits(text: str) -> list[str]:
    """Digit strings spoken digit by digit ("幺 三 八 零 零" -> "13800"), four digits or more."""
    out = []
    for m in _SPOKEN_RUN.finditer(text):
        digits = "".join(_SPOKEN.get(ch, ch) for ch in m.group(0) if not ch.isspace())
        if not m.group(0).replace(" ", "").isdigit():
            out.append(digits)
    return out


def index_tokens(text: str) -> str:
    """The text as index tokens separated by spaces: the precise words in order (phrase queries match
    them), then the finer search-mode words and spoken digit strings not already there."""
    words = _words(text)
    seen = set(words)
    extra: list[str] = []
    for w in _load().cut_for_search(_prepare(text), HMM=False):
        w = w.lower()
        if w not in seen and _WORDLIKE.search(w):
            seen.add(w)
            extra.append(w)
    for digits in spoken_digits(text):
        if digits not in seen:
            seen.add(digits)
            extra.append(digits)
    return " ".join(words + extra)
