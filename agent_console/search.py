"""Transcript search (page and JSON API) and the shipment page a waybill heard in a call links to.

Who may search (security.CAPABILITIES): supervisors, inspectors (质检) and admins search every call;
an agent searches only the calls it talked on (the agent filter is forced to the agent itself, as
for recordings); claims staff do not search conversations (they read them on their cases). Bad
query syntax or filters give the reason (400), never a 500.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from agent_console.auth import current_user, requires
from agent_console.context import console
from agent_console.i18n import current_language, translate
from agent_console.security import allowed
from cases import search as case_search
from cases import segment, shipment_records
from cases.errors import DatabaseUnavailable, InvalidWaybill, ShipmentSourceError
from cases.local_time import CHINA_TZ
from cases.search import InvalidSearchQuery, SearchFilters, SearchResult
from cases.shipment_sources import ShipmentSource, find_via

log = logging.getLogger(__name__)

bp = Blueprint("search", __name__)
SHIPMENTS_KEY = "hotline.shipments"  # app.extensions: the ShipmentSource of create_app (None: the embedded table)
# load jieba's dictionary (≈ 1 s, ≈ 85 MB) when the app starts, not on the first search
bp.record_once(lambda _state: threading.Thread(target=segment.warm_up, name="jieba-warm-up", daemon=True).start())
PAGE_SIZE = 50
HOTLINES = ("service", "claims")
SPEAKERS = ("customer", "agent")


@dataclass(frozen=True, slots=True)
class SearchForm:
    q: str
    since: str  # YYYY-MM-DD, China Standard Time, first day
    until: str  # last day (inclusive)
    hotline: str
    agent: str
    speaker: str
    offset: int  # -1: not a number (refused by _filters)


class BadSearchRequest(Exception):
    """A filter value the console cannot use (the message is shown as is)."""


def _day(value: str, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadSearchRequest(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def _form() -> SearchForm:
    a = request.args
    offset = a.get("offset", "0").strip() or "0"
    return SearchForm(q=a.get("q", "").strip(), since=a.get("since", "").strip(), until=a.get("until", "").strip(),
                      hotline=a.get("hotline", "").strip(), agent=a.get("agent", "").strip(),
                      speaker=a.get("speaker", "").strip(), offset=int(offset) if offset.isdigit() else -1)


def _filters(form: SearchForm, role: str, username: str) -> SearchFilters:
    if form.offset < 0:
        raise BadSearchRequest(f"offset: {request.args.get('offset')!r} is not a number of hits to skip")
    since, until = _day(form.since, "since"), _day(form.until, "until")
    if form.hotline and form.hotline not in HOTLINES:
        raise BadSearchRequest(f"hotline must be one of {', '.join(HOTLINES)}")
    if form.speaker and form.speaker not in SPEAKERS:
        raise BadSearchRequest(f"speaker must be one of {', '.join(SPEAKERS)}")
    agent = form.agent or None
    if not allowed(role, "search_all_transcripts"):
        agent = username  # an agent's own calls only, whatever it asked for
    return SearchFilters(
        since=datetime.combine(since, datetime.min.time(), CHINA_TZ) if since else None,
        until=datetime.combine(until + timedelta(days=1), datetime.min.time(), CHINA_TZ) if until else None,
        hotline=form.hotline or None, agent=agent, speaker=form.speaker or None,
    )


def _run(form: SearchForm) -> SearchResult:
    user = current_user()
    assert user is not None  # requires() ran first
    filters = _filters(form, user.role, user.username)
    with console().db.reading() as s:
        return case_search.search_transcripts(s, form.q, filters, limit=PAGE_SIZE, offset=form.offset)


@bp.get("/search")
@requires("search_transcripts")
def page() -> ResponseReturnValue:
    form = _form()
    user = current_user()
    assert user is not None
    context: dict[str, Any] = {"form": form, "result": None, "error": None, "page_size": PAGE_SIZE,
                               "all_calls": allowed(user.role, "search_all_transcripts")}
    status = 200
    if form.q:
        try:
            context["result"] = _run(form)
        except (InvalidSearchQuery, BadSearchRequest) as exc:
            context["error"] = str(exc)
            status = 400
        except DatabaseUnavailable as exc:
            log.error("search failed: %s", exc)
            context["error"] = translate(current_language(), "search.err.database")
            status = 503
    return render_template("search.html", **context), status


@bp.get("/api/search")
@requires("search_transcripts")
def api() -> ResponseReturnValue:
    lang = current_language()
    try:
        form = _form()
        if not form.q:
            raise InvalidSearchQuery("the query is empty")
        result = _run(form)
    except (InvalidSearchQuery, BadSearchRequest) as exc:
        return {"error": "bad_query", "message": translate(lang, "search.err.query"), "detail": str(exc)}, 400
    except DatabaseUnavailable as exc:
        log.error("search failed: %s", exc)
        return {"error": "database_unavailable", "message": translate(lang, "search.err.database")}, 503
    return {
        "query": result.query.text,
        "offset": result.offset,
        "has_more": result.has_more,
        "elapsed_ms": result.elapsed_ms,
        "hits": [h.to_json_dict() for h in result.hits],
    }, 200


def _shipment_source() -> ShipmentSource | None:
    source: ShipmentSource | None = current_app.extensions.get(SHIPMENTS_KEY)
    return source


@bp.app_context_processor
def _waybill_links() -> dict[str, Any]:
    """Case pages link every heard waybill when shipments come from a transport-management system
    (we cannot tell from here whether it knows one); with the embedded table only known ones."""
    source = _shipment_source()
    return {"link_every_waybill": source is not None and source.name != "embedded"}


@bp.get("/shipments/<waybill>")
@requires("read_cases")
def shipment(waybill: str) -> ResponseReturnValue:
    source = _shipment_source()
    try:
        with console().db.reading() as s:
            view = find_via(source, s, waybill) if source is not None else shipment_records.find_shipment(s, waybill)
    except InvalidWaybill:
        abort(404)
    except ShipmentSourceError as exc:
        log.warning("shipment %s not looked up: %s", waybill, exc)
        abort(503)
    if view is None:
        abort(404)
    return render_template("shipment.html", shipment=view)
