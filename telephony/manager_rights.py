"""What an AMI user of manager.conf may read and write, decided as Asterisk 20.20.1's main/manager.c
decides it: the PBX simulator applies it to every session, and `hotline ami-check` reports with it.

- Classes (`read =`, `write =`, an event's `Privilege:`): comma-separated names of manager.c's `perms[]`;
  `all` is every class. An event reaches a session only if the session may read *every* class of the
  event and its event mask (Login's `Events`, the `Events` action) has them all too.
- An action may be sent when the user may write *any* of its classes, or it has none.
- `eventfilter` lines, legacy (`eventfilter = [!]regex`, the regex searched in the whole event text) and
  advanced (`eventfilter(action(include|exclude),name(E),header(H),method(M)) = pattern`): with include
  filters only, an event must match one; with exclude filters only, it must match none; with both, it
  must match an include filter and no exclude filter. A filter Asterisk cannot read is skipped with a
  warning, as Asterisk does.
- `channelvars` is read in `[general]` only (a user section's `channelvars` is an unknown option there):
  those variables are the `ChanVariable:` lines of channel events.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Fields = Sequence[tuple[str, str]]

# manager.c perms[], in its order
CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr",
           "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message")

# the write classes of the actions Hotline and its tools send (the ast_manager_register_xml calls of
# main/manager.c, apps/app_queue.c and apps/app_mixmonitor.c in 20.20.1); an empty set: anyone logged in
ACTION_CLASSES: dict[str, frozenset[str]] = {
    "ping": frozenset(), "login": frozenset(), "logoff": frozenset(), "events": frozenset(),
    "listcommands": frozenset(), "queuestatus": frozenset(), "queuesummary": frozenset(),
    "hangup": frozenset({"system", "call"}), "redirect": frozenset({"call"}), "setvar": frozenset({"call"}),
    "getvar": frozenset({"call", "reporting"}), "blindtransfer": frozenset({"call"}),
    "originate": frozenset({"originate"}), "command": frozenset({"command"}),
    "coreshowchannels": frozenset({"system", "reporting"}), "status": frozenset({"system", "call", "reporting"}),
    "queuepause": frozenset({"agent"}), "queueadd": frozenset({"agent"}), "queueremove": frozenset({"agent"}),
    "mixmonitor": frozenset({"system"}), "filter": frozenset({"system"}), "userevent": frozenset({"user"}),
}

ALL_CLASSES = frozenset(CLASSES)
METHODS = ("regex", "exact", "starts_with", "ends_with", "contains", "none")


class ManagerConfError(ValueError):
    """A manager.conf line this reader cannot take (the message names the line)."""


def classes(text: str) -> frozenset[str]:
    """The classes a `read =` / `write =` / `Privilege:` / `EventMask` value names (manager.c get_perm:
    whole comma-separated words; `all` gives every class; unknown words count for nothing)."""
    words = {w.strip().lower() for w in text.split(",")}
    if "all" in words:
        return frozenset(CLASSES)
    return frozenset(w for w in words if w in CLASSES)


def event_mask(text: str) -> frozenset[str] | None:
    """An `Events:` / `EventMask:` value as manager.c strings_to_mask reads it: on/yes/true: every
    class, off/no/false: none, else the classes named; None for an empty value (no change)."""
    value = text.strip().lower()
    if not value:
        return None
    if value in ("yes", "true", "y", "t", "1", "on"):
        return frozenset(CLASSES)
    if value in ("no", "false", "n", "f", "0", "off"):
        return frozenset()
    if value.isdigit():
        bits = int(value)
        return frozenset(c for i, c in enumerate(CLASSES) if bits & (1 << i))
    return classes(value)


def event_text(fields: Fields) -> str:
    """An event as Asterisk holds it for filtering: every header line, CRLF-ended, then an empty line."""
    return "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"


@dataclass(frozen=True)
class EventFilter:
    exclude: bool
    name: str | None  # only events of this name
    header: str | None  # only this header's value (with its ':'), else the whole event text
    method: str  # one of METHODS
    pattern: str
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, event: str, fields: Fields, text: Callable[[], str]) -> bool:
        """Whether this filter matches an event: its name, then its header's value (a header line
        beginning with `Header:`), or the whole event text (`text()`, made when needed)."""
        if self.name is not None and event != self.name:
            return False
        if self.header is None:
            return self._match(text())
        key = self.header[:-1]
        return any(k == key and v.lstrip(" \t") and self._match(v.lstrip(" \t")) for k, v in fields)

    def _match(self, data: str) -> bool:
        if self.method == "regex":
            assert self.regex is not None
            return self.regex.search(data) is not None
        if self.method == "starts_with":
            return data.startswith(self.pattern)
        if self.method == "ends_with":
            return data.endswith(self.pattern)
        if self.method == "contains":
            return self.pattern in data
        if self.method == "exact":
            return data == self.pattern
        return True  # none


def parse_filter(key: str, value: str) -> EventFilter:
    """One `eventfilter[(...)] = value` line (manager.c manager_add_filter); ManagerConfError when Asterisk
    would refuse it."""
    pattern = value
    exclude = pattern.startswith("!")
    if exclude:
        pattern = pattern[1:]
    name = header = None
    method = "regex"
    if "(" in key:
        inner = key[key.index("(") + 1:].strip()
        if not inner.endswith(")"):
            raise ManagerConfError(f"{key} = {value}: filter options not formatted correctly")
        method = "none"
        found = set()
        for option in [o for o in re.split(r"[ ,)]+", inner) if o]:
            kind, _, arg = option.partition("(")
            arg = arg.strip()
            if kind not in ("action", "name", "header", "method") or not arg:
                raise ManagerConfError(f"{key} = {value}: filter option {option!r} is unknown or empty")
            found.add(kind)
            if kind == "action":
                if arg not in ("include", "exclude"):
                    raise ManagerConfError(f"{key} = {value}: action {arg!r} is unknown")
                exclude = arg == "exclude"
            elif kind == "name":
                name = arg
            elif kind == "header":
                header = arg if arg.endswith(":") else f"{arg}:"
            else:
                if arg not in METHODS:
                    raise ManagerConfError(f"{key} = {value}: method {arg!r} is unknown")
                method = arg
        if pattern and method == "none":
            raise ManagerConfError(f"{key} = {value}: method can't be 'none' with a filter pattern")
        if not pattern and method != "none":
            raise ManagerConfError(f"{key} = {value}: method can't be {method!r} with no filter pattern")
        if not pattern and "name" not in found and "header" not in found:
            raise ManagerConfError(f"{key} = {value}: no name or header option and no filter pattern")
    elif not pattern:
        raise ManagerConfError(f"{key} = {value}: legacy filter with no filter pattern")
    regex = None
    if pattern and method == "regex":
        try:
            regex = re.compile(pattern)  # POSIX extended in Asterisk: the forms used here read the same
        except re.error as exc:
            raise ManagerConfError(f"{key} = {value}: the regex does not compile ({exc})") from None
    return EventFilter(exclude, name, header, method, pattern, regex)


@dataclass(frozen=True)
class ManagerUser:
    username: str
    secret: str = ""
    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()
    filters: tuple[EventFilter, ...] = ()

    def may_send(self, action: str) -> bool:
        """Whether this user may send `action` (unknown actions: Asterisk answers them as unknown)."""
        needed = ACTION_CLASSES.get(action.lower(), frozenset())
        return not needed or bool(needed & self.write)

    def receives(self, fields: Fields, mask: frozenset[str] = ALL_CLASSES) -> bool:
        """Whether an event (its header lines, Event and Privilege first) reaches a session of this user
        with event mask `mask`."""
        head = dict(fields[:2])
        event = head.get("Event", "")
        # Privilege names the event's classes, then "all" (manager.c authority_to_str)
        category = {w.strip() for w in head.get("Privilege", "").split(",")} & ALL_CLASSES
        if not category <= self.read or not category <= mask:
            return False
        return self.passes_filters(event, fields)

    def passes_filters(self, event: str, fields: Fields) -> bool:
        if not self.filters:
            return True
        made: list[str] = []

        def text() -> str:
            if not made:
                made.append(event_text(fields))
            return made[0]

        include = [f for f in self.filters if not f.exclude]
        if include and not any(f.matches(event, fields, text) for f in include):
            return False
        return not any(f.matches(event, fields, text) for f in self.filters if f.exclude)


@dataclass(frozen=True)
class ManagerConf:
    users: dict[str, ManagerUser]
    channelvars: tuple[str, ...] = ()  # [general] channelvars
    warnings: tuple[str, ...] = ()  # lines Asterisk would skip with a warning

    def user(self, username: str) -> ManagerUser | None:
        return self.users.get(username)


def _sections(text: str) -> Iterable[tuple[str, int, str, str]]:
    """(section, line number, key, value) of every `key = value` line (`=>` too), comments dropped."""
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if "]" not in line:
                raise ManagerConfError(f"line {number}: section header without ']': {raw.strip()}")
            section = line[1:line.index("]")].strip()
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ManagerConfError(f"line {number}: not a 'key = value' line: {raw.strip()}")
        yield section, number, key.strip(), value.removeprefix(">").strip()


def parse_manager_conf(text: str) -> ManagerConf:
    """Users and [general] channelvars of a manager.conf text."""
    users: dict[str, dict[str, str]] = {}
    filters: dict[str, list[EventFilter]] = {}
    warnings: list[str] = []
    channelvars: tuple[str, ...] = ()
    for section, number, key, value in _sections(text):
        if section == "general":
            if key.lower() == "channelvars":
                channelvars = tuple(v.strip() for v in value.split(",") if v.strip())
            continue
        if not section:
            raise ManagerConfError(f"line {number}: {key} outside any section")
        users.setdefault(section, {})
        filters.setdefault(section, [])
        if key.lower().startswith("eventfilter"):
            try:
                filters[section].append(parse_filter(key, value))
            except ManagerConfError as exc:
                warnings.append(f"line {number}: {exc}")
        else:
            users[section][key.lower()] = value
    for warning in warnings:
        log.warning("manager.conf: %s (skipped, as Asterisk does)", warning)
    return ManagerConf(
        {name: ManagerUser(name, opts.get("secret", ""), classes(opts.get("read", "")),
                           classes(opts.get("write", "")), tuple(filters[name]))
         for name, opts in users.items()},
        channelvars, tuple(warnings))
