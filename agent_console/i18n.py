"""Every user-visible string of the console, in zh-CN (default) and English: the catalogues merged from
the console's own strings (`agent_console.i18n_console`, `agent_console.i18n_wallboard`) and each
feature's module (i18n_cases, i18n_claims ...), and the look-up (`translate`, `current_language`).

Templates call `t("key")`; the pages' JavaScript gets the same table as JSON
(`<script id="i18n" type="application/json">`), so both sides speak the same words.
The Chinese terms follow the centre's service standard (咨询, 查询, 投诉, 理赔, 运单 ...).
"""

from __future__ import annotations

from flask import current_app, request, session

from agent_console.config import LANGUAGES
from agent_console.i18n_cases import CASES_EN, CASES_ZH
from agent_console.i18n_changes import CHANGES_EN, CHANGES_ZH
from agent_console.i18n_claims import CLAIMS_EN, CLAIMS_ZH
from agent_console.i18n_console import CONSOLE_EN, CONSOLE_ZH
from agent_console.i18n_incidents import INCIDENTS_EN, INCIDENTS_ZH
from agent_console.i18n_intake import INTAKE_EN, INTAKE_ZH
from agent_console.i18n_live import LIVE_EN, LIVE_ZH_CN
from agent_console.i18n_referrals import REFERRALS_EN, REFERRALS_ZH
from agent_console.i18n_reports import REPORTS_EN, REPORTS_ZH
from agent_console.i18n_wallboard import WALLBOARD_EN, WALLBOARD_ZH

ZH_CN: dict[str, str] = {**CONSOLE_ZH, **WALLBOARD_ZH}  # the base (agent_console.i18n_console), then:
EN: dict[str, str] = {**CONSOLE_EN, **WALLBOARD_EN}

ZH_CN.update(CASES_ZH)  # claims, inspection and branch consoles
EN.update(CASES_EN)
ZH_CN.update(REFERRALS_ZH)  # referrals to every department, 验证, 回访 (after CASES: replaces some)
EN.update(REFERRALS_EN)
ZH_CN.update(LIVE_ZH_CN)  # the live transcript pane and live-call view
EN.update(LIVE_EN)
ZH_CN.update(REPORTS_ZH)  # the reports page's analysis and suggestions
EN.update(REPORTS_EN)
ZH_CN.update(INTAKE_ZH)  # the pop's intake (agent_console.i18n_intake)
EN.update(INTAKE_EN)
ZH_CN.update(CHANGES_ZH)  # consignee changes decided, the callbacks after (issue #17)
EN.update(CHANGES_EN)
ZH_CN.update(CLAIMS_ZH)  # claims on time: deadlines, overdue list, endings, what each party owes
EN.update(CLAIMS_EN)
ZH_CN.update(INCIDENTS_ZH)  # incidents (突发事件), rewards and penalties (奖罚)
EN.update(INCIDENTS_EN)

STRINGS: dict[str, dict[str, str]] = {"zh-CN": ZH_CN, "en": EN}

_SESSION_KEY = "lang"


def translate(lang: str, key: str) -> str:
    """The string for `key` in `lang`; falls back to zh-CN, then to the key itself."""
    return STRINGS.get(lang, ZH_CN).get(key) or ZH_CN.get(key) or key


def current_language() -> str:
    """`?lang=` (remembered in the session) beats the session, which beats the configured default."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session[_SESSION_KEY] = asked
        return asked
    remembered = session.get(_SESSION_KEY)
    if isinstance(remembered, str) and remembered in LANGUAGES:
        return remembered
    default: str = current_app.config["HOTLINE_DEFAULT_LANGUAGE"]
    return default


def other_language(lang: str) -> str:
    return "en" if lang == "zh-CN" else "zh-CN"
