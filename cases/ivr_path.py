"""The IVR path (`calls.ivr_path`, the IVR's `IVR_PATH`) read back: its steps, the menu node of each
step, where a caller left the IVR, and what a caller served by the IVR alone got.

`ivr.flow` writes the steps (`CallState.step`), `>`-joined; a second IVR visit of the same call (the
queue wait limit's callback offer) is appended with `>` by the listener. The node naming is here only:
`ivr_node` and the `NODES` table (zh-CN with English, the service standard's and the menus' words)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeLabel:
    zh: str
    en: str


# every node `ivr_node` gives for a step ivr.flow writes, in the order a caller meets them
NODES: dict[str, NodeLabel] = {
    "menu": NodeLabel("主菜单", "main menu"),  # greeting, main menu, its time-outs and wrong keys, * back
    "announcement": NodeLabel("公告", "announcement"),
    "tracking": NodeLabel("运单查询", "tracking query"),  # menu choices: the menus' own labels
    "complaint": NodeLabel("投诉", "complaint"),
    "change_phone": NodeLabel("更改收货人电话", "change consignee phone"),
    "new_claim": NodeLabel("新理赔报案", "new claim"),
    "claim_status": NodeLabel("理赔进度查询", "claim status query"),
    "waybill": NodeLabel("输入运单号", "waybill number"),
    "status": NodeLabel("运单状态播报", "tracking status told"),
    "phone": NodeLabel("输入收货人电话", "consignee phone number"),
    "claim": NodeLabel("输入理赔案件号", "claim number"),
    "claim_result": NodeLabel("理赔进度播报", "claim status told"),
    "recording": NodeLabel("录音留言", "recorded message"),
    "case": NodeLabel("案件登记", "case registered"),
    "agent": NodeLabel("转人工服务", "to an agent"),
    "wait_limit": NodeLabel("等候超时回电提示", "callback offer (queue wait limit)"),
    "closed": NodeLabel("非工作时间", "out of hours"),
    "callback": NodeLabel("回电登记", "callback registered"),
    "goodbye": NodeLabel("结束语", "goodbye"),
    "error": NodeLabel("系统故障", "system error"),
    "hangup": NodeLabel("挂机", "hang-up"),
}

# step kinds whose node has another name
_ALIASES = {
    "recorded": "recording",  # recorded=5.7s, recorded=3.0s:hangup
    "back": "menu",  # * in a self-service answer: back to the main menu
    "offer": "wait_limit",  # offer=2, offer:timeout: the callback offer declined
    "claim_status": "claim_result",  # claim_status=paid (the menu choice is menu=2:claim_status)
}

# nodes that record what was done rather than a place in the menus: not where a caller "left"
_MARKS = frozenset({"case", "hangup"})
SELF_SERVICES = ("tracking", "claim_status", "change_phone", "callback")  # what a caller can finish alone


def ivr_steps(path: str | None) -> tuple[str, ...]:
    """The steps of a path, in order (empty steps dropped)."""
    return tuple(step for step in (p.strip() for p in (path or "").split(">")) if step)


def ivr_node(step: str) -> str:
    """The menu node of one step: the step's kind without its value or detail.

    `menu=1:tracking` → `tracking` (the action chosen, whatever the key); `menu:timeout`,
    `menu:invalid=5`, `menu:too_many_tries`, `back` → `menu`; `waybill=…`, `waybill:invalid=…`,
    `waybill:none=…`, `waybill:skipped` → `waybill` (so `phone…`, `claim…`); `status=运输中` → `status`;
    `claim_status=paid` → `claim_result`; `recorded=5.7s` → `recording`; `case=C…` → `case`;
    `wait_limit=service`, `offer=…` → `wait_limit`; `agent=service` → `agent`; `closed`, `callback`,
    `goodbye`, `error`, `hangup`, `announcement=…` as they are. A kind not in `NODES` is returned as it
    is (its label is then the kind itself)."""
    head, _, value = step.strip().partition("=")
    kind, _, detail = head.partition(":")
    if kind == "menu":
        action = value.partition(":")[2] if value and not detail else ""
        return action or "menu"
    return _ALIASES.get(kind, kind)


def node_label(node: str) -> NodeLabel:
    return NODES.get(node, NodeLabel(node, node))


def exit_node(steps: tuple[str, ...]) -> str:
    """Where a caller left the IVR: the node of the last step before `hangup`, not counting `case=…`
    (a case the IVR registered: a message ended by hanging up left at `recording`); `menu` when the
    caller hung up before any step (during the greeting or the main menu)."""
    for step in reversed(steps):
        node = ivr_node(step)
        if node not in _MARKS:
            return node
    return "menu"


def self_service(steps: tuple[str, ...]) -> str | None:
    """What a caller served by the IVR alone got: the IVR ended with `goodbye` (a hang-up during it
    counts) after a callback was registered (`callback`) or a self-service menu choice (the last of
    `tracking`, `claim_status`, `change_phone`: status told, claim status told, change request
    registered). None when the IVR did not end with goodbye; `goodbye` when it did after none of them."""
    nodes = [ivr_node(step) for step in steps]
    while nodes and nodes[-1] == "hangup":
        nodes.pop()
    if not nodes or nodes[-1] != "goodbye":
        return None
    if "callback" in nodes:
        return "callback"
    return next((n for n in reversed(nodes) if n in SELF_SERVICES), "goodbye")
