"""The history pages, served at the companion's own loopback address, for the person only.

Access: ``crumbs open`` or the extension's popup (``POST /api/v1/history-link``, token-protected)
makes a one-time code; ``GET /signin/<code>`` consumes it and sets an HttpOnly,
SameSite=Strict session cookie. Without a live session every page answers 401 with a page
saying how to sign in. Every POST needs the session's CSRF token and, when the browser
sends them, a same-origin ``Origin`` and ``Sec-Fetch-Site``. Codes and sessions are stored
hashed (see :mod:`companion.auth` and :mod:`companion.storage.sessions`).

Every value shown comes from URLs attackers control: templates autoescape, hrefs are built
with ``url_for`` (never from raw values), and the CSP (security.py) forbids inline script.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timezone
from typing import Any

from flask import (
    Blueprint, Response, current_app, g, jsonify, make_response, redirect, render_template, request, stream_with_context,
    url_for,
)

from ..sites import NotANetworkURL, PublicSuffix, site_of
from ..auth import SESSION_TTL_MS
from ..history import PERIODS, RETENTION_CHOICES, History, Period, day_to_iso, iso_to_day, period
from ..policy import TRUST_DURATIONS_MS
from ..storage import day_of, now_ms
from . import formatting
from .security import own_origin

COOKIE = "crumbs_session"
bp = Blueprint("pages", __name__)
api_bp = Blueprint("history_api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"pages.signin", "pages.signed_out"}


def history() -> History:
    app = current_app
    found = app.extensions.get("crumbs_history")
    companion = app.extensions["crumbs"]
    if found is None or found.store is not companion.store:
        found = app.extensions["crumbs_history"] = History(companion.store, companion.trackers)
    return found


def crumbs():
    """The :class:`companion.service.Companion`: every write of these pages goes through it."""
    return current_app.extensions["crumbs"]


# -- access -------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@bp.errorhandler(Refused)
def _refused(exc: Refused):
    return render_template("message.html", title="Refused", message=exc.reason, signed_in=False), exc.status


@bp.errorhandler(PublicSuffix)
def _public_suffix(exc: PublicSuffix):
    # A choice naming a public suffix, refused by the store: the same page as any other bad form value.
    return _refused(Refused(400, f"{exc}."))


@bp.before_request
def _require_session():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    csrf = crumbs().session_csrf(request.cookies.get(COOKIE))
    if csrf is None:
        return render_template("unauthorized.html", signed_in=False), 401
    g.csrf = csrf
    if request.method == "POST":
        _check_post(csrf)
    history().apply_retention_if_due()  # at most hourly; `crumbs serve` also runs it on its own (history/retention.py)
    return None


def _check_post(csrf: str) -> None:
    origin = request.headers.get("Origin")
    # With 'Referrer-Policy: no-referrer' browsers send 'Origin: null' even for our own forms, so
    # null proves nothing either way; Sec-Fetch-Site (below) and the CSRF token decide then.
    if origin is not None and origin != "null" and not own_origin(origin):
        raise Refused(403, "This form was sent from another web site; nothing was changed.")
    if request.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
        raise Refused(403, "This form was sent from another web site; nothing was changed.")
    given = request.form.get("csrf", "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), csrf.encode("ascii")):
        raise Refused(403, "This form is out of date (its security token does not match). Reload the page and try again.")


@bp.get("/signin/<code>")
def signin(code: str):
    opened = crumbs().redeem_signin_code(code)
    if opened is None:
        if crumbs().session_opened_by(request.cookies.get(COOKIE), code):
            # The tab still shows /signin/<code> and was reloaded: this browser signed in with it.
            return redirect(url_for("pages.overview"), 303)
        return render_template("unauthorized.html", signed_in=False, expired=True), 401
    session, _ = opened
    # A page, not a redirect: a SameSite=Strict cookie set on a navigation that came from elsewhere
    # (the popup) is only sent on the next same-site navigation, which the refresh below is.
    response = Response(render_template("signin.html", signed_in=False), 200)
    response.set_cookie(COOKIE, session, max_age=SESSION_TTL_MS // 1000, httponly=True, samesite="Strict",
                        path="/", secure=False)  # plain http on loopback: a Secure cookie would never be sent back
    return response


@bp.post("/signout")
def signout():
    crumbs().end_session(request.cookies.get(COOKIE))
    response = redirect(url_for("pages.signed_out"), 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    return response


@bp.get("/signed-out")
def signed_out():
    return render_template("message.html", title="Signed out", signed_in=False,
                           message="You are signed out of your Crumbs history on this browser.")


@api_bp.post("/history-link")
def history_link():
    """A one-time sign-in link for the popup (this route is behind the API token, like every /api/ route)."""
    code = crumbs().new_signin_code()
    return jsonify({"url": f"http://127.0.0.1:{current_app.config['PORT']}/signin/{code}"})


# -- helpers for templates ----------------------------------------------------------------


# A tracker's or company's page lists its busiest sites first, all of them on request: over a year
# Google's page had 4,399 rows (1.7 MB of HTML), most of a 250 ms page at ten million requests.
SITES_SHOWN = 100


def _sites_shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The site rows to draw: the busiest SITES_SHOWN (rows come busiest first), or every one with ?all=1."""
    return rows if request.args.get("all") == "1" else rows[:SITES_SHOWN]


