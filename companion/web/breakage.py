"""Routes for "Page broken?" reports and the Global Privacy Control setting (issue 12).

API (behind the token, like every ``/api/`` route: security.py checks it before any route runs):

- ``POST /api/v1/breakage``    ``{"site": "news.example", "trackers": ["doubleclick.net", ...]}``: record a report
- ``GET  /api/v1/breakage``    the reports, newest first
- ``GET|PUT /api/v1/settings/gpc``  ``{"gpc": true|false}``: the extension's copy of its GPC setting

Pages (behind the history pages' session and CSRF checks, reused from pages.py):

- ``GET  /broken``             every report: when, which site, which trackers were blocked
- ``POST /broken/forget``      forget one report (``id``) or all (``all=yes``)

It also gives templates ``breakage_for(tracker)``: on how many reports (and sites) blocking it went
with a broken page, for the tracker's page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from .. import breakage as core
from ..domains import NotANetworkURL, site_of
from . import pages
from .api import BadRequest, json_body
from .security import json_error

api_bp = Blueprint("breakage_api", __name__, url_prefix="/api/v1")
bp = Blueprint("breakage_pages", __name__, url_prefix="/broken")
bp.before_request(pages._require_session)
bp.register_error_handler(pages.Refused, pages._refused)

GPC_SETTING = "gpc"


@api_bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return json_error(exc.status, exc.reason)


def _store():
    return current_app.extensions["crumbs"].store


def _domain(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 253:
        raise BadRequest(400, f"{what} must be a domain name")
    try:
        return site_of(value)
    except NotANetworkURL:
        raise BadRequest(400, f"{what} {value[:100]!r} is not a domain name") from None


# -- API -------------------------------------------------------------------------------------


@api_bp.post("/breakage")
def report_breakage():
    body = json_body()
    if not isinstance(body, dict) or set(body) - {"site", "trackers"}:
        raise BadRequest(400, "body must be {'site': DOMAIN, 'trackers': [DOMAIN, ...]}")
    site = _domain(body.get("site"), "'site'")
    trackers = body.get("trackers", [])
    if not isinstance(trackers, list):
        raise BadRequest(400, "'trackers' must be an array of domain names")
    if len(trackers) > core.MAX_TRACKERS:
        raise BadRequest(413, f"at most {core.MAX_TRACKERS} trackers per report")
    domains = [_domain(t, "each tracker") for t in trackers]
    report = core.add_report(_store(), site, [d for d in domains if d != site])
    response = jsonify({"ok": True, **report})
    response.status_code = 201
    return response


@api_bp.get("/breakage")
def list_breakage():
    return jsonify({"reports": core.reports(_store())})


@api_bp.route("/settings/gpc", methods=["GET", "PUT"])
def gpc_setting():
    store = _store()
    if request.method == "PUT":
        body = json_body()
        if not isinstance(body, dict) or set(body) != {"gpc"} or not isinstance(body["gpc"], bool):
            raise BadRequest(400, "send {'gpc': true|false}")
        store.set_setting(GPC_SETTING, "1" if body["gpc"] else "0")
    return jsonify({"gpc": store.get_setting(GPC_SETTING, "1") == "1"})


# -- pages -----------------------------------------------------------------------------------


@bp.get("")
def broken_page():
    return pages._render("breakage.html", reports=core.reports(_store()))


@bp.post("/forget")
def forget():
    if request.form.get("all") == "yes":
        core.forget(_store())
    else:
        raw = request.form.get("id", "")
        if not raw.isdigit():
            raise pages.Refused(400, "Forget which report?")
        core.forget(_store(), int(raw))
    return redirect(url_for("breakage_pages.broken_page"), 303)


def breakage_for(tracker: str) -> dict[str, int]:
    """Template helper: {'reports': N, 'sites': M} for a tracker's page."""
    return core.tracker_summary(_store(), tracker)


def init_app(app) -> None:
    app.register_blueprint(api_bp)
    app.register_blueprint(bp)
    app.add_template_global(breakage_for, "breakage_for")
