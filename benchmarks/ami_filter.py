"""What each AMI user receives of a real call stream: the capture of Hotline's own dialplan on a real
Asterisk 20 (product-dialplan/08, taken by a user reading everything, no filters), passed through the rights
and filters of three users as Asterisk 20.20.1 applies them (telephony.manager_rights):
- `all`: read = all, no filters (the reference);
- `old`: the manager.conf `hotline asterisk-config` generated before (no dtmf, `!Event: Newexten`, RTCP out);
- `generated`: today's (least privilege, an allow-list of the events Hotline reads).
Prints events and bytes per call, the events Hotline reads that each user loses, and the filtering cost per
event (the simulator applies it to every session).

    PYTHONPATH=. .venv/bin/python benchmarks/ami_filter.py [--traces ../shared/asterisk-traces] [--rounds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telephony.ami_reads import HOLD_USER_EVENT, READ_EVENTS, READ_VARIABLES  # noqa: E402
from telephony.ami_user import manager_conf  # noqa: E402
from telephony.frames import parse_all  # noqa: E402
from telephony.manager_rights import ManagerUser, event_text, parse_manager_conf  # noqa: E402

OLD = """[hotline]
secret = x
read = system,call,agent,dialplan,cdr,security,user
write = system,call,agent,originate,command
eventfilter = !Event: Newexten
eventfilter = !Event: RTCPSent
eventfilter = !Event: RTCPReceived
"""
ALL = "[hotline]\nsecret = x\nread = all\nwrite = all\n"


def hotline_reads(fields: list[tuple[str, str]]) -> bool:
    """Whether the tracker acts on this event (VarSet: of a variable it reads; UserEvent: its own)."""
    head = dict(fields)
    event = head["Event"]
    if event == "VarSet":
        return head.get("Variable", "").lstrip("_") in READ_VARIABLES
    if event == "UserEvent":
        return head.get("UserEvent") == HOLD_USER_EVENT
    return event in READ_EVENTS


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traces", type=Path, default=here.parent / "shared" / "asterisk-traces")
    ap.add_argument("--rounds", type=int, default=20, help="passes over the capture when timing the filters")
    args = ap.parse_args()
    capture = args.traces / "product-dialplan" / "08-product-dialplan-ami-routing-fastagi.ami"
    events = [list(m.fields.items()) + list(m.repeats or []) for m in parse_all(capture.read_bytes()) if m.event]
    calls = {dict(f).get("Linkedid") for f in events} - {None}
    users: dict[str, ManagerUser] = {
        "all": parse_manager_conf(ALL).users["hotline"],
        "old": parse_manager_conf(OLD).users["hotline"],
        "generated": parse_manager_conf(manager_conf(secret="x")).users["hotline"],
    }
    print(f"capture: {capture.name}, {len(events)} events, {len(calls)} calls")
    print(f"{'user':<10} {'events/call':>12} {'bytes/call':>11} {'vs all':>7} {'µs/event':>9}  Hotline's events lost")
    reference_cost = 0.0
    for name, user in users.items():
        kept = [f for f in events if user.receives(f)]
        size = sum(len(event_text(f)) for f in kept)
        lost = Counter(dict(f)["Event"] for f in events if hotline_reads(f) and not user.receives(f))
        start = time.process_time()
        for _ in range(args.rounds):
            for f in events:
                user.receives(f)
        cost = (time.process_time() - start) / (args.rounds * len(events)) * 1e6
        reference_cost = reference_cost or cost
        lost_text = ", ".join(f"{e} x{n}" for e, n in lost.most_common()) or "none"
        print(f"{name:<10} {len(kept) / len(calls):12.1f} {size / len(calls):11.0f} "
              f"{len(kept) / len(events):7.2f} {cost:9.2f}  {lost_text}")
    print(f"(filter cost ratio generated/all: {cost / reference_cost:.2f})")


if __name__ == "__main__":
    main()