def _period() -> Period:
    return period(request.args.get("p"))


def _render(template: str, **context: Any) -> str:
    return render_template(template, csrf=g.get("csrf"), signed_in=True, periods=PERIODS, **context)


def _safe_next(default: str) -> str:
    target = request.form.get("next") or request.args.get("next") or default
    # Only our own paths: never an absolute URL or '//host' (open redirect). Control characters and
    # spaces are refused too: browsers drop tabs and newlines from URLs (and Werkzeug dropped the tab
    # of '/\t/evil.example' from Location), which turned a checked path into '//evil.example'.
    if not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(c <= " " or c == "\x7f" for c in target):
        return default
    return target


def _domain(value: str | None, what: str) -> str:
    try:
        return site_of(value or "")
    except NotANetworkURL:
        raise Refused(400, f"That {what} is not a domain name.") from None


# -- pages --------------------------------------------------------------------------------


@bp.get("/")
def overview():
    from . import svg

    p = _period()
    # Every company can be seen: the busiest twelve first, all of them on request (none silently cut).
    show_all = request.args.get("all") == "1"
    h = history()
    page = h.overview_page(p, None if show_all else 12)
    response = make_response(_render(
        "overview.html", period=p, figures=page["figures"], reach=page["reach"], reach_total=page["reach_total"],
        chart=svg.timeline(page["timeline"], day_to_iso), bar=svg.bar,
    ))
    if page["from_sql"]:  # the first overview since start (or a change): the other pages' sums, once it is sent
        response.call_on_close(lambda: h.warm(p))
    return response


@bp.get("/site/<path:site>")
def site(site: str):
    p = _period()
    h = history()
    report = h.site(site, p)
    if report is None:
        return _render("message.html", title="Not in your history",
                       message="This site is not in your history (or it has been forgotten)."), 404
    choices = current_app.extensions["crumbs"].choices()
    now = now_ms()
    trusted_until = choices.trusted.get(site) if choices.is_trusted(site, now) else None
    return _render("site.html", period=p, report=report, choices=choices, trusted=choices.is_trusted(site, now),
                   trusted_until=trusted_until, retention=h.retention_days())


@bp.get("/tracker/<path:domain>")
def tracker(domain: str):
    p = _period()
    report = history().tracker(domain, p)
    if report is None:
        return _render("message.html", title="Not in your history",
                       message="This tracker is not in your history (or it has been forgotten)."), 404
    choices = current_app.extensions["crumbs"].choices()
    return _render("tracker.html", period=p, report=report, everywhere=choices.everywhere.get(domain),
                   shown=_sites_shown(report["sites"]),
                   category=history()._category_meta(report["info"].category if report["info"] else None))


@bp.get("/company/<path:owner>")
def company(owner: str):
    p = _period()
    report = history().company(owner, p)
    if report is None:
        return _render("message.html", title="Not in your history",
                       message="No tracker of this company is in your history."), 404
    return _render("company.html", period=p, report=report, shown=_sites_shown(report["sites"]))


@bp.get("/map")
def site_map():
    from . import svg

    p = _period()
    h = history()
    data = h.graph(h.snapshot(p))
    return _render("map.html", period=p, data=data, drawing=svg.graph(data, p.key))


@bp.get("/search")
def search():
    p = _period()
    h = history()
    q, category, state = (request.args.get(k, "")[:200] for k in ("q", "category", "state"))
    number = request.args.get("page", "1")
    result = h.search(h.snapshot(p), q, category, state,
                      page=int(number) if number.isascii() and number.isdecimal() and len(number) < 7 else 1)
    cats = sorted((h.trackers.categories or {}).items())
    return _render("search.html", period=p, q=q, category=category, state=state, result=result, categories=cats)


@bp.get("/learn")
def learn():
    p = _period()
    h = history()
    snap = h.snapshot(p)
    cats = h.trackers.categories or {}
    return _render("learn.html", period=p, figures=h.overview(snap), reach=h.reach(snap, 3),
                   mine={m["category"]: m for m in h.categories(snap)}, categories=cats)


