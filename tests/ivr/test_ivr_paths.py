"""Every IVR menu path as an AGI conversation: `ivr.agi_client.AgiCaller` plays Asterisk's side
with the reply forms captured from Asterisk 20 (keys, `#`, timeouts, RECORD FILE endings, the
caller's hang-up) against the real server, the real menus and a real SQLite database."""

from __future__ import annotations

import socket
from pathlib import Path

from cases import claims
from cases.case_records import get_case, list_cases
from cases.changes import list_change_requests
from cases.claims import EvidenceStore, LiabilityInput
from cases.prompt_faults import recent_prompt_faults
from cases.views import CaseInput
from ivr.agi_client import AgiCaller, AgiCallResult
from tests.ivr.conftest import AGI_FIXTURES, CLOSED_AT, KEY_ACCOUNT_PHONE, WAYBILL, IvrServer

SAMPLE = AGI_FIXTURES / "agi-03-record-dtmf-085901.wav"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def call(srv: IvrServer, script: str, inputs: list[str], **kw: object) -> AgiCallResult:
    caller = AgiCaller("127.0.0.1", srv.port, script, inputs=inputs, sample_wav=SAMPLE, **kw)  # type: ignore[arg-type]
    return caller.run()


def test_tracking_reads_status_and_last_scan_then_goodbye(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service?lang=zh", ["1", WAYBILL + "#", ""])
    assert r.server_closed and not r.hung_up
    assert r.prompts[:3] == ("hotline/zh/service-welcome", "hotline/zh/service-menu", "hotline/zh/enter-waybill")
    assert "hotline/zh/tracking-intro" in r.prompts and "hotline/zh/status-in-transit" in r.prompts
    said = r.prompts[r.prompts.index("hotline/zh/last-scan") + 1:r.prompts.index("hotline/zh/anything-else")]
    assert said == tuple(f"hotline/zh/{w}" for w in (  # 11-28 10:00 UTC: 十一月二十八日十八点整 in China
        "month-11", "num-20", "num-8", "date-day", "num-18", "time-hour", "time-sharp"))  # time-at: not in zh
    assert all(p.startswith("hotline/zh/") for p in r.prompts)  # Hotline's Mandarin prompts, no English sound
    assert not any(c.startswith("SAY ") for c in r.commands)  # Asterisk's SAY speaks English digits/ sounds
    assert r.variables["WAYBILL"] == WAYBILL and r.variables["IVR_NEXT"] == "hangup"
    assert r.variables["IVR_PATH"] == f"menu=1:tracking>waybill={WAYBILL}>status=运输中>goodbye"
    assert r.prompts[-1] == "hotline/zh/goodbye"


def test_a_key_during_the_greeting_chooses_from_the_menu_at_once(ivr_server: IvrServer) -> None:
    """A caller who knows the menu presses 1 while the welcome plays: it stops, the menu is not read, and
    the 1 is the choice (keys typed ahead were lost on a real Asterisk: the prompt took none)."""
    r = call(ivr_server, "service", [WAYBILL + "#", ""], keys_during={"hotline/zh/service-welcome": "1"})
    assert 'STREAM FILE hotline/zh/service-welcome "0123456789*#"' in r.commands
    assert "hotline/zh/service-menu" not in r.prompts
    assert r.variables["IVR_PATH"].startswith(f"menu=1:tracking>waybill={WAYBILL}>status=")


def test_a_key_during_the_status_answers_anything_else(ivr_server: IvrServer) -> None:
    """0 pressed while the tracking status is read: the rest is skipped and the caller goes to an agent
    (seen lost on a real Asterisk: the status took no keys, the 0 never reached the next menu)."""
    r = call(ivr_server, "service", ["1", WAYBILL + "#"], keys_during={"hotline/zh/tracking-intro": "0"})
    assert "hotline/zh/anything-else" not in r.prompts and "hotline/zh/last-scan" not in r.prompts
    assert r.variables["IVR_NEXT"] == "queue" and r.variables["WAYBILL"] == WAYBILL
    assert r.variables["IVR_PATH"].endswith("agent=service")
    month = call(ivr_server, "service", ["1", WAYBILL + "#", ""]).prompts
    month_word = month[month.index("hotline/zh/last-scan") + 1]
    r = call(ivr_server, "service", ["1", WAYBILL + "#"], keys_during={month_word: "0"})  # during the date
    assert "hotline/zh/date-day" not in r.prompts  # the rest of the date is skipped
    assert "hotline/zh/anything-else" not in r.prompts and r.variables["IVR_NEXT"] == "queue"


def test_the_hash_after_a_full_length_waybill_ends_it_and_does_not_stop_the_status(ivr_server: IvrServer) -> None:
    """Seen on a real Asterisk: GET DATA stopped at 12 digits, the caller's closing # (the prompt asks for it)
    then stopped the status as a typed-ahead key and skipped the rest of the call's tracking."""
    r = call(ivr_server, "service", ["1", WAYBILL + "#", ""])
    assert f"GET DATA hotline/zh/enter-waybill 8000 {len(WAYBILL) + 1}" in r.commands
    assert "hotline/zh/last-scan" in r.prompts and "hotline/zh/anything-else" in r.prompts


def test_the_first_digit_of_a_waybill_typed_ahead_is_kept(ivr_server: IvrServer) -> None:
    """The first digit pressed during the no-input message starts the number; the rest is collected without
    reading the prompt again."""
    r = call(ivr_server, "service", ["1", "", WAYBILL[1:] + "#", ""], keys_during={"hotline/zh/no-input": WAYBILL[0]})
    assert f"waybill:timeout>waybill={WAYBILL}" in r.variables["IVR_PATH"]
    assert sum(c.startswith("WAIT FOR DIGIT ") for c in r.commands) == len(WAYBILL)  # 11 keys and the #


def test_tracking_then_agent_carries_the_waybill(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["1", WAYBILL + "#", "0"])
    v = r.variables
    assert v["IVR_NEXT"] == "queue" and v["IVR_QUEUE"] == "service" and v["WAYBILL"] == WAYBILL
    assert v["QUEUE_PRIO"] == "0"  # unknown caller
    assert v["IVR_PATH"].endswith(">agent=service")
    out = ivr_server.outcomes[-1]
    assert out.waybill == WAYBILL and out.next == "queue"


def test_tracking_unknown_and_malformed_waybills_then_agent(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["1", "999999999999#", "123#", ""])
    path = r.variables["IVR_PATH"].split(">")
    assert path[1:] == ["waybill:not_found=999999999999", "waybill:invalid=123", "waybill:timeout",
                        "waybill:too_many_tries", "agent=service"]
    assert "hotline/zh/waybill-not-found" in r.prompts and "hotline/zh/waybill-invalid" in r.prompts
    assert r.variables["IVR_NEXT"] == "queue" and "WAYBILL" not in r.variables


def test_star_goes_back_to_the_main_menu(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["1", WAYBILL, "*", "0"])  # 12 keys = max digits, no # needed
    assert r.variables["IVR_PATH"] == f"menu=1:tracking>waybill={WAYBILL}>status=运输中>back>menu=0:agent>agent=service"
    assert r.prompts.count("hotline/zh/service-menu") == 2


def test_invalid_keys_and_timeouts_end_at_an_agent(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["9", "", "7"])
    assert r.variables["IVR_PATH"] == "menu:invalid=9>menu:timeout>menu:invalid=7>menu:too_many_tries>agent=service"
    assert r.variables["IVR_QUEUE"] == "service"
    assert r.prompts.count("hotline/zh/invalid-key") == 2 and r.prompts.count("hotline/zh/no-input") == 1
    r = call(ivr_server, "claims", [])  # never presses anything
    assert r.variables["IVR_PATH"] == "menu:timeout>menu:timeout>menu:timeout>menu:too_many_tries>agent=claims"


def test_complaint_records_the_caller_and_opens_a_case(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["2", WAYBILL + "#", "talks then #"], uniqueid="1796030000.7")
    v = r.variables
    assert v["IVR_NEXT"] == "queue" and v["IVR_QUEUE"] == "complaints" and v["WAYBILL"] == WAYBILL
    rec = Path(v["IVR_RECORDING"])
    assert rec == ivr_server.world.recordings / "service-complaint-1796030000.7.wav" and rec.exists()
    cmd = next(c for c in r.commands if c.startswith("RECORD FILE"))
    assert cmd == f"RECORD FILE {rec.with_suffix('')} wav # 60000 0 BEEP s=3"
    with ivr_server.world.db.session() as s:
        case = get_case(s, int(v["CASE_ID"]))
    assert case.kind == "complaint" and case.created_by == "ivr" and str(rec) in case.description
    assert case.shipment is not None and case.shipment.waybill == WAYBILL
    assert [c.call.linkedid for c in case.calls] == ["1796030000.7"]
    assert "recorded=5.3s" in v["IVR_PATH"]


def test_a_message_ended_by_hanging_up_is_kept_and_becomes_the_case(ivr_server: IvrServer) -> None:
    """The usual way to end a message: hang up. RECORD FILE answers `(hangup) endpos=N` and the channel is
    gone; the recording is kept and the complaint is made with it (seen lost on a real Asterisk)."""
    r = call(ivr_server, "service", ["2", WAYBILL + "#", "talks, then hangs up !"], uniqueid="1796030000.8")
    assert r.hung_up and r.server_closed
    rec = ivr_server.world.recordings / "service-complaint-1796030000.8.wav"
    assert r.recordings == (str(rec),) and rec.exists()
    with ivr_server.world.db.session() as s:
        [case] = [c for c in list_cases(s, kind="complaint", limit=1000)
                  if "1796030000.8" in [link.call.linkedid for link in get_case(s, c.id).calls]]
        case = get_case(s, case.id)
    assert case.created_by == "ivr" and str(rec) in case.description and "5.0 秒" in case.description
    assert case.shipment is not None and case.shipment.waybill == WAYBILL
    assert not any(c.startswith("STREAM FILE") and "recorded-thanks" in c for c in r.commands)
    # the waybill, the case and the path are on the call although the caller hung up
    assert r.variables["WAYBILL"] == WAYBILL and r.variables["CASE_ID"] == str(case.id)
    assert r.variables["IVR_PATH"].endswith(f"recorded=5.0s:hangup>case={case.number}>hangup")


def test_new_claim_without_waybill_silence_ended_recording(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "claims", ["1", "#", "talks, then silence"], dnid="4008002")
    v = r.variables
    assert v["IVR_QUEUE"] == "claims" and "WAYBILL" not in v
    assert v["IVR_PATH"].startswith("menu=1:new_claim>waybill:skipped>recorded=5.7s>case=C")
    with ivr_server.world.db.session() as s:
        case = get_case(s, int(v["CASE_ID"]))
    assert case.kind == "claim" and case.shipment is None and v["IVR_RECORDING"] in case.description


def test_change_phone_confirmed_creates_a_change_request(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["3", WAYBILL + "#", "13912345678#", "2", "13912345679#", "1"])
    v = r.variables
    assert v["IVR_NEXT"] == "hangup" and v["WAYBILL"] == WAYBILL
    assert "phone=13912345678>phone:retry>phone=13912345679>phone:confirmed" in v["IVR_PATH"]
    confirm = r.prompts.index("hotline/zh/phone-confirm", r.prompts.index("hotline/zh/phone-confirm") + 1)
    assert r.prompts[confirm + 1:confirm + 12] == tuple(f"hotline/zh/num-{d}" for d in "13912345679")
    assert 'STREAM FILE hotline/zh/num-9 "0123456789*#"' in r.commands  # a key during it answers the next question
    with ivr_server.world.db.session() as s:
        case = get_case(s, int(v["CASE_ID"]))
    assert case.kind == "change_request" and "13912345679" in case.description and "13900000009" in case.description
    digits = "".join(ch for ch in case.number if ch.isdigit())
    told = r.prompts.index("hotline/zh/request-registered") + 1
    assert r.prompts[told:told + len(digits)] == tuple(f"hotline/zh/num-{d}" for d in digits)
    assert f'STREAM FILE hotline/zh/num-{digits[-1]} ""' in r.commands  # the case number plays to its end


def test_a_second_change_while_one_waits_goes_to_an_agent_and_stores_nothing(ivr_server: IvrServer) -> None:
    first = call(ivr_server, "service", ["3", WAYBILL + "#", "13912345670#", "1"], uniqueid="1796029200.1")
    assert "phone:confirmed>case=" in first.variables["IVR_PATH"]
    with ivr_server.world.db.session() as s:
        (waiting,) = list_change_requests(s, stage="requested")
        cases_before = len(list_cases(s, limit=1000))
    second = call(ivr_server, "service", ["3", WAYBILL + "#", "13912345671#", "1", ""], uniqueid="1796029200.2")
    path = second.variables["IVR_PATH"]
    assert f"phone:confirmed>phone:waiting={waiting.id}>agent=service" in path, path
    assert "hotline/zh/change-waiting" in second.prompts and "CASE_ID" not in second.variables
    with ivr_server.world.db.session() as s:
        assert [r.id for r in list_change_requests(s, stage="requested")] == [waiting.id]
        assert len(list_cases(s, limit=1000)) == cases_before


def test_change_phone_bad_number_goes_to_agent(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["3", WAYBILL + "#", "12#", "", "1#"])
    assert r.variables["IVR_PATH"].endswith("phone:too_many_tries>agent=service")
    assert "CASE_ID" not in r.variables


def test_claim_status_by_claim_number(ivr_server: IvrServer) -> None:
    claim = ivr_server.world.claim
    digits = "".join(ch for ch in claim.number if ch.isdigit())
    r = call(ivr_server, "claims", ["2", digits + "#", ""])
    assert "hotline/zh/case-open" in r.prompts
    assert r.variables["CASE_ID"] == str(claim.id) and r.variables["IVR_NEXT"] == "hangup"
    r = call(ivr_server, "claims", ["2", "202001010001#", "20200101000#", digits, "0"])
    assert r.variables["IVR_PATH"].split(">")[1:3] == ["claim:not_found=202001010001", "claim:invalid=20200101000"]
    assert r.variables["IVR_QUEUE"] == "claims" and r.variables["CASE_ID"] == str(claim.id)


def test_claim_status_tells_the_agreed_then_the_paid_amount_in_mandarin(ivr_server: IvrServer,
                                                                        tmp_path: Path) -> None:
    db = ivr_server.world.db
    with db.session() as s:
        k = claims.open_claim(s, CaseInput(kind="claim", subject="破损"), channel="hotline",
                              accident_cause="handling_damage", claimed="1200", by="a1")
        claims.start_investigation(s, k.id, by="c1")
        claims.add_evidence(s, k.id, filename="p.png", data=PNG, content_type="image/png",
                            store=EvidenceStore(tmp_path), by="c1")
        claims.fix_liability(s, k.id, parties=[LiabilityInput("branch", "100")], by="c1")
        claims.offer(s, k.id, offered_by="company", amount="1000.50", by="c1")
        claims.agree_amount(s, k.id, amount="1000.50", by="c1")
    digits = "".join(ch for ch in k.case_number if ch.isdigit())
    r = call(ivr_server, "claims", ["2", digits + "#", ""])
    told = r.prompts.index("hotline/zh/claim-agreed") + 1
    assert r.prompts[told:told + 5] == tuple(f"hotline/zh/{w}" for w in (  # 一千点五元
        "num-1", "num-1000", "num-point", "num-5", "money-yuan"))
    assert all(p.startswith("hotline/zh/") for p in r.prompts) and not any(c.startswith("SAY ") for c in r.commands)
    with db.session() as s:
        claims.notify_parties(s, k.id, by="c1")
        claims.pay(s, k.id, amount="1000.50", by="c1")
    r = call(ivr_server, "claims?lang=en", ["2", digits + "#", ""])
    told = r.prompts.index("hotline/en/claim-paid") + 1
    assert "hotline/en/claim-agreed" not in r.prompts
    assert r.prompts[told:told + 5] == tuple(f"hotline/en/{w}" for w in (
        "num-1", "num-1000", "num-point", "num-5", "money-yuan"))


def test_a_key_pressed_during_the_greeting_of_a_closed_hotline_does_not_answer_the_callback_offer(
        ivr_server: IvrServer) -> None:
    """Seen on a real Asterisk: a caller pressed 1 during the greeting (meaning the menu's tracking), never
    heard that the hotline was closed, and the 1 registered a callback request."""
    ivr_server.clock[0] = CLOSED_AT
    r = call(ivr_server, "service", [""], keys_during={"hotline/zh/service-welcome": "1"})
    assert r.prompts[1:3] == ("hotline/zh/closed", "hotline/zh/callback-offer")
    assert r.variables["IVR_PATH"] == "closed>goodbye" and "CASE_ID" not in r.variables


def test_the_priority_the_routing_gave_a_key_account_is_kept(ivr_server: IvrServer) -> None:
    """The AMI listener sets QUEUE_PRIO=10 for the settings' key accounts before the IVR; the IVR, finding no
    key-account customer for the number, set 0 over it (seen on a real Asterisk: `prio: 0` in the queue)."""
    r = call(ivr_server, "service", ["0"], callerid="13777777777", variables={"QUEUE_PRIO": "10"})
    assert r.variables["IVR_NEXT"] == "queue" and r.variables["QUEUE_PRIO"] == "10"
    r = call(ivr_server, "service", ["0"], callerid="13777777777")
    assert r.variables["QUEUE_PRIO"] == "0"
    r = call(ivr_server, "service", ["0"], callerid=KEY_ACCOUNT_PHONE, variables={"QUEUE_PRIO": "junk"})
    assert r.variables["QUEUE_PRIO"] == "10"  # the customer's own key-account status


def test_closed_hours_offer_a_callback(ivr_server: IvrServer) -> None:
    ivr_server.clock[0] = CLOSED_AT
    r = call(ivr_server, "service", ["1"], callerid="13700000000")
    assert r.variables["IVR_PATH"].startswith("closed>case=C") and r.variables["IVR_NEXT"] == "hangup"
    assert "hotline/zh/callback-registered" in r.prompts and "hotline/zh/service-menu" not in r.prompts
    with ivr_server.world.db.session() as s:
        case = get_case(s, int(r.variables["CASE_ID"]))
    assert case.kind == "inquiry" and "13700000000" in case.description and "回电" in case.subject
    r = call(ivr_server, "claims", [""])
    assert r.variables["IVR_PATH"] == "closed>goodbye" and "CASE_ID" not in r.variables


def test_announcement_plays_before_the_menu_in_english(ivr_server: IvrServer) -> None:
    ivr_server.flow.announce("service", "weather-delay")
    r = call(ivr_server, "service?lang=en", ["0"])
    assert r.prompts[:3] == ("hotline/en/service-welcome", "hotline/en/weather-delay", "hotline/en/service-menu")
    assert r.variables["IVR_PATH"] == "announcement=weather-delay>menu=0:agent>agent=service"
    ivr_server.flow.announce("service", None)
    r = call(ivr_server, "service", ["0"])
    assert "hotline/zh/weather-delay" not in r.prompts


def test_key_account_gets_queue_priority(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["0"], callerid=KEY_ACCOUNT_PHONE)
    assert r.variables["QUEUE_PRIO"] == "10"


def test_caller_hanging_up_mid_menu_ends_the_session_cleanly(ivr_server: IvrServer) -> None:
    before = ivr_server.server.stats()
    r = call(ivr_server, "service", ["1", "!"])
    assert r.hung_up and r.server_closed
    # after the hang-up only the path goes on the call (SET VARIABLE works on a dead channel), nothing plays
    hung = next(i for i, c in enumerate(r.commands) if c.startswith("GET DATA hotline/zh/enter-waybill"))
    assert r.commands[hung + 1:] == ('SET VARIABLE IVR_PATH "menu=1:tracking>hangup"',)
    assert "IVR_NEXT" not in r.variables
    after = ivr_server.server.stats()
    assert after.hangups == before.hangups + 1 and after.handler_errors == before.handler_errors


def test_unknown_script_served_by_the_default_ivr(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "nosuchhotline", ["0"])
    assert r.prompts[0] == "hotline/zh/service-welcome" and r.variables["IVR_QUEUE"] == "service"


def test_garbage_closes_the_session_and_the_server_keeps_serving(ivr_server: IvrServer) -> None:
    with socket.create_connection(("127.0.0.1", ivr_server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100) == b""  # closed without a word
    with socket.create_connection(("127.0.0.1", ivr_server.port), timeout=5) as sock:
        sock.sendall(b"\x00\xff" * 5000)  # no line end, oversized
        assert sock.recv(100) == b""
    assert ivr_server.server.stats().protocol_errors >= 2
    r = call(ivr_server, "service", ["0"])
    assert r.variables["IVR_NEXT"] == "queue"


def test_missing_prompt_does_not_stop_the_menu(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "service", ["0"], missing_prompts=["hotline/zh/service-welcome"])
    assert r.variables["IVR_NEXT"] == "queue"


def test_a_menu_whose_prompt_is_missing_still_takes_the_callers_key(ivr_server: IvrServer) -> None:
    """GET DATA of a prompt missing on the PBX answers -1 like a hang-up; the channel is still up (CHANNEL
    STATUS), so the caller's key is still taken without a prompt (WAIT FOR DIGIT), and the prompt is counted,
    in the database too (for /status and the wallboard of the console, another process)."""
    before = ivr_server.flow.missing_prompts["hotline/zh/service-menu"]
    with ivr_server.world.db.reading() as s:
        stored = {f.prompt: f.count for f in recent_prompt_faults(s, ivr_server.clock[0])}
    r = call(ivr_server, "service", ["1", WAYBILL + "#", "0"], missing_prompts=["hotline/zh/service-menu"])
    assert not r.hung_up and r.variables["IVR_NEXT"] == "queue"
    assert r.variables["IVR_PATH"].startswith(f"menu=1:tracking>waybill={WAYBILL}")
    menu = r.commands.index(next(c for c in r.commands if c.startswith("GET DATA hotline/zh/service-menu")))
    assert r.commands[menu + 1] == "CHANNEL STATUS" and r.commands[menu + 2].startswith("WAIT FOR DIGIT ")
    assert ivr_server.flow.missing_prompts["hotline/zh/service-menu"] == before + 1
    with ivr_server.world.db.reading() as s:
        [fault] = [f for f in recent_prompt_faults(s, ivr_server.clock[0]) if f.prompt == "hotline/zh/service-menu"]
    assert (fault.count, fault.hotline) == (stored.get("hotline/zh/service-menu", 0) + 1, "service")


def test_callback_offer_after_the_wait_limit_registers_a_callback(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "callback-offer?queue=complaints&hotline=service", ["1"], callerid="13700000001")
    assert r.prompts == ("hotline/zh/wait-limit", "hotline/zh/callback-offer", "hotline/zh/callback-registered",
                         "hotline/zh/goodbye")
    assert r.variables["IVR_NEXT"] == "hangup" and "IVR_QUEUE" not in r.variables
    path = r.variables["IVR_PATH"]
    assert path.startswith("wait_limit=complaints>case=C") and path.endswith(">callback>goodbye")
    with ivr_server.world.db.session() as s:
        case = get_case(s, int(r.variables["CASE_ID"]))
    assert case.kind == "inquiry" and case.subject == "IVR: 回电请求 callback request"
    assert "13700000001" in case.description and "complaints" in case.description


def test_callback_offer_declined_goes_back_to_the_same_queue(ivr_server: IvrServer) -> None:
    r = call(ivr_server, "callback-offer?queue=service&hotline=service&lang=en", [""], callerid=KEY_ACCOUNT_PHONE)
    assert r.prompts[:2] == ("hotline/en/wait-limit", "hotline/en/callback-offer")
    assert r.variables["IVR_PATH"] == "wait_limit=service>offer:timeout>agent=service"
    assert (r.variables["IVR_NEXT"], r.variables["IVR_QUEUE"], r.variables["QUEUE_PRIO"]) == ("queue", "service", "10")
    r = call(ivr_server, "callback-offer?queue=claims&hotline=claims", ["7"])
    assert r.variables["IVR_PATH"] == "wait_limit=claims>offer=7>agent=claims" and "CASE_ID" not in r.variables


def test_callback_offer_without_a_queue_or_with_a_caller_hanging_up_stores_nothing(ivr_server: IvrServer) -> None:
    before = ivr_server.server.stats().handler_errors
    r = call(ivr_server, "callback-offer?hotline=service", ["1"])
    assert r.server_closed and "IVR_NEXT" not in r.variables  # the dialplan sends the caller back to its queue
    assert ivr_server.server.stats().handler_errors == before + 1
    r = call(ivr_server, "callback-offer?queue=service", ["!"])
    assert r.hung_up and "CASE_ID" not in r.variables and "IVR_PATH" not in r.variables
