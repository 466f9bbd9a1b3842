"""The embedded process's parts (`hotline serve`, `hotline demo`): database, AMI links, call pipeline,
transcription, wrap-ups, routing and wait limits, built and stopped together; and the pieces of that
wiring the listener role shares (`start_wrap_ups`, `start_router`, `start_wait_limits`,
`reconcile_pending_calls`)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_console import metrics
from agent_console.config import ConsoleConfig
from agent_console.wrapup import WrapUps
from cases.db import Database
from cases.private_files import private_dir
from hotline_cli.config import Settings
from hotline_cli.livetap import LiveTap, make_livetap
from hotline_cli.process_metrics import record_metrics
from hotline_cli.startup import StartupError, model_folder, open_database, standard_rules
from ivr.overflow import WaitLimitWatcher
from ivr.routing import HotlineRouter, RoutingRules
from pipeline.call_pipeline import CallPipeline
from telephony.actions import Actions
from telephony.connection import AmiEndpoint
from telephony.events import EventBus
from telephony.pbxlink import CombinedLive, PbxControl, PbxLink, make_links
from transcripts.engine import VoskEngine
from transcripts.jobs import TranscriptionQueue, TranscriptionResult
from transcripts.live_events import LiveBus

log = logging.getLogger("hotline")


def make_transcriber(settings: Settings, pipeline_holder: list[CallPipeline]) -> TranscriptionQueue:
    model_dir = model_folder(settings)

    def done(result: TranscriptionResult) -> None:
        pipeline_holder[0].on_transcribed(result)

    def error(job_id: str, exc: Exception) -> None:
        pipeline_holder[0].on_transcription_error(job_id, exc)

    # jobs are files in a spool: they survive a restart and are retried with back-off
    return TranscriptionQueue(lambda: VoskEngine(model_dir), done, error,
                              spool_dir=settings.data_dir / "transcription-spool")


@dataclass
class Process:
    settings: Settings
    db: Database
    bus: EventBus
    links: list[PbxLink]
    live: CombinedLive
    control: PbxControl
    pipeline: CallPipeline
    transcriber: TranscriptionQueue
    live_bus: LiveBus | None = None
    livetap: LiveTap | None = None  # when live transcripts are on
    wrap_ups: WrapUps | None = None  # the site's wrap-up keeper (None: wrap_up_s = 0)
    metric_sources: metrics.MetricSources = field(default_factory=metrics.MetricSources)  # read by /metrics

    def status(self) -> Mapping[str, Any]:
        live = {"live_transcripts": self.livetap.status()} if self.livetap is not None else {}
        return live | {
            "ami": [link.status() for link in self.links],
            "live_calls": len(self.live.live_call_ids()),
            "calls_stored": self.pipeline.stored,
            "calls_transcribed": self.pipeline.transcribed,
            "transcription_pending": self.transcriber.pending,
            "transcription": _progress(self.transcriber),
            "pipeline_errors": self.pipeline.errors,
        }

    def start(self) -> None:
        if self.livetap is not None:
            self.livetap.start()
        for link in self.links:
            link.client.start()

    def stop(self) -> None:
        if self.wrap_ups is not None:
            self.wrap_ups.stop()
        for link in self.links:
            link.client.stop()
        if self.livetap is not None:
            self.livetap.stop()
        self.transcriber.stop(timeout=5)
        self.pipeline.stop()
        self.db.dispose()


def _progress(q: TranscriptionQueue) -> dict[str, int]:
    p = q.progress()
    return {"queued": p.queued, "retrying": p.retrying, "running": p.running, "done": p.done, "failed": p.failed}


def build_process(settings: Settings, endpoints: list[AmiEndpoint], *, seed: bool) -> Process:
    db = open_database(settings, seed_demo=seed)
    bus = EventBus()
    holder: list[CallPipeline] = []
    transcriber = make_transcriber(settings, holder)
    private_dir(settings.recordings_dir)
    pipeline = CallPipeline(db, bus, settings.recordings_dir.resolve(), transcriber, rules=standard_rules(settings))
    holder.append(pipeline)
    keeper: list[WrapUps | None] = []  # the wrap-up keeper, once made (it needs the links)

    def after_resync(link: PbxLink) -> None:
        reconcile_pending_calls(pipeline, link)
        if keeper and keeper[0] is not None:  # agents a server before a restart left paused for wrap-up
            keeper[0].adopt(link.tracker.snapshot().agents)

    try:
        links = make_links(endpoints, bus, after_resync=after_resync)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    threading.Thread(target=pipeline.catch_up_transcripts, name="transcript-catch-up", daemon=True).start()
    sources = metrics.MetricSources()
    record_metrics(bus, links, sources)

    def backlog() -> tuple[int, int]:
        p = transcriber.progress()
        return (p.queued + p.running, p.failed)

    sources.backlog = backlog
    sources.store_backlog = lambda: pipeline.backlog
    control = PbxControl(links)
    keeper.append(start_wrap_ups(settings, bus, control))  # before the links start: their first resync adopts
    live_bus, livetap = (make_livetap(settings, control, bus, transcriber.engine, sources)
                         if settings.live_transcripts else (None, None))
    return Process(settings, db, bus, links, CombinedLive([link.tracker for link in links]), control,
                   pipeline, transcriber, live_bus, livetap, keeper[0], sources)


def reconcile_pending_calls(pipeline: CallPipeline, link: PbxLink) -> None:
    """After a resync: pending call rows of this PBX that are no longer live are closed."""
    live = {lid for lid in link.tracker.live_call_ids()}
    pipeline.reconcile_pending({link.tracker.id_prefix + lid for lid in live}, link.tracker.id_prefix)


def start_wrap_ups(settings: Settings, bus: EventBus, control: PbxControl) -> WrapUps | None:
    """The site's wrap-up keeper for every agent, in the process that has the AMI links (the one
    process, or the listener); None when `wrap_up_s` is 0."""
    from agent_console.control import ConsoleControl

    if settings.wrap_up_s <= 0:
        return None
    # the console's PBX commands (reasons, agent interfaces); the keeper serves no pages or sessions
    config = ConsoleConfig(secret_key="unused-by-the-keeper", pause_reasons=settings.pause_reasons,
                           agent_interface=settings.agent_interface,
                           wrap_up_s=settings.wrap_up_s)
    keeper = WrapUps(bus, ConsoleControl(config, control), settings.wrap_up_s)
    keeper.start()
    log.info("wrap-up: %g s after each call, for every agent", settings.wrap_up_s)
    return keeper


def start_router(settings: Settings, bus: EventBus, control: PbxControl) -> HotlineRouter | None:
    """`routing = "ami"`: held hotline calls Redirected into their IVR (blocked callers refused, key accounts
    first) by the process that has the AMI links. None with `routing = "dialplan"`."""
    if settings.routing != "ami":
        return None
    rules = RoutingRules.build(settings.blocked_callers, settings.key_account_callers)
    router = HotlineRouter(lambda lid: control.actions(control.pbx_of_call(lid)), rules)
    bus.subscribe(router.on_event)
    return router


def start_wait_limits(settings: Settings, bus: EventBus,
                      actions_for: Callable[[str], Actions]) -> WaitLimitWatcher | None:
    """The queue wait limits (`[queue_wait_limits]`): callers waiting longer are moved to the IVR's
    callback offer. None when no queue has a limit."""
    if not settings.queue_wait_limits:
        return None
    watcher = WaitLimitWatcher(actions_for, settings.queue_wait_limits)
    bus.subscribe(watcher.on_event)
    log.info("queue wait limits: %s", ", ".join(f"{q} {s:g} s" for q, s in settings.queue_wait_limits.items()))
    return watcher


def apply_switch_interval(settings: Settings) -> None:
    """Let a thread that waits for the interpreter (a pop's database answer, a socket read) have it
    after `switch_interval_ms` instead of Python's 5 ms while another thread computes."""
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
