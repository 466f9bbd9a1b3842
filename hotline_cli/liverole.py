"""`hotline serve --role live`: live transcripts in a process of their own.

The speech model (0.5 GB, and most of the CPU while calls are tapped) stays out of the listener,
whose AMI link must keep up with every event. This process takes the domain events from Redis
(`CallAnswered` starts the taps, `CallEnded` forgets them), asks the listener to send the tap
Originates (AudioSocket/HOST:PORT/<uuid> running ChanSpy) over the PBX control list of
`hotline_cli.pbxrpc`, runs the AudioSocket server and the recognisers, and publishes every
`LiveLine` and `LiveAlert` on Redis for the web processes (`LiveEventPublisher`). `hotline serve`
without a role still does all of this in its one process.
"""

from __future__ import annotations

import logging

from hotline_cli.config import Settings
from hotline_cli.livetap import LiveTapError
from hotline_cli.pbxrpc import RemotePbx
from hotline_cli.redisbus import EventSubscriber, LiveEventPublisher
from telephony.events import EventBus
from transcripts.engine import VoskEngine

log = logging.getLogger("hotline.live")


def run_live(settings: Settings) -> None:
    """Run until SIGTERM/Ctrl-C. Raises `StartupError` when live transcription cannot start."""
    from hotline_cli.runtime import StartupError, _wait_forever, make_livetap, model_folder

    assert settings.redis_url
    model_dir = model_folder(settings)
    bus = EventBus()
    control = RemotePbx(settings.redis_url, settings.pbx_control_key)
    live_bus, livetap = make_livetap(settings, control, bus, lambda: VoskEngine(model_dir))
    LiveEventPublisher(settings.redis_url, live_bus)
    try:
        livetap.start(wait=True, timeout=300)
    except LiveTapError as exc:
        raise StartupError(str(exc)) from None
    if not livetap.ready.is_set():
        livetap.stop()
        raise StartupError("live transcripts: the speech model did not load within 300 s")
    events = EventSubscriber(settings.redis_url, bus)  # taps only once the server is up
    if not events.ready.wait(30):
        log.warning("not subscribed to the events on Redis yet: calls are tapped once it is")
    print(f"Hotline live transcripts: AudioSocket on {settings.audiosocket_host}:{livetap.port} (Asterisk dials "
          f"{livetap.address}); model {model_dir}; events from and lines to {settings.redis_url}", flush=True)
    try:
        _wait_forever()
    finally:
        events.stop()
        livetap.stop()
