"""The simulated calls of `hotline demo` and `hotline simulator`: a random call every so often, the
demo's callers, and spoken recordings (espeak-ng) of answered calls."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.scenario import CallScript

log = logging.getLogger("hotline")


CALLER_LINES = (  # what the voices of simulated calls say
    "배송 조회를 하고 싶어요",
    "택배가 아직 안 왔어요",
    "물건이 파손되었어요",
    "상담원 연결해 주세요",
)
AGENT_LINES = (
    "안녕하세요 상담원입니다 무엇을 도와드릴까요",
    "네 확인해 드리겠습니다",
)


def attach_voice(pbx: SimulatedPbx) -> None:
    """Answered simulated calls get a spoken recording (espeak-ng), written while the call plays."""
    from telephony.simulator.voice import VoiceError, make_call_recording

    def write(script: CallScript) -> None:
        if not script.recording or script.answered_by is None:
            return
        base = Path(script.recording)
        caller_text = pbx.rng.choice(CALLER_LINES)
        agent_text = pbx.rng.choice(AGENT_LINES)

        def run() -> None:
            try:
                make_call_recording(base, caller_text, agent_text)
            except VoiceError as exc:
                log.warning("no recording for simulated call %s: %s", script.linkedid, exc)

        threading.Thread(target=run, name="sim-voice", daemon=True).start()

    pbx.on_script(write)


def demo_callers() -> tuple[tuple[str, str], ...]:
    """The simulator's callers: the seeded customers' phones under their names, plus two strangers."""
    from cases.demo_data import DEMO_CUSTOMERS

    known = tuple((phone, c.name) for c in DEMO_CUSTOMERS for phone in c.phones if phone.startswith("4930555"))
    return known + (("49305551011", "赵敏"), ("49305551012", "黄强"))



def call_stream(pbx: SimulatedPbx, interval: float, stop: threading.Event, waybills: tuple[str, ...]) -> None:
    """A random call every `interval` seconds or so (half to one and a half times), until `stop`."""
    while not stop.wait(pbx.rng.uniform(interval * 0.5, interval * 1.5)):
        try:
            pbx.start_random_call(waybills)
        except Exception:
            log.exception("simulated call failed to start")

