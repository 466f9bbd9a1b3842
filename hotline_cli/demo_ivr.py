"""The demo's IVR: the real FastAGI server, met by every simulated caller before its queue.

The demo runs round the clock, so its menus are the shipped ones without business hours; the
callers' recorded descriptions go below the demo's data folder.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from cases.db import Database
from ivr.agi_client import AgiCaller
from ivr.config import DATA_DIR, MenuStore
from ivr.flow import IvrFlow
from ivr.server import AgiServer
from telephony.simulator.pbx import IvrVisit

log = logging.getLogger(__name__)

# what each simulated caller does at the IVR's prompts (matching the keys its AMI script presses)
INPUTS = {
    "service_answered": ["1", "{waybill}#", "0"],
    "claims_ringall_agent_hangs_up": ["", "", "", ""],  # no key: to an agent
    "complaints_abandoned": ["2", "", ""],  # complaint: describes it (ended by silence)
    "service_ring_no_answer": ["9", "0"],  # an invalid key, then an agent
}


def demo_menus(target: Path, recordings: Path) -> Path:
    """The shipped menus, open round the clock, recording below `recordings`."""
    target.mkdir(parents=True, exist_ok=True)
    recordings.mkdir(parents=True, exist_ok=True)
    for src in sorted(DATA_DIR.glob("*.toml")):
        text = src.read_text(encoding="utf-8")
        text = re.sub(r"(?ms)^\[hours\]\n.*?(?=^\[|\Z)", "", text)
        text = re.sub(r'(?m)^directory = ".*"$', f'directory = "{recordings.resolve()}"', text)
        (target / src.name).write_text(text, encoding="utf-8")
    return target


class DemoIvr:
    def __init__(self, db: Database, data_dir: Path) -> None:
        menus = demo_menus(data_dir / "ivr-menus", data_dir / "ivr-recordings")
        self.store = MenuStore(menus)
        self.flow = IvrFlow(self.store, db)
        self.server = AgiServer(self.flow.handlers(), host="127.0.0.1", port=0)
        self.server.serve_in_thread()
        self.visits = 0
        self.sample = self._caller_voice(data_dir / "ivr-caller.wav")

    @staticmethod
    def _caller_voice(path: Path) -> Path | None:
        """What a demo caller says when the IVR records a description (espeak-ng, Korean: the model's)."""
        from telephony.simulator.voice import VoiceError, synthesize

        try:
            return synthesize("물건이 파손되었어요 배송 조회", path)
        except VoiceError as exc:
            log.warning("demo callers describe nothing to the IVR: %s", exc)
            return None

    @property
    def port(self) -> int:
        return int(self.server.port)

    def visit(self, v: IvrVisit) -> dict[str, str]:
        """One FastAGI session as Asterisk would run it for this caller; the variables it set."""
        if v.script:  # the callback offer of a caller moved out of a queue past its wait limit
            result = AgiCaller("127.0.0.1", self.port, f"{v.script}?queue={v.queue}&hotline={v.hotline}",
                               inputs=list(v.inputs), callerid=v.caller, calleridname=v.caller_name,
                               uniqueid=v.uniqueid, timeout=10.0).run()
            self.visits += 1
            offer_keep = ("CASE_ID", "IVR_PATH", "IVR_QUEUE", "QUEUE_PRIO", "IVR_NEXT")
            return {k: v2 for k, v2 in result.variables.items() if k in offer_keep and v2}
        inputs = [i.format(waybill=v.waybill or "") for i in INPUTS.get(v.scenario, ["0"])]
        if v.scenario == "service_answered" and not v.waybill:
            inputs = ["0"]
        result = AgiCaller("127.0.0.1", self.port, v.hotline, inputs=inputs, callerid=v.caller,
                           calleridname=v.caller_name, dnid="4008002" if v.hotline == "claims" else "4008001",
                           uniqueid=v.uniqueid, sample_wav=self.sample, timeout=10.0).run()
        self.visits += 1
        keep = ("WAYBILL", "CASE_ID", "IVR_PATH", "IVR_QUEUE", "IVR_RECORDING", "QUEUE_PRIO")
        return {k: v2 for k, v2 in result.variables.items() if k in keep and v2}

    def stop(self) -> None:
        self.server.shutdown()
