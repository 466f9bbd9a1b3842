"""Where the console's Socket.IO messages go, and which pages are connected to this web process.

Rooms: `agent:<username>` (an agent's username is its PBX peer name, e.g. agent1001) and `supervisors`.
In role mode (several web processes on the same events, `ConsoleConfig.pops_connected_only`) a message
to an agent's room is sent only by the process the agent's page is connected to (`AgentRoomsHere`).
"""

from __future__ import annotations

from typing import Any

from flask_socketio import SocketIO

SUPERVISORS_ROOM = "supervisors"


def agent_room(agent: str) -> str:
    return f"agent:{agent}"


class Rooms:
    """Sends to a room (an agent's, the supervisors', a page's sid; None: everyone) and tells who is
    connected here."""

    def __init__(self, socketio: SocketIO) -> None:
        self._socketio = socketio

    def emit(self, name: str, payload: dict[str, Any], room: str | list[str] | None) -> None:
        self._socketio.emit(name, payload, to=room)

    def here(self, room: str) -> bool:
        """Whether a page in `room` is connected to this web process."""
        return any(True for _ in self._socketio.server.manager.get_participants("/", room))

    def agent_here(self, agent: str) -> bool:
        return self.here(agent_room(agent))

    def agents_here(self) -> list[str]:
        """The agents whose pages are connected here."""
        rooms = self._socketio.server.manager.rooms.get("/", {})
        return [name.removeprefix("agent:") for name, sids in list(rooms.items())
                if name and name.startswith("agent:") and sids]


class AgentRoomsHere(Rooms):
    """Role mode: a message to an agent whose page is on another web process (or nowhere) is not even
    encoded here; the supervisors' room and everyone's messages go out as ever."""

    def emit(self, name: str, payload: dict[str, Any], room: str | list[str] | None) -> None:
        if isinstance(room, str) and room.startswith("agent:") and not self.here(room):
            return
        super().emit(name, payload, room)
