"""The two hotlines' IVR menus, as data.

The console uses them to label what a caller chose. The FastAGI IVR (`ivr.flow`) runs the full
menus of `ivr/data/*.toml`; `tests/ivr/test_config.py` checks that keys, labels and queues agree.
"""

from __future__ import annotations

from dataclasses import dataclass


class MenuError(Exception):
    """A menu definition that cannot work (duplicate key, unknown queue)."""


@dataclass(frozen=True, slots=True)
class Choice:
    key: str  # DTMF key: 0-9, * or #
    action: str  # "queue" | "collect_waybill" | "claim_status" | "change_phone"
    queue: str  # the queue the call ends up in
    label_zh: str
    label_en: str


@dataclass(frozen=True, slots=True)
class Menu:
    hotline: str  # "service" | "claims"
    number: str  # the dialled number
    name_zh: str
    name_en: str
    choices: tuple[Choice, ...]
    timeout_queue: str  # no key within the wait: where the call goes
    max_tries: int = 3

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)

    def describe(self, digits: str, lang: str = "zh-CN") -> list[str]:
        """Labels of the menu keys in `digits` (the first valid menu key and what led to it)."""
        labels: list[str] = []
        for d in digits:
            c = self.choice(d)
            if c is None:
                labels.append(("无效按键 " if lang.startswith("zh") else "invalid key ") + d)
                continue
            labels.append(c.label_zh if lang.startswith("zh") else c.label_en)
            break  # keys after a valid choice are data (e.g. the waybill number)
        if not digits:
            labels.append("未按键，转人工" if lang.startswith("zh") else "no key: to an agent")
        return labels


QUEUES = ("service", "complaints", "claims")

SERVICE = Menu(
    hotline="service",
    number="4008001",
    name_zh="客服热线",
    name_en="Service hotline",
    choices=(
        Choice("1", "collect_waybill", "service", "运单查询", "Tracking by waybill"),
        Choice("2", "queue", "complaints", "投诉", "Complaint"),
        Choice("3", "change_phone", "service", "更改收货人电话", "Change consignee phone"),
        Choice("0", "queue", "service", "人工服务", "Agent"),
    ),
    timeout_queue="service",
)

CLAIMS = Menu(
    hotline="claims",
    number="4008002",
    name_zh="理赔热线",
    name_en="Claims hotline",
    choices=(
        Choice("1", "queue", "claims", "新理赔报案", "New claim"),
        Choice("2", "claim_status", "claims", "理赔进度查询", "Claim status"),
        Choice("0", "queue", "claims", "人工服务", "Agent"),
    ),
    timeout_queue="claims",
)

MENUS: dict[str, Menu] = {SERVICE.hotline: SERVICE, CLAIMS.hotline: CLAIMS}


def validate(menu: Menu) -> None:
    keys = [c.key for c in menu.choices]
    if len(set(keys)) != len(keys):
        raise MenuError(f"menu {menu.hotline}: duplicate keys {keys}")
    for c in menu.choices:
        if c.key not in "0123456789*#" or len(c.key) != 1:
            raise MenuError(f"menu {menu.hotline}: {c.key!r} is not a DTMF key")
        if c.queue not in QUEUES:
            raise MenuError(f"menu {menu.hotline}: key {c.key} goes to unknown queue {c.queue!r}")
    if menu.timeout_queue not in QUEUES:
        raise MenuError(f"menu {menu.hotline}: timeout goes to unknown queue {menu.timeout_queue!r}")


def menu_for(hotline: str | None) -> Menu | None:
    return MENUS.get(hotline or "")


for _m in MENUS.values():
    validate(_m)