# -- choices ------------------------------------------------------------------------------


@bp.get("/choices")
def choices_page():
    listed = crumbs().list_choices()
    return _render("choices.html", listed=listed, imported=request.args.get("imported"))


@bp.post("/choice")
def set_choice():
    """One control of any page: allow/block a tracker here or everywhere, reset it, trust a site."""
    s = crumbs()
    kind = request.form.get("kind")
    action = request.form.get("action")
    if kind == "site_tracker":
        if action not in ("allow", "block", "reset"):
            raise Refused(400, "Unknown choice.")
        s.set_site_tracker(_domain(request.form.get("site"), "site"), _domain(request.form.get("tracker"), "tracker"),
                           None if action == "reset" else action)
    elif kind == "everywhere":
        if action not in ("allow", "block", "reset"):
            raise Refused(400, "Unknown choice.")
        s.set_tracker(_domain(request.form.get("tracker"), "tracker"), None if action == "reset" else action)
    elif kind == "trust":
        if action != "revoke" and action not in TRUST_DURATIONS_MS:
            raise Refused(400, "Unknown trust duration.")
        s.set_trust(_domain(request.form.get("site"), "site"), None if action == "revoke" else action)
    else:
        raise Refused(400, "Unknown choice.")
    return redirect(_safe_next(url_for("pages.choices_page")), 303)


@bp.get("/choices/export.json")
def export_choices():
    body = json.dumps(crumbs().list_choices(), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="crumbs-choices.json"'})


@bp.post("/choices/import")
def import_choices():
    upload = request.files.get("file")
    text = upload.read(1_000_000).decode("utf-8", "replace") if upload and upload.filename else request.form.get("json", "")
    try:
        count = history().import_choices(json.loads(text))
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"Nothing was imported: {str(exc)[:200]}") from None
    return redirect(url_for("pages.choices_page", imported=count), 303)


# -- your data ----------------------------------------------------------------------------


@bp.get("/data")
def data_page():
    counts, oldest, oldest_day = crumbs().store.data_summary()
    h = history()
    return _render("data.html", counts=counts, oldest=oldest, oldest_day=oldest_day, retention=h.retention_days(),
                   retention_choices=RETENTION_CHOICES, today=day_to_iso(day_of(now_ms())))


@bp.get("/data/export.json")
def export_json():
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(history().export_json()), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="crumbs-history-{stamp}.json"'})


@bp.get("/data/export.csv")
def export_csv():
    table = "daily" if request.args.get("table") == "daily" else "requests"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(history().export_csv(table)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="crumbs-{table}-{stamp}.csv"'})


def _forget_target() -> tuple[str, str, Any]:
    """(what, description, action) for the forget form's fields; refuses anything malformed."""
    what = request.form.get("what")
    h = history()
    if what == "site":
        name = _domain(request.form.get("site"), "site")
        return what, f"everything recorded on the site {name}", lambda: h.forget_site(name)
    if what == "tracker":
        name = _domain(request.form.get("tracker"), "tracker")
        return what, f"every request to {name}, on every site", lambda: h.forget_tracker(name)
    if what == "period":
        try:
            first, last = iso_to_day(request.form.get("from", "")), iso_to_day(request.form.get("to", ""))
        except ValueError as exc:
            raise Refused(400, str(exc)) from None
        if last < first:
            raise Refused(400, "The period ends before it starts.")
        return what, f"everything recorded from {day_to_iso(first)} to {day_to_iso(last)} (days in this computer's time zone, both included)", \
            lambda: h.forget_days(first, last)
    if what == "everything":
        return what, "your whole history (your choices are kept)", h.forget_everything
    raise Refused(400, "Forget what?")


@bp.post("/data/forget")
def forget():
    what, description, action = _forget_target()
    if request.form.get("confirm") != "yes":
        # First step: say exactly what will go, and ask again.
        return _render("confirm.html", what=what, description=description, fields={
            k: v for k, v in request.form.items() if k in ("what", "site", "tracker", "from", "to")
        })
    removed = action()
    return _render("forgotten.html", description=description, removed=removed)


@bp.post("/data/retention")
def set_retention():
    try:
        history().set_retention_days(request.form.get("days", ""))
    except ValueError as exc:
        raise Refused(400, str(exc)) from None
    removed = history().apply_retention()
    return _render("forgotten.html", description="request detail older than the retention period",
                   removed=removed, retention=True)


def init_app(app) -> None:
    """Register the pages and the popup's sign-in link route."""
    formatting.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
