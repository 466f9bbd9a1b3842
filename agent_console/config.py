"""Settings of the web console (filled in by the `hotline` wiring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent_console.login_limiter import LimiterSettings
from cases.claim_clock import ClaimDeadlines

LANGUAGES = ("zh-CN", "en")
WRAP_UP_REASON = "wrap-up"
DEFAULT_JOB_RETRY_S: tuple[int, ...] = (10, 30, 60, 120, 300)  # seconds before each retry of a failed job


@dataclass(frozen=True, slots=True)
class PauseReason:
    """A pause reason code an agent may choose; `code` is what AMI carries (QueuePause Reason)."""

    code: str
    label_zh: str
    label_en: str


DEFAULT_PAUSE_REASONS: tuple[PauseReason, ...] = (
    PauseReason("break", "小休", "Short break"),
    PauseReason("meal", "用餐", "Meal"),
    PauseReason("training", "培训", "Training"),
    PauseReason("meeting", "会议", "Meeting"),
    PauseReason("callback", "回电处理", "Callbacks"),
    PauseReason(WRAP_UP_REASON, "后处理", "Wrap-up"),
)


WrapUpCode = PauseReason  # same shape: code, zh-CN label, English label

DEFAULT_WRAP_UP_CODES: tuple[WrapUpCode, ...] = (
    WrapUpCode("resolved", "已解决", "Resolved"),
    WrapUpCode("info_given", "已告知", "Information given"),
    WrapUpCode("follow_up", "需跟进", "Needs follow-up"),
    WrapUpCode("referred", "已转交", "Referred"),
    WrapUpCode("complaint", "投诉受理", "Complaint taken"),
    WrapUpCode("wrong_number", "打错电话", "Wrong number"),
)


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    secret_key: str
    demo: bool = False
    message_queue: str | None = None  # e.g. "redis://127.0.0.1:6379/0"; None = single process
    default_language: str = "zh-CN"
    recordings_dir: Path | None = None  # recordings are served only from below this folder
    evidence_dir: Path | None = None  # claim evidence uploads (None: uploads refused)
    evidence_max_bytes: int = 20 * 1024 * 1024  # per evidence file
    max_request_bytes: int = 1024 * 1024  # a request body (evidence uploads: evidence_max_bytes); larger: 413
    report_jobs_per_user: int = 3  # report jobs a user may have queued or running at once; more: 429
    wallboard_interval_s: float = 0.2  # at most ~5 wallboard pushes per second
    # the session cookie only over HTTPS (hotline_cli: on when `behind_https`); HttpOnly and SameSite=Lax always
    session_cookie_secure: bool = False
    session_idle_s: float = 8 * 3600.0  # a session unused this long is logged out (agent_console.sessions)
    session_sweep_s: float = 10.0  # how often live Socket.IO connections of ended sessions are looked for
    # proxy hops in front of the console (nginx: 1) whose X-Forwarded-For/-Proto are believed (werkzeug
    # ProxyFix); 0: the client address is the TCP peer's and forwarded headers are ignored
    trusted_proxies: int = 0
    pause_reasons: tuple[PauseReason, ...] = DEFAULT_PAUSE_REASONS
    wrap_up_codes: tuple[WrapUpCode, ...] = DEFAULT_WRAP_UP_CODES
    wrap_up_s: float = 30.0  # paused with reason "wrap-up" after a call, then unpaused (0: no wrap-up)
    # several consoles (web processes) see every agent: each builds the screen pops only of agents
    # connected to it (the others' when their page connects while the phone rings)
    pops_connected_only: bool = False
    service_level_s: float = 20.0  # answered within this many seconds counts for the service level
    service_level_target: float = 0.8  # below this share the wallboard raises an SLA alert
    long_wait_alert_s: float = 60.0  # a caller waiting longer raises an alert
    probe_stale_s: float = 900.0  # a hotline whose last `hotline probe` result is older raises an alert
    probe_poll_s: float = 10.0  # how often the wallboard reads the probe results from the database
    # supervisor username -> the phone (AMI interface) that rings for listen/whisper/barge;
    # users not listed get "<technology of agent_interface>/<username>" (SIP/<username> by default)
    supervisor_phones: Mapping[str, str] = field(default_factory=dict)
    agent_interface: str = "SIP/{agent}"  # the queue member interface of an agent's phone
    callback_context: str = "hotline-outbound"  # dialplan context that dials a customer number
    reroute_context: str = "to-queue"  # dialplan context whose extension is the queue name
    queues: tuple[str, ...] = ("service", "complaints", "claims")  # where a waiting call may be re-routed
    reminder_interval_s: float = 30.0  # how often follow-up reminders are checked (0: never)
    reminder_lead_s: float = 7200.0  # a follow-up deadline this close raises a reminder
    reminder_repeat_s: float = 0.0  # an unacknowledged reminder is pushed again this often (0: once)
    claim_deadlines: ClaimDeadlines = field(default_factory=ClaimDeadlines)  # days per claim stage (逾期)
    login_concurrency: int = 0  # password checks at once (each holds argon2's memory); 0: the CPU count
    login_wait_s: float = 2.0  # a login waits this long for a free check, then is answered 503 + Retry-After
    login_limits: LimiterSettings = field(default_factory=LimiterSettings)  # agent_console.login_limiter
    metrics_token: str = ""  # /metrics with "Authorization: Bearer <token>" (also: loopback, admin login)
    report_wait_s: float = 3.0  # a report request waits this long for its job before showing its progress
    job_retry_s: tuple[int, ...] = DEFAULT_JOB_RETRY_S  # report jobs: seconds before each retry

    def __post_init__(self) -> None:
        if not self.secret_key:
            raise ValueError("ConsoleConfig.secret_key must not be empty")
        if self.default_language not in LANGUAGES:
            raise ValueError(f"default_language must be one of {LANGUAGES}, not {self.default_language!r}")
        codes = [r.code for r in self.pause_reasons]
        if len(set(codes)) != len(codes) or not all(codes):
            raise ValueError("pause reason codes must be unique and non-empty")
        if self.wrap_up_s < 0 or self.service_level_s <= 0 or self.long_wait_alert_s <= 0:
            raise ValueError("wrap_up_s must be >= 0, service_level_s and long_wait_alert_s > 0")
        if self.probe_stale_s <= 0 or self.probe_poll_s <= 0:
            raise ValueError("probe_stale_s and probe_poll_s must be > 0")
        if not 0 < self.service_level_target <= 1:
            raise ValueError("service_level_target must be in (0, 1]")
        if self.reminder_interval_s < 0 or self.reminder_lead_s <= 0 or self.reminder_repeat_s < 0:
            raise ValueError("reminder_interval_s and reminder_repeat_s must be >= 0, reminder_lead_s > 0")
        if self.login_concurrency < 0 or self.login_wait_s < 0:
            raise ValueError("login_concurrency and login_wait_s must be >= 0")
        if self.session_idle_s <= 0 or self.session_sweep_s < 0:
            raise ValueError("session_idle_s must be > 0 and session_sweep_s >= 0")
        if self.trusted_proxies < 0:
            raise ValueError("trusted_proxies must be >= 0")
        if self.max_request_bytes < 1024 or self.evidence_max_bytes < 1:
            raise ValueError("max_request_bytes must be >= 1024 and evidence_max_bytes >= 1")
        if self.report_jobs_per_user < 1:
            raise ValueError("report_jobs_per_user must be >= 1")

    def pause_reason(self, code: str) -> PauseReason | None:
        return next((r for r in self.pause_reasons if r.code == code), None)

    def wrap_up_labels(self) -> dict[str, str]:
        return {c.code: c.label_zh for c in self.wrap_up_codes}

    def supervisor_phone(self, username: str) -> str:
        return self.supervisor_phones.get(username) or f"{self.agent_interface.split('/', 1)[0]}/{username}"

    def interface_of(self, agent: str) -> str:
        return self.agent_interface.format(agent=agent)
