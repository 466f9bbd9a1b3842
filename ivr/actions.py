"""The IVR's actions, registered by name: what a menu option's `action` may be.

An action is the menu files' word for what a key does. Each has one entry here, `IvrAction`: what it
needs from the menu file (checked on load, `ivr.config`), the prompts it plays besides the file's own
(checked against the prompt texts on load), and the case kind a screen pop suggests for a caller who
chose it (`agent_console.pop`). Its run step is the one handler `ivr.flow` registers for it
(`@handles(...)`); `ivr.flow` refuses to load when an action here has none.

A new action: its entry here, its handler in ivr/flow.py, its prompt texts in prompts.toml, and the
menu options (TOML) that use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.vocab import CaseKind


@dataclass(frozen=True, slots=True)
class IvrAction:
    name: str  # the menu files' `action`
    needs: tuple[str, ...]  # sections of the menu file: "collect.waybill", "recording", …
    prompts: tuple[str, ...]  # prompt names it plays besides the file's (collect and recording prompts)
    case_kind: CaseKind | None  # what a pop suggests; None: the kind of the queue the option goes to


TRACKING = IvrAction("tracking", ("collect.waybill",),
                     ("tracking-intro", "status-unknown", "last-scan", "anything-else"), CaseKind.TRACKING)
COMPLAINT = IvrAction("complaint", ("recording",), ("recorded-thanks",), CaseKind.COMPLAINT)
CHANGE_PHONE = IvrAction("change_phone", ("collect.waybill", "collect.phone"),
                         ("phone-confirm", "confirm-or-retry", "request-registered"), None)
NEW_CLAIM = IvrAction("new_claim", ("recording",), ("recorded-thanks",), CaseKind.CLAIM)
CLAIM_STATUS = IvrAction("claim_status", ("collect.claim",),
                         ("status-unknown", "claim-paid", "claim-agreed", "anything-else"), CaseKind.CLAIM)
AGENT = IvrAction("agent", (), (), None)

ACTIONS: dict[str, IvrAction] = {a.name: a for a in (TRACKING, COMPLAINT, CHANGE_PHONE, NEW_CLAIM, CLAIM_STATUS,
                                                     AGENT)}

# the case kind of what a caller sent to a queue is about, when the action does not say
QUEUE_CASE_KINDS: dict[str, CaseKind] = {
    "service": CaseKind.INQUIRY,
    "complaints": CaseKind.COMPLAINT,
    "claims": CaseKind.CLAIM,
}


def suggested_case_kind(action: str | None, queue: str) -> CaseKind:
    """The case kind for a caller who chose `action` (None: no choice) and was sent to `queue`: the
    action's own, else the queue's, else an inquiry."""
    known = ACTIONS.get(action or "")
    if known is not None and known.case_kind is not None:
        return known.case_kind
    return QUEUE_CASE_KINDS.get(queue, CaseKind.INQUIRY)
