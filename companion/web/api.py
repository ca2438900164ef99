"""The extension's JSON API under ``/api/v1`` (see ``openapi.py`` for the whole contract)."""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .. import __version__, auth
from ..config import HOST
from ..peers import peer_uid
from ..sites import NotANetworkURL, PublicSuffix, site_of
from ..policy import ACTIONS, TRUST_DURATIONS_MS
from ..service import MAX_BATCH, Companion
from .openapi import openapi_document
from .security import is_extension_origin, json_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")

class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return json_error(exc.status, exc.reason)


@bp.errorhandler(PublicSuffix)
def _public_suffix(exc: PublicSuffix):
    # Refused by the store's one upsert (a choice's site or tracker), whichever route asked.
    return json_error(400, str(exc))


def companion() -> Companion:
    return current_app.extensions["crumbs"]


def json_body() -> Any:
    """The request's JSON, strictly: ``application/json`` only (no CSRF by form posts), depth-limited."""
    if request.mimetype != "application/json":
        raise BadRequest(415, "send the body as Content-Type: application/json")
    raw = request.get_data(cache=False)
    try:
        # orjson refuses nesting deeper than 255 levels and invalid UTF-8; the size cap bounds the
        # rest, and every field is then checked for its type, so nothing odd reaches the core.
        return current_app.json.loads(raw)
    except ValueError as exc:
        raise BadRequest(400, f"body is not valid JSON: {str(exc)[:120]}") from None


def domain_arg(value: str, what: str) -> str:
    """A site or tracker given in a path: a host name or URL, reduced to its registrable domain."""
    try:
        return site_of(value)
    except NotANetworkURL as exc:
        raise BadRequest(400, f"{what} {value[:100]!r} is not a domain: {exc}") from None


def rules_version() -> str:
    return current_app.extensions["crumbs_dnr"].version()


# -- health and pairing ------------------------------------------------------------------


@bp.get("/health")
def health():
    response = jsonify({"status": "ok", "version": __version__})
    nonce = request.headers.get("X-Crumbs-Challenge")
    if nonce is not None:  # present but empty is a malformed challenge too, not "no challenge"
        if not (16 <= len(nonce) <= 64 and all(c in "0123456789abcdefABCDEF" for c in nonce)):
            return json_error(400, "X-Crumbs-Challenge must be 16 to 64 hex characters")
        # Bound to the Host the client dialled (security.py already refused any other than ours) and to
        # its Origin, so a relay on another port cannot pass our proof off as its own (auth.proof).
        response.headers["X-Crumbs-Proof"] = auth.proof(companion().token, nonce, request.host,
                                                        request.headers.get("Origin", ""))
    return response


@bp.post("/pair")
def pair():
    origin = request.headers.get("Origin")
    if not is_extension_origin(origin):
        return json_error(403, "pairing is done from the Crumbs extension only")
    body = json_body()
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not re.fullmatch(r"[0-9]{%d}" % auth.PAIRING_CODE_DIGITS, code):
        return json_error(400, "'code' must be the 8 digits shown by 'crumbs serve' or 'crumbs pair'")
    # Tries are counted per user owning the asking socket (companion/peers.py): another user's guesser
    # uses up its own budget, never the person's browser's.
    remote_port = str(request.environ.get("REMOTE_PORT") or "")
    who = peer_uid(request.remote_addr or "", int(remote_port) if remote_port.isdigit() else 0,
                   HOST, int(current_app.config["PORT"]))
    wait = current_app.extensions["crumbs_pairing"].take(who)
    if wait:  # too many tries just now: this one is not even checked, and no code is harmed
        response = json_error(429, f"too many pairing tries just now; try again in {math.ceil(wait)} s")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    if not companion().redeem_pairing_code(code):
        return json_error(403, "wrong or expired pairing code: run 'crumbs pair' for a new one")
    port = current_app.config["PORT"]
    return jsonify({"companion": f"http://127.0.0.1:{port}", "token": companion().token})


@bp.post("/pairing-code")
def pairing_code():
    """A new pairing code for another browser: 'crumbs pair' asks the running companion (the token holder)."""
    if is_extension_origin(request.headers.get("Origin")):
        return json_error(403, "pairing codes are made by 'crumbs pair' in a terminal, not by an extension")
    return jsonify({"code": companion().new_pairing_code(), "expires_in": auth.PAIRING_CODE_TTL_MS // 1000}), 201


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app.config["PORT"]))


# -- events ------------------------------------------------------------------------------


# The verdict fields the extension reads from a short answer (extension/src/facts.js, badgestate.js),
# and the facts about a domain it keeps per host, sent once per domain of the batch in 'about'.
SHORT_VERDICT = ("host", "domain", "page_domain", "third_party", "tracker", "blocked", "decided_by", "filter", "list",
                 "exception")
ABOUT_DOMAIN = ("owner", "category_label", "description")
ANSWERS = ("full", "short")


