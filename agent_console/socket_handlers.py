"""Socket.IO connections: who may connect, which rooms they join, and what they may ask.

Connect: only with a valid session (checked on the server, agent_console.sessions), remembered in
`sockets` so that the connection closes when the session ends; an agent joins `agent:<username>`, a
supervisor `supervisors` and gets a whole wallboard; then `hello`, the agent's state (and pops) and the
live transcript finals so far. Client → server: `agent_state` (ack: own snapshot; agent roles) and
`wallboard_request` (ack: the whole wallboard; supervisor roles). A page that sees a version gap asks
again.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

from agent_console.auth import optional_user
from agent_console.console_rooms import SUPERVISORS_ROOM, agent_room
from agent_console.dispatcher import Dispatcher
from agent_console.sessions import current_key
from agent_console.socket_sessions import SocketSessions

log = logging.getLogger(__name__)


def register_socket_handlers(socketio: SocketIO, dispatcher: Dispatcher, sockets: SocketSessions) -> None:
    """Connect: only with a valid session (checked on the server, agent_console.sessions), remembered
    in `sockets` so that the connection closes when the session ends; join the user's rooms;
    supervisors get a wallboard."""

    def on_connect(*_auth: object) -> bool:
        user = optional_user()
        key = current_key()
        if user is None or key is None:
            log.info("socket connect refused: not logged in")
            return False
        sid: str = request.sid  # type: ignore[attr-defined]
        sockets.add(sid, key)
        if user.can("agent_console"):
            join_room(agent_room(user.username))
        if user.can("wallboard"):
            join_room(SUPERVISORS_ROOM)
            try:
                socketio.emit("wallboard", dispatcher.wallboard(), to=sid)
            except Exception:  # the page still works; the next event brings a wallboard
                log.exception("could not send the first wallboard to %s", user.username)
        socketio.emit("hello", {"username": user.username, "role": user.role}, to=sid)
        if user.can("agent_console"):
            dispatcher.replay_current_call(user.username, sid)
        dispatcher.replay_live(sid, None if user.can("wallboard") else user.username if user.can("agent_console")
                               else "")
        return True

    def on_disconnect(*_reason: object) -> None:
        sockets.remove(request.sid)  # type: ignore[attr-defined]

    # the events take whatever a client sends (nothing is read from it): a handler that named fewer
    # parameters raised TypeError on extra arguments
    def on_wallboard_request(*_args: object) -> dict[str, Any]:
        """Ack with the whole wallboard (supervisors): after a version gap or the page was hidden."""
        user = optional_user()
        if user is None or not user.can("wallboard"):
            return {"error": "forbidden"}
        return dispatcher.wallboard()

    def on_agent_state(*_args: object) -> dict[str, Any]:
        """Ack with the caller's own agent snapshot (after a version gap or a reconnect)."""
        user = optional_user()
        if user is None or not user.can("agent_console"):
            return {"error": "forbidden"}
        return dispatcher.agent_snapshot(user.username)

    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("wallboard_request", on_wallboard_request)
    socketio.on_event("agent_state", on_agent_state)
