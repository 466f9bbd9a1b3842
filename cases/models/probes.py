"""What the IVR checks report: prompts the PBX could not play, and `hotline probe` runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cases.models.base import Base, JSONType, UTCDateTime, in_values

PROBE_STAGES = ("register", "invite", "prompt", "key", "queue", "done", "error")  # error: the probe could not run


class PromptFault(Base):
    """A prompt the PBX could not play (STREAM FILE / GET DATA `-1` on a live channel): counted per prompt, for
    /status and the wallboard until the prompts are fixed (`hotline prompts build`, copied to the PBX)."""

    __tablename__ = "prompt_faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt: Mapped[str] = mapped_column(String(200), unique=True)  # as asked of Asterisk: hotline/zh/service-menu
    hotline: Mapped[str] = mapped_column(String(32))  # the hotline of the call that last missed it
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProbeRun(Base):
    """One `hotline probe` call to a hotline: up or down, where it stopped, its timings."""

    __tablename__ = "probe_runs"
    __table_args__ = (
        CheckConstraint(in_values("stage", PROBE_STAGES), name="stage"),
        Index("ix_probe_runs_hotline_started_at", "hotline", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotline: Mapped[str] = mapped_column(String(32))  # service | claims | the number dialled
    number: Mapped[str] = mapped_column(String(32))
    pbx: Mapped[str] = mapped_column(String(200))
    up: Mapped[bool] = mapped_column(Boolean)
    stage: Mapped[str] = mapped_column(String(16))  # where it stopped (done when up)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it is down; empty when up
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[float] = mapped_column(Float)
    register_s: Mapped[float | None] = mapped_column(Float)
    setup_s: Mapped[float | None] = mapped_column(Float)
    first_audio_s: Mapped[float | None] = mapped_column(Float)
    queue: Mapped[str | None] = mapped_column(String(64))
    queue_s: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the whole ProbeResult
