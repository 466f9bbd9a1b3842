"""Hotline menus and prompt texts as data files (TOML), validated on load.

`load_menu(path, prompts)` → `HotlineMenu` or `MenuFileError` naming the file and the key.
`MenuStore` serves the menus of a folder and reloads a file when it changes; a file that no longer
validates keeps the last good menu serving (the error is kept in `store.errors`). The IVR runs them
(`ivr.flow`) and the console's screen pops label a caller's keys from them (`agent_console.pop`): one
truth. An option's `action` is one of `ivr.actions.ACTIONS`.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from ivr.actions import ACTIONS
from ivr.speech import WORDS

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
QUEUES = ("service", "complaints", "claims")
LANGUAGES = ("zh", "en")
_PROMPT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_HOTLINE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class MenuFileError(Exception):
    """A menu or prompt file that cannot be used (unreadable, bad TOML, a bad or missing key)."""


@dataclass(frozen=True, slots=True)
class Prompts:
    texts: dict[str, dict[str, str]]  # lang → name → text
    status: dict[str, str]  # shipment status text → prompt name
    case_status: dict[str, str]  # case status → prompt name

    def names(self) -> frozenset[str]:
        return frozenset(next(iter(self.texts.values())).keys())


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    action: str
    queue: str
    label_zh: str
    label_en: str


@dataclass(frozen=True, slots=True)
class Collect:
    prompt: str
    min_length: int
    max_length: int
    timeout_ms: int
    tries: int
    invalid_prompt: str
    not_found_prompt: str


@dataclass(frozen=True, slots=True)
class Recording:
    prompt: str
    max_seconds: int
    silence_seconds: int
    format: str
    directory: str


@dataclass(frozen=True, slots=True)
class Hours:
    utc_offset: timedelta
    open: time
    close: time
    days: frozenset[int]
    holidays: frozenset[date]

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(timezone(self.utc_offset))
        if local.date() in self.holidays or local.isoweekday() not in self.days:
            return False
        return self.open <= local.time().replace(tzinfo=None) < self.close


@dataclass(frozen=True, slots=True)
class HotlineMenu:
    hotline: str
    number: str
    name_zh: str
    name_en: str
    language: str
    agent_queue: str
    retries: int
    key_timeout_ms: int
    greeting: str
    menu_prompt: str
    invalid_prompt: str
    timeout_prompt: str
    announcement: str
    hours: Hours | None
    options: tuple[Option, ...]
    collect: dict[str, Collect]
    recording: Recording | None
    source: str

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


# ---------------------------------------------------------------------------- reading helpers


class _Reader:
    def __init__(self, where: str, table: dict[str, Any], section: str = "") -> None:
        self.where = where
        self.table = table
        self.section = section
        self.used: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self.section}.{key}" if self.section else key

    def fail(self, key: str, why: str) -> MenuFileError:
        return MenuFileError(f"{self.where}: {self._name(key)}: {why}")

    def get(self, key: str, kind: type[Any], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self.fail(key, "missing")
            return default
        value = self.table[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise self.fail(key, f"must be {kind.__name__}, got {type(value).__name__}")
        return value

    def number(self, key: str, lo: int, hi: int, default: Any = ...) -> int:
        value: int = self.get(key, int, default)
        if not lo <= value <= hi:
            raise self.fail(key, f"must be between {lo} and {hi}, got {value}")
        return value

    def prompt(self, key: str, prompts: Prompts, default: Any = ..., *, optional: bool = False) -> str:
        value: str = self.get(key, str, default)
        if optional and value == "":
            return value
        if value not in prompts.names():
            raise self.fail(key, f"unknown prompt {value!r} (not in the prompt texts)")
        return value

    def done(self) -> None:
        extra = sorted(set(self.table) - self.used)
        if extra:
            raise self.fail(extra[0], "unknown key")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise MenuFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MenuFileError(f"{path}: not valid TOML: {exc}") from None


def load_prompts(path: Path | None = None) -> Prompts:
    path = path or DATA_DIR / "prompts.toml"
    data = _read_toml(path)
    texts: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        table = data.get(lang)
        if not isinstance(table, dict) or not table:
            raise MenuFileError(f"{path}: [{lang}]: missing (texts of every prompt in {lang})")
        for name, text in table.items():
            if not _PROMPT_NAME.fullmatch(name):
                raise MenuFileError(f"{path}: {lang}.{name}: not a prompt name (a-z, 0-9, -)")
            if not isinstance(text, str) or not (text.strip() or name in WORDS):
                raise MenuFileError(f"{path}: {lang}.{name}: must be a non-empty text")
        lacking = sorted(WORDS - set(table))
        if lacking:
            raise MenuFileError(f"{path}: {lang}.{lacking[0]}: missing (a word the IVR says numbers, dates and "
                                "amounts with; empty if not said in this language)")
        texts[lang] = dict(table)
    names = {lang: set(t) for lang, t in texts.items()}
    for lang in LANGUAGES[1:]:
        diff = names[LANGUAGES[0]] ^ names[lang]
        if diff:
            raise MenuFileError(f"{path}: prompt {sorted(diff)[0]!r} is not in every language")
    maps: list[dict[str, str]] = []
    for section in ("status", "case_status"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise MenuFileError(f"{path}: [{section}] must be a table")
        for k, v in table.items():
            if v not in names[LANGUAGES[0]]:
                raise MenuFileError(f"{path}: {section}.{k}: unknown prompt {v!r}")
        maps.append({str(k): str(v) for k, v in table.items()})
    extra = set(data) - set(LANGUAGES) - {"status", "case_status"}
    if extra:
        raise MenuFileError(f"{path}: [{sorted(extra)[0]}]: unknown section")
    return Prompts(texts, maps[0], maps[1])


def _hhmm(r: _Reader, key: str) -> time:
    text: str = r.get(key, str)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise r.fail(key, f"{text!r} is not HH:MM") from None


def _offset(r: _Reader, key: str) -> timedelta:
    text: str = r.get(key, str, "+08:00")
    m = re.fullmatch(r"([+-])([01][0-9]|2[0-3]):([0-5][0-9])", text)
    if m is None:
        raise r.fail(key, f"{text!r} is not an offset like +08:00")
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return -delta if m.group(1) == "-" else delta


def _hours(where: str, table: Any) -> Hours:
    if not isinstance(table, dict):
        raise MenuFileError(f"{where}: hours: must be a table")
    r = _Reader(where, table, "hours")
    days = r.get("days", list, [1, 2, 3, 4, 5, 6, 7])
    if not days or any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 7 for d in days):
        raise r.fail("days", "must be a non-empty list of ISO weekdays 1-7")
    holidays: set[date] = set()
    for h in r.get("holidays", list, []):
        try:
            holidays.add(h if isinstance(h, date) else date.fromisoformat(str(h)))
        except ValueError:
            raise r.fail("holidays", f"{h!r} is not a date YYYY-MM-DD") from None
    hours = Hours(_offset(r, "utc_offset"), _hhmm(r, "open"), _hhmm(r, "close"), frozenset(days), frozenset(holidays))
    if hours.open >= hours.close:
        raise r.fail("close", "must be after open")
    r.done()
    return hours


def _collect(where: str, name: str, table: Any, prompts: Prompts) -> Collect:
    if not isinstance(table, dict):
        raise MenuFileError(f"{where}: collect.{name}: must be a table")
    r = _Reader(where, table, f"collect.{name}")
    c = Collect(
        prompt=r.prompt("prompt", prompts),
        min_length=r.number("min_length", 1, 32),
        max_length=r.number("max_length", 1, 32),
        timeout_ms=r.number("timeout_ms", 1000, 60000),
        tries=r.number("tries", 1, 10, 3),
        invalid_prompt=r.prompt("invalid_prompt", prompts),
        not_found_prompt=r.prompt("not_found_prompt", prompts, "", optional=True),
    )
    if c.min_length > c.max_length:
        raise r.fail("min_length", f"{c.min_length} is more than max_length {c.max_length}")
    r.done()
    return c


def _recording(where: str, table: Any, prompts: Prompts) -> Recording:
    if not isinstance(table, dict):
        raise MenuFileError(f"{where}: recording: must be a table")
    r = _Reader(where, table, "recording")
    rec = Recording(
        prompt=r.prompt("prompt", prompts),
        max_seconds=r.number("max_seconds", 5, 600),
        silence_seconds=r.number("silence_seconds", 0, 30, 3),
        format=r.get("format", str, "wav"),
        directory=r.get("directory", str),
    )
    if rec.format not in ("wav", "gsm", "sln", "ulaw", "alaw", "wav49"):
        raise r.fail("format", f"{rec.format!r} is not an Asterisk recording format")
    if not rec.directory.startswith("/") or any(c.isspace() for c in rec.directory):
        raise r.fail("directory", "must be an absolute path without spaces")
    r.done()
    return rec


def parse_menu(data: dict[str, Any], where: str, prompts: Prompts) -> HotlineMenu:
    r = _Reader(where, data)
    hotline: str = r.get("hotline", str)
    if not _HOTLINE_NAME.fullmatch(hotline):
        raise r.fail("hotline", f"{hotline!r} is not a name (a-z, 0-9, _ -)")
    number: str = r.get("number", str)
    if not number.isdigit():
        raise r.fail("number", f"{number!r} is not a phone number")
    language: str = r.get("language", str, "zh")
    if language not in LANGUAGES:
        raise r.fail("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    agent_queue: str = r.get("agent_queue", str)
    if agent_queue not in QUEUES:
        raise r.fail("agent_queue", f"unknown queue {agent_queue!r}")

    options: list[Option] = []
    raw_options = r.get("options", list)
    for i, raw in enumerate(raw_options):
        if not isinstance(raw, dict):
            raise r.fail(f"options[{i}]", "must be a table")
        o = _Reader(where, raw, f"options[{i}]")
        opt = Option(o.get("key", str), o.get("action", str), o.get("queue", str, agent_queue),
                     o.get("label_zh", str), o.get("label_en", str))
        o.done()
        if len(opt.key) != 1 or opt.key not in "0123456789":
            raise o.fail("key", f"{opt.key!r} is not a menu key 0-9 (* and # are reserved)")
        if opt.action not in ACTIONS:
            raise o.fail("action", f"unknown action {opt.action!r} (one of {', '.join(ACTIONS)})")
        if opt.queue not in QUEUES:
            raise o.fail("queue", f"unknown queue {opt.queue!r}")
        if any(p.key == opt.key for p in options):
            raise o.fail("key", f"duplicate key {opt.key}")
        options.append(opt)
    if not options:
        raise r.fail("options", "a menu needs at least one option")

    collect: dict[str, Collect] = {}
    raw_collect = r.get("collect", dict, {})
    for name, table in raw_collect.items():
        if name not in ("waybill", "phone", "claim"):
            raise MenuFileError(f"{where}: collect.{name}: unknown collection (waybill, phone, claim)")
        collect[name] = _collect(where, name, table, prompts)
    recording = _recording(where, data["recording"], prompts) if "recording" in data else None
    r.used.add("recording")
    hours = _hours(where, data["hours"]) if "hours" in data else None
    r.used.add("hours")
    for opt in options:
        action = ACTIONS[opt.action]
        for need in action.needs:
            present = recording is not None if need == "recording" else need.split(".")[1] in collect
            if not present:
                raise MenuFileError(f"{where}: action {opt.action} (key {opt.key}) needs a [{need}] section")
        lacking = [name for name in action.prompts if name not in prompts.names()]
        if lacking:
            raise MenuFileError(f"{where}: action {opt.action} (key {opt.key}) plays prompt {lacking[0]!r}, "
                                "not in the prompt texts")

    menu = HotlineMenu(
        hotline=hotline,
        number=number,
        name_zh=r.get("name_zh", str),
        name_en=r.get("name_en", str),
        language=language,
        agent_queue=agent_queue,
        retries=r.number("retries", 1, 10, 3),
        key_timeout_ms=r.number("key_timeout_ms", 1000, 60000, 5000),
        greeting=r.prompt("greeting", prompts),
        menu_prompt=r.prompt("menu_prompt", prompts),
        invalid_prompt=r.prompt("invalid_prompt", prompts),
        timeout_prompt=r.prompt("timeout_prompt", prompts),
        announcement=r.prompt("announcement", prompts, "", optional=True),
        hours=hours,
        options=tuple(options),
        collect=collect,
        recording=recording,
        source=where,
    )
    r.done()
    return menu


def load_menu(path: Path, prompts: Prompts) -> HotlineMenu:
    return parse_menu(_read_toml(path), str(path), prompts)


class MenuStore:
    """The menus of a folder (`*.toml` except prompts.toml), reloaded when a file changes.

    A file that fails validation is reported (log + `errors`) and the menu it last defined keeps
    serving. Thread-safe."""

    def __init__(self, directory: Path | None = None, prompts_file: Path | None = None) -> None:
        self.directory = directory or DATA_DIR
        self.prompts_file = prompts_file or self.directory / "prompts.toml"
        if not self.prompts_file.exists():
            self.prompts_file = DATA_DIR / "prompts.toml"
        self._lock = threading.Lock()
        self._menus: dict[str, HotlineMenu] = {}
        self._by_file: dict[Path, str] = {}
        self._stamps: dict[Path, tuple[float, int]] = {}
        self.errors: dict[str, str] = {}
        self.prompts = load_prompts(self.prompts_file)
        self.reload(strict=True)

    def _files(self) -> list[Path]:
        return sorted(p for p in self.directory.glob("*.toml") if p.name != "prompts.toml")

    def reload(self, *, strict: bool = False) -> dict[str, str]:
        """Load the files that changed. `strict`: raise the first error (at start-up: a server with a
        broken menu must not start). Returns the current errors (file → message)."""
        with self._lock:
            for path in self._files():
                try:
                    st = path.stat()
                except OSError:
                    continue
                stamp = (st.st_mtime, st.st_size)
                if self._stamps.get(path) == stamp:
                    continue
                self._stamps[path] = stamp
                try:
                    menu = load_menu(path, self.prompts)
                    owner = next((f for f, h in self._by_file.items() if h == menu.hotline and f != path), None)
                    if owner is not None:
                        raise MenuFileError(f"{path}: hotline {menu.hotline!r} is already defined in {owner}")
                except MenuFileError as exc:
                    if strict:
                        raise
                    self.errors[str(path)] = str(exc)
                    log.error("menu file rejected, the previous menu keeps serving: %s", exc)
                    continue
                self.errors.pop(str(path), None)
                self._menus[menu.hotline] = menu
                self._by_file[path] = menu.hotline
                log.info("menu %s loaded from %s", menu.hotline, path)
            return dict(self.errors)

    def get(self, hotline: str) -> HotlineMenu | None:
        self.reload()
        with self._lock:
            return self._menus.get(hotline)

    def hotlines(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._menus))

    def all(self) -> tuple[HotlineMenu, ...]:
        with self._lock:
            return tuple(self._menus[h] for h in sorted(self._menus))


@functools.cache
def shipped_menus() -> MenuStore:
    """The shipped menu files (`DATA_DIR`, what `hotline ivr serve` runs without --menus), one store per
    process, reloaded when a file changes: what the console labels a caller's keys with."""
    return MenuStore()
