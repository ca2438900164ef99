"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Kept next to the routes it describes; a test checks that every API route appears here.
"""

from __future__ import annotations

from typing import Any

from .. import __version__

_VERDICT = {
    "type": "object",
    "description": "A request's explained verdict: the same object in the API and in 'crumbs check --json'.",
    "properties": {
        "url": {"type": "string"},
        "type": {"type": "string"},
        "host": {"type": "string", "description": "request host, lower case, punycode"},
        "domain": {"type": "string", "description": "registrable domain of the request"},
        "page_domain": {"type": ["string", "null"], "description": "registrable domain of the page; null: unknown"},
        "third_party": {"type": "boolean"},
        "same_owner": {"type": "boolean", "description": "third party owned by the page's own company"},
        "tracker": {"type": "boolean", "description": "a filter list blocks it, it is third-party and not same-owner"},
        "owner": {"type": ["string", "null"]},
        "category": {"type": ["string", "null"]},
        "category_label": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "learns": {"type": ["string", "null"], "description": "what this category of tracker can learn about a person"},
        "filter": {"type": ["string", "null"], "description": "the filter that decided the lists' answer"},
        "list": {"type": ["string", "null"]},
        "exception": {"type": "boolean", "description": "filter is an @@ exception that overrode a block"},
        "overridden_filter": {"type": ["string", "null"]},
        "blocked": {"type": "boolean"},
        "decided_by": {
            "enum": ["site-tracker", "site-trust", "tracker-everywhere", "list-default", "report-only", "not-a-tracker"]
        },
        "surrogate": {"type": ["string", "null"],
                      "description": "the stand-in script the browser serves instead of this blocked script "
                                     "(e.g. 'google-analytics'); null: none"},
    },
}
_EVENT = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "maxLength": 8192},
        "page_url": {"type": ["string", "null"], "description": "top-level page; null when the browser gave none"},
        "type": {"type": "string", "description": "webRequest ResourceType", "default": "other"},
        "tab_id": {"type": "integer"},
        "time": {"type": "integer", "description": "epoch milliseconds"},
        "browser_blocked": {"type": "boolean", "description": "the browser's rules blocked it"},
    },
}
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
_CHANGED = {"type": "object", "properties": {"ok": {"type": "boolean"}, "rules_version": {"type": "string"}}}


def _op(summary: str, response: dict[str, Any] | None = None, body: dict[str, Any] | None = None,
        public: bool = False, errors: tuple[int, ...] = (400, 401, 403)) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": response or {}}}}},
    }
    for code in errors:
        op["responses"][str(code)] = {"description": "refused", "content": {"application/json": {"schema": _ERROR}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if public:
        op["security"] = []
    return op


def _action(values: list[str], key: str = "action") -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {"enum": values}}}


def openapi_document(port: int) -> dict[str, Any]:
    site = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}
    tracker = {"name": "tracker", "in": "path", "required": True, "schema": {"type": "string"}}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Crumbs companion",
            "version": __version__,
            "description": "Local API of the Crumbs companion. Loopback only; every call but health and pair needs "
            "'Authorization: Bearer TOKEN'. Sites and trackers are registrable domains.",
        },
        "servers": [{"url": f"http://127.0.0.1:{port}/api/v1"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Verdict": _VERDICT, "Event": _EVENT, "Error": _ERROR},
        },
        "security": [{"token": []}],
        "paths": {
            "/health": {"get": _op("Liveness and version. With X-Crumbs-Challenge, answers X-Crumbs-Proof "
                                   "= hex HMAC-SHA256(token, 'crumbs-proof-v2\\n' + nonce + '\\n' + Host + '\\n' + Origin), "
                                   "Origin being '' when none was sent.", public=True, errors=(400,))},
            "/pair": {"post": _op("Trade a pairing code for the token (extension origins only).",
                                  {"type": "object", "properties": {"companion": {"type": "string"},
                                                                    "token": {"type": "string"}}},
                                  {"type": "object", "properties": {"code": {"type": "string"}}}, public=True)},
            "/openapi.json": {"get": _op("This document.")},
            "/events": {"post": _op(
                "Classify, decide and record up to 1000 requests. Invalid events are refused one by one.",
                {"type": "object", "properties": {
                    "results": {"type": "array", "items": {"type": "object", "properties": {
                        "ok": {"type": "boolean"}, "verdict": {"$ref": "#/components/schemas/Verdict"},
                        "error": {"type": "string"}}}},
                    "tabs": {"type": "object", "description": "per tab id: distinct tracker domains in this batch "
                             "and how many were blocked", "additionalProperties": {"type": "object"}},
                    "rules_version": {"type": "string"}}},
                {"type": "object", "required": ["events"], "properties": {
                    "events": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/Event"}}}},
                errors=(400, 401, 403, 413, 415))},
            "/check": {"post": _op("Classify one request without recording it.",
                                   {"$ref": "#/components/schemas/Verdict"},
                                   {"type": "object", "required": ["url"], "properties": {
                                       "url": {"type": "string"}, "page_url": {"type": "string"},
                                       "type": {"type": "string"}}})},
            "/dnr": {"get": _op("The browser's declarativeNetRequest rules; ETag is the version, "
                                "If-None-Match answers 304.",
                                {"type": "object", "properties": {"version": {"type": "string"},
                                                                  "rules": {"type": "array"}}})},
            "/sites/{site}": {"get": {**_op("Every third party seen on a site with owner, category, counts "
                                            "and the current choice; 'stand_ins' names the stand-in scripts "
                                            "served for its blocked scripts."), "parameters": [site]}},
            "/choices": {"get": _op("Every choice: site+tracker, tracker everywhere, trusted sites.")},
            "/choices/sites/{site}/trackers/{tracker}": {
                "parameters": [site, tracker],
                "put": _op("Allow or block a tracker on one site.", _CHANGED, _action(["allow", "block"])),
                "delete": _op("Back to the default for this tracker on this site.", _CHANGED),
            },
            "/choices/trackers/{tracker}": {
                "parameters": [tracker],
                "put": _op("Allow or block a tracker on every site.", _CHANGED, _action(["allow", "block"])),
                "delete": _op("Back to the default for this tracker everywhere.", _CHANGED),
            },
            "/choices/trust/{site}": {
                "parameters": [site],
                "put": _op("Trust a site (nothing blocked there) for an hour, a day or always.", _CHANGED,
                           _action(["hour", "day", "always"], "duration")),
                "delete": _op("Stop trusting a site.", _CHANGED),
            },
            "/history-link": {"post": _op(
                "A one-time link that opens the history page signed in (for the extension's popup).",
                {"type": "object", "properties": {"url": {"type": "string"}}})},
            "/lists": {
                "get": _op("Every filter list: source, enabled, filters used/skipped/rejected, updated, expiry, "
                           "last error.", {"type": "object", "properties": {"lists": {"type": "array"}}}),
                "post": _op("Subscribe to a list: a known name (easylist, easyprivacy) or an http(s) URL; "
                            "downloads it now.", {"type": "object"},
                            {"type": "object", "required": ["source"], "properties": {
                                "source": {"type": "string"}, "name": {"type": "string"}}},
                            errors=(400, 401, 403, 409, 422)),
            },
            "/lists/update": {"post": _op("Update every list now (conditional requests; force=true ignores "
                                          "freshness).", {"type": "object"},
                                          {"type": "object", "properties": {"force": {"type": "boolean"}}})},
            "/lists/{name}": {
                "parameters": [name],
                "get": _op("One list.", {"type": "object"}, errors=(401, 403, 404)),
                "put": _op("Enable or disable a list.", {"type": "object"},
                           {"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}},
                           errors=(400, 401, 403, 404)),
                "delete": _op("Remove a list (shipped lists can only be disabled).", {"type": "object"},
                              errors=(400, 401, 403, 404)),
            },
            "/lists/{name}/update": {"parameters": [name], "post": _op("Update one list now.", {"type": "object"},
                                                                       errors=(400, 401, 403, 404))},
            # issue 12: "Page broken?" reports and the extension's Global Privacy Control setting
            "/breakage": {
                "post": _op("Record that a page of a site broke, with the tracker domains blocked on it then "
                            "(kept on this computer; shown on the history pages).",
                            {"type": "object", "properties": {
                                "ok": {"type": "boolean"}, "id": {"type": "integer"}, "time": {"type": "integer"},
                                "site": {"type": "string"}, "trackers": {"type": "array", "items": {"type": "string"}}}},
                            {"type": "object", "required": ["site"], "additionalProperties": False, "properties": {
                                "site": {"type": "string"},
                                "trackers": {"type": "array", "maxItems": 200, "items": {"type": "string"}}}},
                            errors=(400, 401, 403, 413, 415)),
                "get": _op("Every breakage report, newest first.",
                           {"type": "object", "properties": {"reports": {"type": "array"}}}),
            },
            "/settings/gpc": {
                "get": _op("Whether the extension sends Global Privacy Control (default true).",
                           {"type": "object", "properties": {"gpc": {"type": "boolean"}}}),
                "put": _op("Store the extension's Global Privacy Control setting.",
                           {"type": "object", "properties": {"gpc": {"type": "boolean"}}},
                           {"type": "object", "required": ["gpc"], "properties": {"gpc": {"type": "boolean"}}}),
            },
            "/settings": {
                "get": _op("Settings.", {"type": "object", "properties": {"report_only": {"type": "boolean"}}}),
                "put": _op("Change settings.", _CHANGED, {"type": "object", "properties": {
                    "report_only": {"type": "boolean"}}}),
            },
        },
    }