def short_results(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The short answer's results and 'about': each verdict cut to :data:`SHORT_VERDICT`, and the owner,
    category and description of each domain once (a batch names a few dozen domains for a hundred
    events, and a description is the longest text of a verdict)."""
    short: list[dict[str, Any]] = []
    about: dict[str, dict[str, Any]] = {}
    for result in results:
        v = result.get("verdict")
        if v is None:
            short.append(result)
            continue
        domain = v.domain
        short.append({"ok": True, "verdict": {
            "host": v.host, "domain": domain, "page_domain": v.page_domain, "third_party": v.third_party,
            "tracker": v.tracker, "blocked": v.blocked, "decided_by": v.decided_by, "filter": v.filter,
            "list": v.list, "exception": v.exception}})
        if domain not in about and (v.owner is not None or v.category_label is not None or v.description is not None):
            about[domain] = {"owner": v.owner, "category_label": v.category_label, "description": v.description}
    return short, about


@bp.post("/events")
def events():
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadRequest(400, "body must be an object with an 'events' array")
    batch = body["events"]
    if len(batch) > MAX_BATCH:
        raise BadRequest(413, f"at most {MAX_BATCH} events per batch")
    answer = body.get("answer", "full")
    if answer not in ANSWERS:
        raise BadRequest(400, "'answer' must be 'full' (every verdict field) or 'short' (what the extension reads)")
    # The rules version first: working it out may fail (a damaged page under the filters it counts), and
    # a failure must come before the batch is recorded, never after (a 503 says nothing was kept).
    version = rules_version()
    results, tabs = companion().report(batch)
    if answer == "short":
        results, about = short_results(results)
        return jsonify({"results": results, "about": about, "tabs": tabs, "rules_version": version})
    return jsonify({"results": results, "tabs": tabs, "rules_version": version})


@bp.post("/check")
def check():
    """Classify one request without recording it (what ``crumbs check`` prints)."""
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise BadRequest(400, "body must be an object with a 'url' string")
    page, rtype = body.get("page_url"), body.get("type", "other")
    if (page is not None and not isinstance(page, str)) or not isinstance(rtype, str):
        raise BadRequest(400, "'page_url' and 'type' must be strings")
    try:
        verdict = companion().check(body["url"], page, rtype)
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None
    return jsonify(verdict.to_dict())


# -- the browser's rules -----------------------------------------------------------------


@bp.get("/dnr")
def dnr():
    version, rules = current_app.extensions["crumbs_dnr"].get()
    etag = f'"{version}"'
    if request.headers.get("If-None-Match") == etag:
        response = Response(status=304)
    else:
        response = jsonify({"version": version, "rules": rules})
    response.headers["ETag"] = etag
    return response


# -- sites and choices -------------------------------------------------------------------


@bp.get("/sites/<site>")
def site(site: str):
    return jsonify(companion().site_report(domain_arg(site, "site")))


@bp.get("/choices")
def choices():
    return jsonify(companion().list_choices())


def _action_body() -> str:
    body = json_body()
    action = body.get("action") if isinstance(body, dict) else None
    if action not in ACTIONS:
        raise BadRequest(400, f"'action' must be one of {', '.join(ACTIONS)}")
    return action


def _changed(**extra: Any):
    current_app.extensions["crumbs_dnr"].invalidate()
    return jsonify({"ok": True, **extra, "rules_version": rules_version()})


@bp.route("/choices/sites/<site>/trackers/<tracker>", methods=["PUT", "DELETE"])
def site_tracker_choice(site: str, tracker: str):
    site, tracker = domain_arg(site, "site"), domain_arg(tracker, "tracker")
    action = _action_body() if request.method == "PUT" else None
    companion().set_site_tracker(site, tracker, action)
    return _changed(site=site, tracker=tracker, action=action)


@bp.route("/choices/trackers/<tracker>", methods=["PUT", "DELETE"])
def tracker_choice(tracker: str):
    tracker = domain_arg(tracker, "tracker")
    action = _action_body() if request.method == "PUT" else None
    companion().set_tracker(tracker, action)
    return _changed(tracker=tracker, action=action)


@bp.route("/choices/trust/<site>", methods=["PUT", "DELETE"])
def trust(site: str):
    site = domain_arg(site, "site")
    duration = None
    if request.method == "PUT":
        body = json_body()
        duration = body.get("duration") if isinstance(body, dict) else None
        if duration not in TRUST_DURATIONS_MS:
            raise BadRequest(400, f"'duration' must be one of {', '.join(TRUST_DURATIONS_MS)}")
    until = companion().set_trust(site, duration)
    return _changed(site=site, trusted=duration is not None, until=until)


@bp.route("/settings", methods=["GET", "PUT"])
def settings():
    crumbs = companion()
    if request.method == "PUT":
        body = json_body()
        if not isinstance(body, dict) or set(body) - {"report_only"} or not isinstance(body.get("report_only"), bool):
            raise BadRequest(400, "settings accepts {'report_only': true|false}")
        crumbs.set_report_only(body["report_only"])
        return _changed(report_only=body["report_only"])
    return jsonify({"report_only": crumbs.report_only})
