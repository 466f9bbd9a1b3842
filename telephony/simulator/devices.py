"""Device states as the simulated Asterisk derives them from all its calls at once (the call scripts
each say only their own): the trunk, and each queue's `Queue:<q>_avail`."""

from __future__ import annotations

from collections.abc import Callable, Collection

from telephony.simulator.scenario import Fields


class DeviceStates:
    def __init__(self, agents: Collection[str]) -> None:
        self._agents = agents  # the agents' peers: any other SIP device is a trunk
        self._trunk_calls: dict[str, int] = {}
        self._member_status: dict[tuple[str, str], str] = {}
        self._avail: dict[str, str] = {}

    def derive(self, batch: list[Fields], members_of: Callable[[str], list[str]],
               paused: Collection[str]) -> list[Fields]:
        """Device states as Asterisk derives them from all calls at once: the trunk is INUSE while any
        call uses it; a queue's `Queue:<q>_avail` device follows whether any member of the queue is
        free, re-evaluated (and sent when it changes) right after a member's QueueMemberStatus."""
        out: list[Fields] = []
        for fields in batch:
            head = fields[0]
            if head == ("Event", "QueueMemberStatus"):
                out.append(fields)
                d = dict(fields)
                queue, peer = d.get("Queue", ""), d.get("Interface", "").split("/", 1)[-1]
                self._member_status[(queue, peer)] = d.get("Status", "")
                free = any(self._member_status.get((queue, p), "1") == "1" and p not in paused
                           for p in members_of(queue))
                avail = "NOT_INUSE" if free else "INUSE"
                if self._avail.get(queue) != avail:  # unknown at start: the first evaluation is sent
                    self._avail[queue] = avail
                    out.append([("Event", "DeviceStateChange"), ("Privilege", "call,all"),
                                ("Device", f"Queue:{queue}_avail"), ("State", avail)])
                continue
            if head != ("Event", "DeviceStateChange"):
                out.append(fields)
                continue
            d = dict(fields)
            device, state = d.get("Device", ""), d.get("State", "")
            if device.startswith("Queue:") and device.endswith("_avail"):
                continue  # derived above from the members
            if device.startswith("SIP/") and device[4:] not in self._agents:  # a trunk shared by all calls
                n = self._trunk_calls.get(device, 0)
                n = n + 1 if state == "INUSE" else max(0, n - 1) if state == "NOT_INUSE" else n
                self._trunk_calls[device] = n
                if (state == "INUSE" and n != 1) or (state == "NOT_INUSE" and n != 0):
                    continue
            out.append(fields)
        return out

    def trunks_idle(self) -> None:
        """Every call gone at once (Asterisk stopping)."""
        self._trunk_calls.clear()

    def reboot(self) -> None:
        """A fresh Asterisk: member and queue device states unknown again."""
        self._member_status.clear()
        self._avail.clear()
