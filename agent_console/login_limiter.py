"""Slows password guessing at the console's login without locking the real user out (issue #16,
finding 3; docs/threat-model.md, "login").

Three failure counters, each forgotten `window_s` after its last failure:

- per (account, address): the guesser at one address against one account;
- per address, over every account: one address spraying many usernames;
- per account, over every address: many addresses against one account.

A counter lets `free` failures through, then each further failure makes the next attempt wait
`base_delay_s * 2**(failures - free - 1)` seconds, up to its cap. An attempt that comes before every
counter it is subject to allows it is refused (429 with Retry-After) *without* checking the password,
so it costs no argon2 work and cannot succeed by luck. Nothing is ever refused for longer than the
caps: a delay, never a lockout.

An address the account logged in from before (known good, remembered `known_good_s`) is subject only
to its own (account, address) counter, capped at `pair.max_delay_s` (a minute): guesses from other
addresses, or a spray from a shared address, cannot keep the real user out at their usual place. A
real user at a new address waits out the account's delay when the account is under attack from
elsewhere (the price of limiting distributed guessing at all).

Every map is bounded: an LRU of at most `max_entries` entries, the least recently touched dropped
first and expired ones dropped on the way (no global clear). IPv6 addresses count per /64 network
(one host has a whole /64), IPv4-mapped IPv6 as IPv4. The counters live in the web process: with
several web processes each counts its own share.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

ACCOUNT_KEY_CHARS = 100


@dataclass(frozen=True, slots=True)
class Budget:
    free: int  # failures without any delay
    max_delay_s: float  # the longest wait one further failure can cause


@dataclass(frozen=True, slots=True)
class LimiterSettings:
    pair: Budget = Budget(free=3, max_delay_s=60.0)
    address: Budget = Budget(free=10, max_delay_s=900.0)
    account: Budget = Budget(free=10, max_delay_s=900.0)
    base_delay_s: float = 1.0
    window_s: float = 3600.0  # a counter is forgotten this long after its last failure
    known_good_s: float = 30 * 86400.0  # how long a successful login's address is remembered
    max_entries: int = 10_000  # per map

    def __post_init__(self) -> None:
        for budget in (self.pair, self.address, self.account):
            if budget.free < 0 or budget.max_delay_s <= 0:
                raise ValueError("login budgets need free >= 0 and max_delay_s > 0")
        if self.base_delay_s <= 0 or self.window_s <= 0 or self.known_good_s <= 0 or self.max_entries < 1:
            raise ValueError("base_delay_s, window_s, known_good_s must be > 0 and max_entries >= 1")


class ExpiringLru(Generic[K, V]):
    """A dict of at most `max_entries`, each entry expiring `ttl_s` after it was last set; the least
    recently set entry goes first when full. Not thread-safe (the limiter holds its lock)."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, now: float) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= now:
            del self._items[key]
            return None
        return item[1]

    def set(self, key: K, value: V, now: float) -> None:
        self._items[key] = (now + self.ttl_s, value)
        self._items.move_to_end(key)
        self._expire(now)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def _expire(self, now: float) -> None:
        """Entries are in the order they were set, so the expired ones are at the front."""
        while self._items:
            key, (expires, _) = next(iter(self._items.items()))
            if expires > now:
                return
            del self._items[key]


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass(frozen=True, slots=True)
class _Counters:
    pair: ExpiringLru[tuple[str, str], _Failures]
    address: ExpiringLru[str, _Failures]
    account: ExpiringLru[str, _Failures]
    known_good: ExpiringLru[tuple[str, str], bool]


def _count(lru: ExpiringLru[K, _Failures], key: K, now: float) -> None:
    failures = lru.get(key, now) or _Failures()
    failures.count += 1
    failures.last = now
    lru.set(key, failures, now)


def address_key(address: str) -> str:
    """An IPv4 address as it is, IPv6 as its /64 network (IPv4-mapped: the IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def account_key(username: str) -> str:
    return username.strip().lower()[:ACCOUNT_KEY_CHARS]


@dataclass
class LoginLimiter:
    settings: LimiterSettings = field(default_factory=LimiterSettings)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        s = self.settings
        self._counters = _Counters(
            pair=ExpiringLru(s.max_entries, s.window_s),
            address=ExpiringLru(s.max_entries, s.window_s),
            account=ExpiringLru(s.max_entries, s.window_s),
            known_good=ExpiringLru(s.max_entries, s.known_good_s),
        )
        self._lock = threading.Lock()

    def _delay(self, failures: _Failures | None, budget: Budget) -> float:
        """The earliest time (clock) the next attempt may come, as seconds after `failures.last`."""
        if failures is None or failures.count <= budget.free:
            return 0.0
        exponent = min(failures.count - budget.free - 1, 60)
        return min(self.settings.base_delay_s * 2.0**exponent, budget.max_delay_s)

    def wait_s(self, username: str, address: str, now: float | None = None) -> float:
        """Seconds before this account may be tried from this address (0: now)."""
        now = self.clock() if now is None else now
        account, addr = account_key(username), address_key(address)
        c, s = self._counters, self.settings
        with self._lock:
            checks: list[tuple[_Failures | None, Budget]] = [(c.pair.get((account, addr), now), s.pair)]
            if not c.known_good.get((account, addr), now):
                checks += [(c.address.get(addr, now), s.address), (c.account.get(account, now), s.account)]
            ready = [f.last + self._delay(f, b) for f, b in checks if f is not None]
        return max([0.0, *(r - now for r in ready)])

    def failed(self, username: str, address: str, now: float | None = None) -> float:
        """Count a wrong password (or unknown user); the seconds the next attempt must wait."""
        now = self.clock() if now is None else now
        account, addr = account_key(username), address_key(address)
        c = self._counters
        with self._lock:
            _count(c.pair, (account, addr), now)
            _count(c.address, addr, now)
            _count(c.account, account, now)
        return self.wait_s(username, address, now)

    def succeeded(self, username: str, address: str, now: float | None = None) -> None:
        """A right password: this pair's failures are forgotten and the address is known good for the
        account. The address's and the account's counters stay (a guesser's own account must not
        reset them)."""
        now = self.clock() if now is None else now
        account, addr = account_key(username), address_key(address)
        with self._lock:
            self._counters.pair.pop((account, addr))
            self._counters.known_good.set((account, addr), True, now)

    def sizes(self) -> dict[str, int]:
        """Entries per map (bounded by `settings.max_entries`)."""
        c = self._counters
        with self._lock:
            return {"pair": len(c.pair), "address": len(c.address), "account": len(c.account),
                    "known_good": len(c.known_good)}


def retry_after(wait_s: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
