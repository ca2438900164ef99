"""Routes for "Page broken?" reports and the Global Privacy Control setting (issue 12).

API (behind the token, like every ``/api/`` route: security.py checks it before any route runs):

- ``POST /api/v1/breakage``    ``{"site": "news.example", "trackers": ["doubleclick.net", ...]}``: record a report
- ``GET  /api/v1/breakage``    the reports, newest first
- ``GET|PUT /api/v1/settings/gpc``  ``{"gpc": true|false}``: the extension's copy of its GPC setting

Pages (behind the history pages' session and CSRF checks, reused from pages.py):

- ``GET  /broken``             every report: when, which site, which trackers were blocked
- ``POST /broken/forget``      forget one report (``id``) or all (``all=yes``)

It also gives templates ``breakage_for(tracker)``: on how many reports (and sites) blocking it went
with a broken page, for the tracker's page. Every read and write goes through
:class:`companion.service.Companion`; what a report may hold is :mod:`companion.breakage`'s call.
"""

from __future__ import annotations


from flask import Blueprint, jsonify, redirect, request, url_for

from ..breakage import InvalidReport
from . import pages
from .api import BadRequest, companion, json_body
from .security import json_error

api_bp = Blueprint("breakage_api", __name__, url_prefix="/api/v1")
bp = Blueprint("breakage_pages", __name__, url_prefix="/broken")
bp.before_request(pages._require_session)
bp.register_error_handler(pages.Refused, pages._refused)

@api_bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return json_error(exc.status, exc.reason)


@api_bp.errorhandler(InvalidReport)
def _invalid_report(exc: InvalidReport):
    return json_error(exc.status, str(exc))


# -- API -------------------------------------------------------------------------------------


@api_bp.post("/breakage")
def report_breakage():
    report = companion().report_breakage(json_body())
    response = jsonify({"ok": True, **report})
    response.status_code = 201
    return response


@api_bp.get("/breakage")
def list_breakage():
    return jsonify({"reports": companion().breakage_reports()})


@api_bp.route("/settings/gpc", methods=["GET", "PUT"])
def gpc_setting():
    if request.method == "PUT":
        body = json_body()
        if not isinstance(body, dict) or set(body) != {"gpc"} or not isinstance(body["gpc"], bool):
            raise BadRequest(400, "send {'gpc': true|false}")
        companion().set_gpc(body["gpc"])
    return jsonify({"gpc": companion().gpc})


# -- pages -----------------------------------------------------------------------------------


@bp.get("")
def broken_page():
    return pages._render("breakage.html", reports=companion().breakage_reports())


@bp.post("/forget")
def forget():
    if request.form.get("all") == "yes":
        companion().forget_breakage()
    else:
        raw = request.form.get("id", "")
        if not raw.isdigit():
            raise pages.Refused(400, "Forget which report?")
        companion().forget_breakage(int(raw))
    return redirect(url_for("breakage_pages.broken_page"), 303)


def breakage_for(tracker: str) -> dict[str, int]:
    """Template helper: {'reports': N, 'sites': M} for a tracker's page."""
    return companion().breakage_for(tracker)


def init_app(app) -> None:
    app.register_blueprint(api_bp)
    app.register_blueprint(bp)
    app.add_template_global(breakage_for, "breakage_for")
