"""Builds the console's event worker (agent_console.dispatcher) and its jobs. The two modes are chosen
here, once, by the objects built:

- role mode (several web processes on the same events, `ConsoleConfig.pops_connected_only`): messages
  to an agent's room only from the process its page is connected to (`AgentRoomsHere`), pops built only
  for those agents (`ScreenPopsForAgentsHere`), lookups prefetched only for calls they may ring for
  (`QueueMembersHere`); else `Rooms`, `ScreenPops`, `EveryCall`.
- the wallboard computed elsewhere (role mode: by the listener) and relayed (`RelayedWallboard`), or
  computed here from the events with the probe results read here (`ComputedWallboard`, `ProbePoll`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_socketio import SocketIO

from agent_console.agent_pages import AgentPages
from agent_console.agents import AgentBoard
from agent_console.calls import CallMemory
from agent_console.config import ConsoleConfig
from agent_console.console_rooms import AgentRoomsHere, Rooms, agent_room
from agent_console.control import ConsoleControl
from agent_console.dispatcher import ConsoleJobs, Dispatcher, EventSource
from agent_console.live_transcripts import LiveTranscripts
from agent_console.pop import PopBuilder
from agent_console.pop_lookups import EveryCall, PopLookups, PrefetchGate, QueueMembers, QueueMembersHere
from agent_console.probe_poll import ProbePoll
from agent_console.screen_pops import ScreenPops, ScreenPopsForAgentsHere
from agent_console.wallboard import HotlineHealth, WallboardFeed, WallboardRelay, wallboard_settings
from agent_console.wallboard_source import ComputedWallboard, RelayedWallboard, WallboardSource
from agent_console.wrapup import NoWrapUps, WrapUpService
from telephony.events import EventBus
from telephony.live import LiveView
from transcripts.live_events import LiveBus


@dataclass(frozen=True, slots=True)
class ConsoleInputs:
    """Where the console's live state comes from."""

    bus: EventBus
    live: LiveView  # the tracker's agents and calls
    calls: CallMemory
    live_bus: LiveBus | None = None  # live transcript lines and alerts (None: none here)
    relay: WallboardRelay | None = None  # the wallboard computed elsewhere (None: computed here)


def build_dispatcher(socketio: SocketIO, config: ConsoleConfig, inputs: ConsoleInputs, pops: PopBuilder,
                     control: ConsoleControl, health: Callable[[], HotlineHealth],
                     wrap_ups: WrapUpService | None) -> Dispatcher:
    """`health` reads the last probe result per hotline and the prompts the PBX could not play lately
    (from the database); `wrap_ups` extends wrap-ups (None: no wrap-up here)."""
    role_mode = config.pops_connected_only
    rooms = AgentRoomsHere(socketio) if role_mode else Rooms(socketio)
    board = AgentBoard(lambda name, payload, agent: rooms.emit(name, payload, agent_room(agent)))
    members = QueueMembers(inputs.calls)
    gate: PrefetchGate = QueueMembersHere(members, rooms) if role_mode else EveryCall()
    lookups = PopLookups(pops, inputs.calls, gate)
    screen_pops = (ScreenPopsForAgentsHere if role_mode else ScreenPops)(board, rooms, lookups, inputs.calls)
    wallboard: WallboardSource
    if inputs.relay is not None:
        wallboard = RelayedWallboard(inputs.relay, rooms)
    else:
        feed = WallboardFeed(inputs.live, inputs.calls, wallboard_settings(config), config.wallboard_interval_s)
        probes = ProbePoll(health, feed, config.probe_poll_s, socketio.start_background_task)
        wallboard = ComputedWallboard(feed, rooms, probes, always=bool(config.message_queue))
    jobs = ConsoleJobs(
        rooms=rooms, calls=inputs.calls, members=members, lookups=lookups, pops=screen_pops,
        pages=AgentPages(board, rooms, screen_pops, inputs.live, wrap_ups if wrap_ups is not None else NoWrapUps()),
        live=LiveTranscripts(rooms, lines_come=inputs.live_bus is not None), wallboard=wallboard,
    )
    sources: tuple[EventSource, ...] = (inputs.bus,) if inputs.live_bus is None else (inputs.bus, inputs.live_bus)
    return Dispatcher(socketio, sources, jobs, board, control)
