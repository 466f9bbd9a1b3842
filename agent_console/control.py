"""What the console asks the PBX to do, through `telephony.pbxlink.PbxControl`: pause / unpause
agents (reason codes, wrap-up), listen / whisper / barge, re-route a waiting call, call back a
customer. The state the pages show is never set here: it comes back from AMI as events."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Protocol

from agent_console.config import WRAP_UP_REASON, ConsoleConfig
from telephony.actions import SPY_OPTIONS, ChannelInfo
from telephony.connection import AmiActionError, AmiError
from telephony.pbxlink import PbxNotConnected

log = logging.getLogger(__name__)
AGENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a console user name, as cases.inputs accepts them


class ControlError(Exception):
    """Base of the console's PBX command errors; `key` is an i18n key for the user."""

    key = "control.err.failed"


class PbxUnavailable(ControlError):
    """No PBX connection to send the command on."""

    key = "control.err.pbx"


class BadControlRequest(ControlError):
    """The request named an unknown reason, mode, queue or call."""

    key = "control.err.bad"


class PbxRefused(ControlError):
    """Asterisk answered the action with an error (or not at all)."""

    key = "control.err.refused"


class PbxActions(Protocol):
    """The `telephony.actions.Actions` methods the console uses (the listener's, in a web process)."""

    def queue_pause(self, interface: str, paused: bool, *, queue: str = "", reason: str = "") -> None: ...

    def queue_add(self, queue: str, interface: str, *, member_name: str = "") -> None: ...

    def queue_remove(self, queue: str, interface: str) -> None: ...

    def spy(self, supervisor_interface: str, target_channel: str, mode: str = "listen") -> str: ...

    def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None: ...

    def originate(self, channel: str, *, context: str = "", exten: str = "", application: str = "",
                  data: str = "", caller_id: str = "", timeout_ms: int = 30000,
                  variables: Mapping[str, str] | None = None) -> str: ...

    def core_show_channels(self) -> tuple[ChannelInfo, ...]: ...


class ActionsSource(Protocol):
    """The PBX control: `telephony.pbxlink.PbxControl` in the process with the AMI links,
    `hotline_cli.pbxrpc.RemotePbx` (the listener's, over Redis) in web and live processes."""

    def actions(self, pbx: str | None = None, timeout: float = 10.0) -> PbxActions: ...

    def pbx_of_call(self, linkedid: str) -> str: ...


def _local_id(linkedid: str) -> str:
    """A Linkedid without the "pbx2:" prefix several Asterisks get."""
    return linkedid.partition(":")[2] if ":" in linkedid else linkedid


class ConsoleControl:
    def __init__(self, config: ConsoleConfig, pbx: ActionsSource | None, timeout: float = 5.0) -> None:
        self.config = config
        self.pbx = pbx
        self.timeout = timeout

    def _actions(self, linkedid: str | None = None) -> PbxActions:
        if self.pbx is None:
            raise PbxUnavailable("this console has no PBX control")
        try:
            name = self.pbx.pbx_of_call(linkedid) if linkedid else None
            return self.pbx.actions(name, timeout=self.timeout)
        except PbxNotConnected as exc:
            raise PbxUnavailable(str(exc)) from None

    def _run(self, what: str, fn: object) -> None:
        try:
            fn()  # type: ignore[operator]
        except PbxNotConnected as exc:  # a web process: the listener holding the AMI link did not answer
            log.warning("PBX control unavailable for %s: %s", what, exc)
            raise PbxUnavailable(str(exc)) from None
        except (AmiActionError, AmiError) as exc:
            log.warning("PBX refused %s: %s", what, exc)
            raise PbxRefused(f"{what}: {exc}") from None

    # --- agent states -----------------------------------------------------------------------------

    def pause(self, agent: str, reason: str) -> None:
        if self.config.pause_reason(reason) is None:
            raise BadControlRequest(f"unknown pause reason {reason!r}")
        actions = self._actions()
        self._run(f"pause {agent} ({reason})",
                  lambda: actions.queue_pause(self.config.interface_of(agent), True, reason=reason))
        log.info("agent %s paused: %s", agent, reason)

    def ready(self, agent: str) -> None:
        actions = self._actions()
        self._run(f"unpause {agent}", lambda: actions.queue_pause(self.config.interface_of(agent), False))
        log.info("agent %s ready", agent)

    def wrap_up(self, agent: str) -> None:
        self.pause(agent, WRAP_UP_REASON)

    def join_queue(self, agent: str, queue: str) -> None:
        actions = self._actions()
        self._run(f"add {agent} to {queue}",
                  lambda: actions.queue_add(queue, self.config.interface_of(agent), member_name=agent))

    def leave_queue(self, agent: str, queue: str) -> None:
        actions = self._actions()
        self._run(f"remove {agent} from {queue}",
                  lambda: actions.queue_remove(queue, self.config.interface_of(agent)))

    # --- supervisors ------------------------------------------------------------------------------

    def spy(self, supervisor: str, agent: str, mode: str) -> str:
        """Ring the supervisor's own phone into ChanSpy on the agent's channel; returns that phone. The agent is a
        user name (ChanSpy's `Data` takes it: a comma would add options, a line break a whole AMI action)."""
        if mode not in SPY_OPTIONS:
            raise BadControlRequest(f"spy mode must be one of {', '.join(SPY_OPTIONS)}")
        if not AGENT_NAME.fullmatch(agent):
            raise BadControlRequest(f"{agent!r} is no agent name (letters, digits, _ . - only)")
        phone = self.config.supervisor_phone(supervisor)
        actions = self._actions()
        self._run(f"{mode} on {agent} for {supervisor}",
                  lambda: actions.spy(phone, self.config.interface_of(agent), mode))
        log.info("supervisor %s %s on %s via %s", supervisor, mode, agent, phone)
        return phone

    def reroute(self, linkedid: str, queue: str) -> str:
        """Move a caller waiting in a queue to another queue; returns the channel moved."""
        actions = self._actions(linkedid)
        local = _local_id(linkedid)
        try:
            channels = actions.core_show_channels()
        except PbxNotConnected as exc:
            raise PbxUnavailable(str(exc)) from None
        except (AmiActionError, AmiError) as exc:
            raise PbxRefused(f"channel list: {exc}") from None
        mine = [c for c in channels if c.linkedid == local]
        waiting = [c for c in mine if c.application.lower() == "queue"] or [c for c in mine if c.uniqueid == local]
        if not waiting:
            raise BadControlRequest(f"call {linkedid} is not waiting in a queue")
        channel = waiting[0].channel
        self._run(f"re-route {linkedid} to {queue}",
                  lambda: actions.redirect(channel, self.config.reroute_context, queue))
        log.info("call %s (%s) re-routed to queue %s", linkedid, channel, queue)
        return channel

    # --- callbacks ----------------------------------------------------------------------------------

    def callback(self, agent: str, number: str, case_number: str) -> None:
        """Ring the agent's phone; when answered, the dialplan dials the customer."""
        digits = "".join(ch for ch in number if ch.isdigit())
        if not 3 <= len(digits) <= 20:
            raise BadControlRequest(f"{number!r} is not a number to call back")
        actions = self._actions()
        self._run(f"callback {digits} for {agent}", lambda: actions.originate(
            self.config.interface_of(agent), context=self.config.callback_context, exten=digits,
            caller_id=f"回电 {case_number} <{digits}>",
            variables={"HOTLINE_CALLBACK_CASE": case_number}))
        log.info("callback of %s (case %s) rings %s", digits, case_number, agent)
