"""Cut the PBX simulator's call templates out of the real Asterisk captures.

Each template is every message the real Asterisk sent for one call scenario (the call's own
events and the device/queue-member events around it), with its receive time relative to the
call's first event. Login, FullyBooted, the client's own SuccessfulAuth and Goodbye are left out.

    python scripts/extract_sim_templates.py ../shared/asterisk-traces
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "telephony" / "simulator" / "templates"
SCENARIOS = {
    "service_answered": "01-service-hotline-dtmf1-agent-answers-caller-hangs-up",
    "claims_ringall_agent_hangs_up": "02-claims-hotline-menu-timeout-agent-hangs-up",
    "complaints_abandoned": "03-complaints-queue-caller-abandons-agents-paused",
    "service_ring_no_answer": "04-service-queue-ring-no-answer-next-agent",
}


def messages_with_times(ami: Path, timeline: Path) -> list[tuple[float, list[list[str]]]]:
    data = ami.read_bytes()
    rows = [r for r in csv.DictReader(timeline.open(), delimiter="\t") if r["direction"] == "recv"]
    out: list[tuple[float, list[list[str]]]] = []
    buf = b""
    for row in rows:
        off, length, at = int(row["offset"]), int(row["length"]), float(row["unix_time"])
        buf += data[off : off + length]
        *frames, buf = buf.split(b"\r\n\r\n")
        for frame in frames:
            lines = [ln for ln in frame.decode().split("\r\n") if ": " in ln]
            if lines:
                out.append((at, [ln.split(": ", 1) for ln in lines]))
    return out


def main(traces: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, stem in SCENARIOS.items():
        msgs = messages_with_times(traces / f"{stem}.ami", traces / f"{stem}.timeline.tsv")
        keep = []
        first_auth_skipped = False
        for at, fields in msgs:
            head = dict(fields)
            if "Response" in head and "Event" not in head:
                continue
            if head.get("Event") == "FullyBooted":
                continue
            if head.get("Event") == "SuccessfulAuth" and head.get("Service") == "AMI" and not first_auth_skipped:
                first_auth_skipped = True
                continue
            keep.append((at, fields))
        t0 = keep[0][0]
        doc = {"source": f"{stem}.ami", "messages": [[round(at - t0, 6), f] for at, f in keep]}
        (OUT / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n")
        print(f"{name}: {len(keep)} messages, {keep[-1][0] - t0:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "shared" / "asterisk-traces")
