"""What stands between the companion and every web page the person visits.

A web page can make the browser send requests to 127.0.0.1, so each check here closes
an attack that has happened to real local servers (see README, "Security"):

- **DNS rebinding**: a request whose Host is not our own loopback address and port is
  refused (403) before any route runs, static files and errors included.
- **Authentication**: every API call except health and pairing carries
  ``Authorization: Bearer TOKEN``, compared in constant time. A token in the URL is refused
  outright (URLs end up in logs and Referer headers).
- **Cross-origin reads and CSRF**: only extension origins get CORS headers; a request that
  carries a web page's Origin is refused; JSON bodies must say ``application/json``
  (a "simple" cross-site form post can't), which with the custom Authorization header
  forces a preflight that web origins fail.
- **Headers** on every answer: ``Cache-Control: no-store``, ``X-Content-Type-Options:
  nosniff``, ``X-Frame-Options: DENY``, a CSP without inline script, ``Referrer-Policy:
  no-referrer``.
- **Errors** are JSON with a reason; an unexpected exception is logged without request
  data and answered with a plain 500, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..auth import tokens_equal

log = logging.getLogger("crumbs.web")

PUBLIC_API = {"/api/v1/health", "/api/v1/pair"}
EXTENSION_SCHEMES = ("chrome-extension://", "moz-extension://")
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " \
      "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
# On every answer, the app's and the HTTP server's own refusals alike (web/server.py).
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", CSP),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


def json_error(status: int, reason: str, **extra: Any):
    response = jsonify({"error": reason, **extra})
    response.status_code = status
    return response


def allowed_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


def is_extension_origin(origin: str | None) -> bool:
    """An origin only a browser extension has: a web page can never send one.

    Chromium's must be ours (the manifest's key fixes the id). Firefox gives every install a
    random UUID that the companion cannot know in advance, so any ``moz-extension://`` origin
    counts; what authenticates a call is the token, which no other extension has. (Pinning the
    origin at pairing would break the promise that writing the two storage keys pairs the
    extension.)
    """
    if not origin:
        return False
    if origin.startswith("chrome-extension://"):
        return origin[len("chrome-extension://"):] in current_app.config["EXTENSION_IDS"]
    return origin.startswith("moz-extension://") and len(origin) > len("moz-extension://")


def own_origin(origin: str) -> bool:
    port = current_app.config["PORT"]
    return origin in {f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"}


def _check_host():
    host = request.host.lower()
    if host not in allowed_hosts(current_app.config["PORT"]):
        return json_error(403, "this server answers only to its own loopback address")
    return None


def _check_origin():
    origin = request.headers.get("Origin")
    if origin and origin != "null" and not is_extension_origin(origin) and not own_origin(origin):
        return json_error(403, "cross-origin requests from web pages are refused")
    if origin == "null":
        return json_error(403, "cross-origin requests from opaque origins are refused")
    return None


def _check_auth():
    # Any spelling (?TOKEN=, ?access_token=): a client that put the token in a URL has leaked it to
    # logs and history whatever the name, so it is refused rather than quietly accepted.
    if any("token" in key.lower() for key in request.args):
        return json_error(400, "never put the token in a URL; send it as 'Authorization: Bearer TOKEN'")
    if request.path in PUBLIC_API:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return json_error(401, "missing 'Authorization: Bearer TOKEN' (run 'crumbs token' or pair the extension)")
    if not tokens_equal(given.strip(), current_app.extensions["crumbs"].token):
        return json_error(401, "wrong token")
    if is_extension_origin(request.headers.get("Origin")):  # a browser holds the token: no code at next start
        current_app.extensions["crumbs"].note_extension_call()
    return None


def _before_request():
    refused = _check_host()
    if refused is not None:
        return refused
    if request.path.startswith("/api/"):
        if request.method == "OPTIONS":  # a CORS preflight carries no credentials; headers are added below
            if is_extension_origin(request.headers.get("Origin")):
                return current_app.response_class(status=204)
            return json_error(403, "cross-origin requests from web pages are refused")
        for check in (_check_origin, _check_auth):
            refused = check()
            if refused is not None:
                return refused
    g.crumbs_checked = True
    return None


def _after_request(response):
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        if name == "Content-Security-Policy":
            headers.setdefault(name, value)  # a page may set a stricter one of its own
        else:
            headers[name] = value
    origin = request.headers.get("Origin")
    if request.path.startswith("/api/") and is_extension_origin(origin):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
        headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Crumbs-Challenge, If-None-Match"
        headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
        headers["Access-Control-Expose-Headers"] = "ETag, X-Crumbs-Proof"
        headers["Access-Control-Max-Age"] = "600"
    return response


def _http_error(exc: HTTPException):
    if exc.code == 413:
        return json_error(413, "request body too large")
    return json_error(exc.code or 500, exc.description or exc.name)


def _unexpected(exc: Exception):
    log.error("internal error in %s: %s", request.endpoint, type(exc).__name__)
    return json_error(500, "internal error")


def init_app(app: Flask) -> None:
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
