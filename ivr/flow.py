"""The IVR itself: what a hotline does with a caller, driven by its `HotlineMenu` data.

One `IvrFlow` serves every hotline; `flow.handler(hotline)` is the FastAGI handler of one script.
At the end of a session that did not hang up it sets `IVR_PATH`, `IVR_NEXT` (`queue` or
`hangup`) and for `queue` also `IVR_QUEUE`, `QUEUE_PRIO`, `WAYBILL`, `CASE_ID` (when known); the
dialplan then goes to `[to-queue]` or hangs up. A caller hanging up raises `AgiHangup` out of the
handler (the server counts it; telephony records the call as abandoned in the IVR).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from cases.caller_claims import find_caller_claim
from cases.claims import claim_for_case
from cases.customers import find_customer_by_phone
from cases.db import Database
from cases.errors import CasesError, ChangeAlreadyWaiting
from cases.intake import ChangeIntake, ClaimIntake, ComplaintIntake, Details, take_in
from cases.phones import normalize_phone
from cases.prompt_faults import record_prompt_fault
from cases.shipment_sources import EMBEDDED, ShipmentSource, find_via
from cases.views import CaseInput, ShipmentView
from cases.vocab import CaseKind, ChangeField, ClaimChannel, CustomerKind
from ivr import speech
from ivr.actions import ACTIONS, AGENT, CHANGE_PHONE, CLAIM_STATUS, COMPLAINT, NEW_CLAIM, TRACKING, IvrAction
from ivr.agi import AgiError, AgiHangup, AgiPromptMissing, AgiSession
from ivr.config import Collect, HotlineMenu, MenuStore, Option

log = logging.getLogger(__name__)

IVR_USER = "ivr"
CALLBACK_SCRIPT = "callback-offer"  # the FastAGI script of the dialplan's [callback-offer] (queue wait limits)
CALLBACK_SUBJECT = "IVR: 回电请求 callback request"  # the console lists these as callback tasks
KEY_ACCOUNT_PRIORITY = "10"
PROMPT_DIR = "hotline"  # below Asterisk's sounds folder: hotline/<lang>/<name>
CENTRE_UTC_OFFSET = timedelta(hours=8)  # dates are spoken in the centre's time when a hotline has no hours
TYPEAHEAD_KEYS = "0123456789*#"  # keys that stop a prompt and answer the next input


@dataclass
class CallState:
    """What one caller did in the IVR."""

    hotline: str
    uniqueid: str
    caller: str
    lang: str
    path: list[str] = field(default_factory=list)
    waybill: str | None = None
    case_id: int | None = None
    case_number: str | None = None
    recording: str | None = None
    queue: str | None = None
    next: str = "hangup"  # queue | hangup
    typed: str = ""  # a key pressed during a prompt: the answer to the next input (typeahead)

    def step(self, text: str) -> None:
        """One step of `IVR_PATH`; a new kind of step needs its node and label in cases/ivr_path.py (the IVR
        report reads the path: tests/cases/test_ivr_report.py checks every step written here)."""
        self.path.append(text)


@dataclass(frozen=True, slots=True)
class IvrOutcome:
    """Reported to `on_outcome` after each session that did not hang up."""

    hotline: str
    uniqueid: str
    path: str
    next: str
    queue: str | None
    waybill: str | None
    case_id: int | None
    recording: str | None


class _Back(Exception):
    """Caller pressed * to go back to the main menu."""


# the run step of a menu option's action: (flow, session, caller, menu, option)
ActionHandler = Callable[["IvrFlow", AgiSession, CallState, HotlineMenu, Option], None]
HANDLERS: dict[str, ActionHandler] = {}


def handles(*actions: IvrAction) -> Callable[[ActionHandler], ActionHandler]:
    """Register an `IvrFlow` method as the run step of `actions` (ivr.actions): a menu option with one
    of them runs it."""

    def register(handler: ActionHandler) -> ActionHandler:
        for action in actions:
            if action.name in HANDLERS:
                raise LookupError(f"IVR action {action.name} has two handlers")
            HANDLERS[action.name] = handler
        return handler

    return register


class IvrFlow:
    def __init__(
        self,
        store: MenuStore,
        db: Database,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_outcome: Callable[[IvrOutcome], None] | None = None,
        shipments: ShipmentSource | None = None,
    ) -> None:
        self.store = store
        self.db = db
        self.shipments = shipments if shipments is not None else EMBEDDED  # where waybills are looked up
        self.clock = clock
        self.on_outcome = on_outcome
        self._announcements: dict[str, str] = {}
        self._lock = threading.Lock()
        self.missing_prompts: Counter[str] = Counter()  # prompts Asterisk could not play, since start

    # ------------------------------------------------------------------ supervisor
    def announce(self, hotline: str, prompt: str | None) -> None:
        """Put a message (a prompt name) at the start of a hotline, or remove it (None)."""
        if prompt is not None and prompt not in self.store.prompts.names():
            raise ValueError(f"unknown prompt {prompt!r}")
        with self._lock:
            if prompt is None:
                self._announcements.pop(hotline, None)
            else:
                self._announcements[hotline] = prompt

    def announcement(self, menu: HotlineMenu) -> str:
        with self._lock:
            return self._announcements.get(menu.hotline, menu.announcement)

    # ------------------------------------------------------------------ entry
    def handler(self, hotline: str) -> Callable[[AgiSession], None]:
        def run(session: AgiSession) -> None:
            self.run(session, hotline)

        return run

    def handlers(self) -> dict[str, Callable[[AgiSession], None]]:
        out = {h: self.handler(h) for h in self.store.hotlines()}
        out[CALLBACK_SCRIPT] = self.callback_offer
        return out

    def callback_offer(self, s: AgiSession) -> None:
        """A caller the listener took out of a queue whose wait limit passed
        (`agi://…/callback-offer?queue=Q&hotline=H`): key 1 → a callback request (a case the console
        lists as a callback task) and a goodbye; anything else → back to queue Q."""
        env = s.env
        assert env is not None, "read_environment first"
        queue = env.query.get("queue", "")
        if not queue or not all(ch.isalnum() or ch in "_-" for ch in queue):
            raise ValueError(f"callback offer without a queue (query {env.query!r})")
        menus = self.store.all()
        menu = self.store.get(env.query.get("hotline", "")) or (menus[0] if menus else None)
        if menu is None:
            raise LookupError("no menus loaded")
        lang = env.query.get("lang", menu.language)
        if lang not in self.store.prompts.texts:
            lang = menu.language
        st = CallState(menu.hotline, env.uniqueid, env.callerid, lang)
        st.step(f"wait_limit={queue}")
        self._play(s, st, "wait-limit")
        digits = self._key(s, st, "callback-offer", menu.key_timeout_ms)
        if digits == "1":
            try:
                self._new_case(st, CaseKind.INQUIRY, CALLBACK_SUBJECT,
                               f"来电 {st.caller} 在{menu.name_zh}的 {queue} 队列等候超过上限，请求回电。", None)
            except (CasesError, SQLAlchemyError) as exc:
                log.error("IVR %s: callback request not stored (%s): back to queue %s", st.uniqueid, exc, queue)
                st.step("error")
                self._to_agent(s, st, queue)
            else:
                st.step("callback")
                self._play(s, st, "callback-registered", keys=False)
                self._goodbye(s, st)
        else:
            st.step("offer:timeout" if not digits else f"offer={digits}")
            self._to_agent(s, st, queue)
        self._finish(s, st)

    def run(self, s: AgiSession, hotline: str) -> None:
        menu = self.store.get(hotline)
        if menu is None:
            raise LookupError(f"no menu for hotline {hotline!r}")
        env = s.env
        assert env is not None, "read_environment first"
        lang = env.query.get("lang", menu.language)
        if lang not in self.store.prompts.texts:
            lang = menu.language
        st = CallState(menu.hotline, env.uniqueid, env.callerid, lang)
        try:
            self._play(s, st, menu.greeting)
            notice = self.announcement(menu)
            if notice:
                st.step(f"announcement={notice}")
                self._play(s, st, notice)
            if menu.hours is not None and not menu.hours.is_open(self.clock()):
                self._closed(s, st, menu)
            else:
                self._main_menu(s, st, menu)
        except AgiHangup:
            self._left(s, st)
            raise
        self._finish(s, st)

    def _left(self, s: AgiSession, st: CallState) -> None:
        """The caller hung up: what is known goes on the call all the same (SET VARIABLE works on a dead
        channel, res_agi.c), so an abandoned IVR call keeps its waybill, case and path."""
        st.step("hangup")
        try:
            self._set_known(s, st)
            s.set_variable("IVR_PATH", ">".join(st.path))
        except AgiError as exc:
            log.info("IVR %s: the path of a caller who hung up was not set (%s)", st.uniqueid, exc)

    # ------------------------------------------------------------------ pieces
    def _prompt(self, st: CallState, name: str) -> str:
        return f"{PROMPT_DIR}/{st.lang}/{name}"

    def _play(self, s: AgiSession, st: CallState, name: str, *, keys: bool = True) -> None:
        """Play a prompt. With `keys`, a key pressed during it stops it and is kept as the answer to the next
        input (typeahead), and the prompts before that input are skipped: a caller who knows the menu need
        not wait for it. Without (what is said after the caller's last choice), it plays to its end."""
        if keys and st.typed:
            return
        reply = s.stream_file(self._prompt(st, name), TYPEAHEAD_KEYS if keys else "")
        if reply.value == -1:
            self._missing(st, self._prompt(st, name))
        elif keys and reply.digit:
            st.typed = reply.digit

    def _missing(self, st: CallState, prompt: str) -> None:
        """A prompt Asterisk could not play: an error to fix on the PBX (`hotline prompts build`), counted in
        `missing_prompts` and in the database (cases.prompt_faults); the call goes on."""
        with self._lock:
            self.missing_prompts[prompt] += 1
        log.error("IVR %s: prompt %s is missing on the PBX (hotline prompts build); the call goes on",
                  st.uniqueid, prompt)
        try:  # for /status and the wallboard, whichever process serves them
            with self.db.session() as db:
                record_prompt_fault(db, prompt, st.hotline, self.clock())
        except (CasesError, SQLAlchemyError) as exc:
            log.warning("IVR %s: the missing prompt %s was not stored (%s)", st.uniqueid, prompt, exc)

    def _get_data(self, s: AgiSession, st: CallState, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """GET DATA; when its prompt is missing the caller still gets to press keys."""
        try:
            digits, _ = s.get_data(prompt, timeout_ms, max_digits)
        except AgiPromptMissing:
            self._missing(st, prompt)
            return self._keys(s, timeout_ms, max_digits)
        return digits

    @staticmethod
    def _keys(s: AgiSession, timeout_ms: int, max_digits: int) -> str:
        """Keys without a prompt (WAIT FOR DIGIT, no sound file needed), as GET DATA collects them: up to
        `max_digits`, `#` ends them, `timeout_ms` for each key."""
        keys = ""
        while len(keys) < max_digits:
            key = s.wait_for_digit(timeout_ms)
            if key is None or key == "#":
                break
            keys += key
        return keys

    def _say(self, s: AgiSession, st: CallState, words: list[str], *, keys: bool = True) -> None:
        """A number, date or amount (ivr/speech.py) as Hotline's own word prompts in the caller's language,
        with typeahead as `_play`."""
        for word in speech.spoken(words, self.store.prompts.texts.get(st.lang, {})):
            self._play(s, st, word, keys=keys)

    def _key(self, s: AgiSession, st: CallState, prompt: str, timeout_ms: int) -> str:
        """One key (a menu's choice): the key typed ahead, else GET DATA with the prompt ("" on time-out)."""
        if st.typed:
            key, st.typed = st.typed, ""
            return "" if key == "#" else key
        return self._get_data(s, st, self._prompt(st, prompt), timeout_ms, 1)

    def _digits(self, s: AgiSession, st: CallState, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Up to `max_digits` keys (`#` ends them): a key typed ahead is the first of them, and the rest are
        collected without playing the prompt again."""
        if not st.typed:
            return self._get_data(s, st, self._prompt(st, prompt), timeout_ms, max_digits)
        first, st.typed = st.typed, ""
        if first == "#" or max_digits <= 1:
            return "" if first == "#" else first
        return first + self._keys(s, timeout_ms, max_digits - 1)

    @staticmethod
    def _set_known(s: AgiSession, st: CallState) -> None:
        """The call's waybill, case and recording, when known, as channel variables."""
        if st.waybill:
            s.set_variable("WAYBILL", st.waybill)
        if st.case_id is not None:
            s.set_variable("CASE_ID", str(st.case_id))
        if st.recording:
            s.set_variable("IVR_RECORDING", st.recording)

    def _finish(self, s: AgiSession, st: CallState) -> None:
        self._set_known(s, st)
        if st.next == "queue":
            s.set_variable("IVR_QUEUE", st.queue or "")
            s.set_variable("QUEUE_PRIO", max(self._priority(st), self._routed_priority(s), key=int))
        s.set_variable("IVR_PATH", ">".join(st.path))
        s.set_variable("IVR_NEXT", st.next)
        if self.on_outcome is not None:
            self.on_outcome(IvrOutcome(st.hotline, st.uniqueid, ">".join(st.path), st.next, st.queue, st.waybill,
                                       st.case_id, st.recording))

    @staticmethod
    def _routed_priority(s: AgiSession) -> str:
        """The priority the AMI listener's routing gave the call before the IVR (a key account of the settings'
        list): the IVR never lowers it (seen on a real Asterisk: its 0 undid the listener's 10)."""
        value = s.get_variable("QUEUE_PRIO") or "0"
        return value if value.isdigit() else "0"

    def _priority(self, st: CallState) -> str:
        if not st.caller:
            return "0"
        try:
            with self.db.session() as db:
                customer = find_customer_by_phone(db, st.caller)
        except (CasesError, SQLAlchemyError) as exc:
            log.warning("IVR %s: customer lookup failed (%s): normal priority", st.uniqueid, exc)
            return "0"
        return KEY_ACCOUNT_PRIORITY if customer is not None and customer.kind is CustomerKind.KEY_ACCOUNT else "0"

    def _to_agent(self, s: AgiSession, st: CallState, queue: str) -> None:
        st.step(f"agent={queue}")
        st.queue = queue
        st.next = "queue"
        self._play(s, st, "transfer-agent", keys=False)

    def _goodbye(self, s: AgiSession, st: CallState) -> None:
        st.step("goodbye")
        st.next = "hangup"
        self._play(s, st, "goodbye", keys=False)

    def _collect(self, s: AgiSession, st: CallState, c: Collect, what: str,
                 check: Callable[[str], bool] | None = None) -> str | None:
        """Digits of the right length, ended by `#` (one key more than the longest answer is read, so the `#`
        after a full-length number ends the input instead of stopping the next prompt); `check` False → not
        found. None after the tries."""
        for _ in range(c.tries):
            digits = self._digits(s, st, c.prompt, c.timeout_ms, c.max_length + 1)
            if not digits:
                st.step(f"{what}:timeout")
                self._play(s, st, "no-input")
                continue
            if not (c.min_length <= len(digits) <= c.max_length) or not digits.isdigit():
                st.step(f"{what}:invalid={digits}")
                self._play(s, st, c.invalid_prompt)
                continue
            if check is not None and not check(digits):
                st.step(f"{what}:not_found={digits}")
                self._play(s, st, c.not_found_prompt or c.invalid_prompt)
                continue
            st.step(f"{what}={digits}")
            return digits
        st.step(f"{what}:too_many_tries")
        return None

    def _main_menu(self, s: AgiSession, st: CallState, menu: HotlineMenu) -> None:
        failures = 0
        while failures < menu.retries:
            digits = self._key(s, st, menu.menu_prompt, menu.key_timeout_ms)
            if not digits:
                st.step("menu:timeout")
                failures += 1
                self._play(s, st, menu.timeout_prompt)
                continue
            option = menu.option(digits)
            if option is None:
                st.step(f"menu:invalid={digits}")
                failures += 1
                self._play(s, st, menu.invalid_prompt)
                continue
            st.step(f"menu={digits}:{option.action}")
            try:
                self._action(s, st, menu, option)
                return
            except _Back:
                st.step("back")
                failures = 0
                continue
        st.step("menu:too_many_tries")
        self._to_agent(s, st, menu.agent_queue)

    def _action(self, s: AgiSession, st: CallState, menu: HotlineMenu, option: Option) -> None:
        try:
            HANDLERS[option.action](self, s, st, menu, option)
        except (CasesError, SQLAlchemyError) as exc:
            log.error("IVR %s: %s failed on the database (%s): to an agent", st.uniqueid, option.action, exc)
            st.step("error")
            self._to_agent(s, st, option.queue)

    def _anything_else(self, s: AgiSession, st: CallState, option: Option) -> None:
        """After a self-service answer: 0 → agent, * → main menu, else goodbye."""
        digits = self._key(s, st, "anything-else", 5000)
        if digits == "0":
            self._to_agent(s, st, option.queue)
        elif digits == "*":
            raise _Back()
        else:
            self._goodbye(s, st)

    # ------------------------------------------------------------------ actions
    @handles(AGENT)
    def _agent(self, s: AgiSession, st: CallState, menu: HotlineMenu, option: Option) -> None:
        self._to_agent(s, st, option.queue)

    def _find_shipment(self, waybill: str) -> ShipmentView | None:
        with self.db.session() as db:
            return find_via(self.shipments, db, waybill)

    def _waybill(self, s: AgiSession, st: CallState, menu: HotlineMenu) -> ShipmentView | None:
        found: dict[str, ShipmentView] = {}

        def check(digits: str) -> bool:
            sh = self._find_shipment(digits)
            if sh is not None:
                found[digits] = sh
            return sh is not None

        digits = self._collect(s, st, menu.collect["waybill"], "waybill", check)
        if digits is None:
            return None
        st.waybill = digits
        return found[digits]

    @handles(TRACKING)
    def _tracking(self, s: AgiSession, st: CallState, menu: HotlineMenu, option: Option) -> None:
        shipment = self._waybill(s, st, menu)
        if shipment is None:
            self._to_agent(s, st, option.queue)
            return
        prompts = self.store.prompts
        self._play(s, st, "tracking-intro")
        self._play(s, st, prompts.status.get(shipment.status, "status-unknown"))
        st.step(f"status={shipment.status}")
        if shipment.events:
            self._play(s, st, "last-scan")
            self._say(s, st, speech.date_time(shipment.events[-1].at, st.lang, self._utc_offset(menu)))
        self._anything_else(s, st, option)

    @staticmethod
    def _utc_offset(menu: HotlineMenu) -> timedelta:
        """The hotline's clock (its business hours' UTC offset), else the centre's (UTC+8)."""
        return menu.hours.utc_offset if menu.hours is not None else CENTRE_UTC_OFFSET

    def _new_case(self, st: CallState, kind: CaseKind, subject: str, description: str, waybill: str | None,
                  details: Details | None = None) -> None:
        """The case and its workflow record (cases.intake: a complaint's, a claim's, a change request's), for the
        customer the caller's number matches (the call itself is stored only at its end)."""
        with self.db.session() as db:
            customer = find_customer_by_phone(db, st.caller) if st.caller else None
            case = take_in(db, CaseInput(kind=kind.value, subject=subject, description=description, waybill=waybill,
                                         linkedid=st.uniqueid or None,
                                         customer_id=customer.id if customer is not None else None),
                           IVR_USER, details).case
        st.case_id = case.id
        st.case_number = case.number
        st.step(f"case={case.number}")

    @handles(CHANGE_PHONE)
    def _change_phone(self, s: AgiSession, st: CallState, menu: HotlineMenu, option: Option) -> None:
        shipment = self._waybill(s, st, menu)
        if shipment is None:
            self._to_agent(s, st, option.queue)
            return
        spec = menu.collect["phone"]
        for _ in range(spec.tries):
            phone = self._collect(s, st, spec, "phone")
            if phone is None:
                break
            self._play(s, st, "phone-confirm")
            self._say(s, st, speech.digits(phone))
            digits = self._key(s, st, "confirm-or-retry", 5000)
            if digits != "1":
                st.step("phone:retry")
                continue
            st.step("phone:confirmed")
            # the change request itself (cases.changes), unless the phone is the consignee's already
            same = normalize_phone(phone) == normalize_phone(shipment.consignee_phone or "")
            try:
                self._new_case(
                    st, CaseKind.CHANGE_REQUEST, "IVR: 更改收货人电话 change consignee phone",
                    f"来电 {st.caller} 经语音导航申请将运单 {shipment.waybill} 的收货人电话由 "
                    f"{shipment.consignee_phone or '-'} 改为 {phone}。", shipment.waybill,
                    None if same else ChangeIntake(field=ChangeField.CONSIGNEE_PHONE.value, new_value=phone,
                                                   reason="语音导航 IVR"))
            except ChangeAlreadyWaiting as exc:  # nothing stored: an agent takes it up with the waiting one
                log.info("IVR %s: %s", st.uniqueid, exc)
                st.step(f"phone:waiting={exc.request_id}")
                self._play(s, st, "change-waiting", keys=False)
                self._to_agent(s, st, option.queue)
                return
            self._play(s, st, "request-registered", keys=False)
            assert st.case_number is not None
            self._say(s, st, speech.digits(st.case_number), keys=False)
            self._goodbye(s, st)
            return
        self._to_agent(s, st, option.queue)

    @handles(COMPLAINT, NEW_CLAIM)
    def _report(self, s: AgiSession, st: CallState, menu: HotlineMenu, option: Option) -> None:
        """Complaint / new claim: waybill if the caller has one (`#` alone skips), their own words
        (RECORD FILE), a case carrying both, then an agent."""
        waybill: str | None = None
        c = menu.collect.get("waybill")
        if c is not None:
            digits = self._digits(s, st, c.prompt, c.timeout_ms, c.max_length + 1)  # and its `#`, as _collect
            if digits and c.min_length <= len(digits) <= c.max_length and self._find_shipment(digits) is not None:
                waybill = digits
                st.waybill = digits
                st.step(f"waybill={digits}")
            else:
                st.step(f"waybill:none={digits}" if digits else "waybill:skipped")
        rec = menu.recording
        assert rec is not None
        self._play(s, st, rec.prompt)
        path = f"{rec.directory}/{st.hotline}-{option.action}-{st.uniqueid or 'call'}"
        st.recording = f"{path}.{rec.format}"
        try:
            reply = s.record_file(path, rec.format, "#", rec.max_seconds * 1000, beep=True,
                                  silence_s=rec.silence_seconds or None)
        except AgiHangup as exc:
            # the usual way to end a message: hang up. Asterisk closes the file with what was said
            # (res_agi.c: "200 result=-1 (hangup) endpos=N"); the complaint or claim is made all the same
            try:
                self._message_case(st, option, (exc.reply.endpos or 0) if exc.reply else 0, waybill, "hangup")
            except (CasesError, SQLAlchemyError) as err:
                log.error("IVR %s: the message left before hanging up was not stored (%s)", st.uniqueid, err)
            raise
        self._message_case(st, option, reply.endpos or 0, waybill, "")
        self._play(s, st, "recorded-thanks", keys=False)
        self._to_agent(s, st, option.queue)

    def _message_case(self, st: CallState, option: Option, endpos: int, waybill: str | None, ended: str) -> None:
        """The complaint or new claim carrying the caller's recorded message (`ended`: "hangup" when the
        caller ended it by hanging up)."""
        seconds = endpos / 8000
        st.step(f"recorded={seconds:.1f}s" + (f":{ended}" if ended else ""))
        if ended and endpos == 0 and not Path(st.recording or "").exists():
            log.info("IVR %s: caller hung up before saying anything: no message, no case", st.uniqueid)
            return
        kind = CaseKind.CLAIM if option.action == "new_claim" else CaseKind.COMPLAINT
        subject = "IVR: 理赔报案 new claim" if kind is CaseKind.CLAIM else "IVR: 投诉 complaint"
        details: Details = (ClaimIntake(channel=ClaimChannel.HOTLINE.value) if kind is CaseKind.CLAIM
                            else ComplaintIntake())
        self._new_case(st, kind, subject,
                       f"来电 {st.caller} 经语音导航留言（{seconds:.1f} 秒），待转写。\n录音 recording: {st.recording}",
                       waybill, details)

    @handles(CLAIM_STATUS)
    def _claim_status(self, s: AgiSession, st: CallState, menu: HotlineMenu, option: Option) -> None:
        found: dict[str, str] = {}

        def check(digits: str) -> bool:
            """The claim by its case number, else by its waybill (the caller's own claim first)."""
            with self.db.session() as db:
                case = find_caller_claim(db, digits, st.caller)
            if case is None:
                return False
            found[digits] = case.status.value
            st.case_id = case.id
            st.case_number = case.number
            return True

        digits = self._collect(s, st, menu.collect["claim"], "claim", check)
        if digits is None:
            self._to_agent(s, st, option.queue)
            return
        status = found[digits]
        st.step(f"claim_status={status}")
        self._play(s, st, self.store.prompts.case_status.get(status, "status-unknown"))
        self._claim_money(s, st)
        self._anything_else(s, st, option)

    def _claim_money(self, s: AgiSession, st: CallState) -> None:
        """The amount paid (赔付) or, before payment, the amount agreed (商定) on the caller's claim."""
        assert st.case_id is not None
        try:
            with self.db.session() as db:
                claim = claim_for_case(db, st.case_id)
        except (CasesError, SQLAlchemyError) as exc:
            log.warning("IVR %s: claim amounts not read (%s)", st.uniqueid, exc)
            return
        if claim is None:
            return
        for prompt, money in (("claim-paid", claim.paid), ("claim-agreed", claim.agreed)):
            if money is not None:
                self._play(s, st, prompt)
                self._say(s, st, speech.amount(int(money * 100), st.lang))
                return

    def _closed(self, s: AgiSession, st: CallState, menu: HotlineMenu) -> None:
        st.step("closed")
        st.typed = ""  # a key pressed during the greeting meant the menu, not the callback offer not yet heard
        self._play(s, st, "closed")
        digits = self._key(s, st, "callback-offer", menu.key_timeout_ms)
        if digits == "1":
            try:
                self._new_case(st, CaseKind.INQUIRY, CALLBACK_SUBJECT,
                               f"来电 {st.caller} 在非工作时间致电{menu.name_zh}，请求回电。", None)
            except (CasesError, SQLAlchemyError) as exc:
                log.error("IVR %s: callback request not stored (%s)", st.uniqueid, exc)
                st.step("error")
                self._goodbye(s, st)
                return
            st.step("callback")
            self._play(s, st, "callback-registered", keys=False)
        self._goodbye(s, st)


def _check_handlers() -> None:
    """Every registered action (ivr.actions) has its run step here: a menu may use any of them."""
    missing = sorted(set(ACTIONS) - set(HANDLERS))
    if missing:
        raise LookupError(f"IVR action(s) without a handler in ivr.flow: {', '.join(missing)}")


_check_handlers()
