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
        "owner_source": {"type": ["string", "null"],
                         "description": "where the owner came from: 'Crumbs' (the shipped knowledge base) or a "
                                        "knowledge source's label ('Disconnect', 'DuckDuckGo')"},
        "category_source": {"type": ["string", "null"], "description": "where the category came from (as above)"},
        "surrogate": {"type": ["string", "null"],
                      "description": "the stand-in script the browser serves instead of this blocked script "
                                     "(e.g. 'google-analytics'); null: none"},
    },
}
_EVENT = {
    "type": "object",
    "description": "One request the browser saw. An event that breaks these rules is refused on its own "
                   "(its result says ok: false and why); the rest of the batch is recorded. Other keys are ignored.",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 8192,
                "description": "an http(s) or ws(s) URL; any other scheme, or a host that is no DNS name or IP "
                               "address (a zone id, over 253 characters), refuses the event"},
        "page_url": {"type": ["string", "null"], "maxLength": 8192,
                     "description": "top-level page; null when the browser gave none"},
        "type": {"type": "string", "description": "webRequest ResourceType", "default": "other"},
        "tab_id": {"type": "integer", "minimum": -1, "maximum": 2**31 - 1},
        "time": {"type": "integer", "minimum": 946_684_800_000, "description": "epoch milliseconds, not in the future"},
        "browser_blocked": {"type": "boolean", "description": "the browser's rules blocked it (older extensions; "
                            "'outcome' says the same and wins)"},
        "outcome": {"enum": ["reached", "blocked", None],
                    "description": "what the browser did: 'reached' (it left the browser) or 'blocked' (the "
                    "browser's rules stopped it). Counted as blocked only when the browser blocked it, never from "
                    "the verdict alone. Requests served from the cache or that failed before being sent are not "
                    "reported. Must agree with browser_blocked when both are given."},
        "stream": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]{1,64}$",
                   "description": "the sender's id for a run of its reports (the extension: a random id per worker "
                                  "start); with 'seq'"},
        "seq": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1,
                "description": "the event's number in its stream, growing in the order events are sent. An event "
                               "whose seq is at or below the highest recorded for its stream was recorded before "
                               "(a batch sent again after a lost answer): its result is given again, but it is "
                               "not recorded twice nor counted in 'tabs'. Events without stream and seq are "
                               "recorded each time they come"},
    },
    "dependentRequired": {"stream": ["seq"], "seq": ["stream"]},
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_CHANGED = {"type": "object", "required": ["ok", "rules_version"],
            "properties": {"ok": {"type": "boolean"}, "rules_version": {"type": "string"}}}
_DOMAIN = {"type": "string", "minLength": 1, "maxLength": 8192,
           "description": "a host name or URL, reduced to its registrable domain; anything else is refused (400), "
                          "and so is a public suffix (com, co.uk) when a choice is made"}
_HEX_CHALLENGE = {"type": "string", "pattern": "^[0-9a-fA-F]{16,64}$"}

# Refusals every authenticated call may get: 400 (a token in the URL), 401 (no or wrong token), 403 (a web
# page's Origin or a foreign Host). A call with a body also: 413 (over 4 MiB) and 415 (not application/json).
AUTH_ERRORS = (400, 401, 403)
BODY_ERRORS = (413, 415)


def _op(summary: str, response: dict[str, Any] | None = None, body: dict[str, Any] | None = None,
        public: bool = False, errors: tuple[int, ...] = AUTH_ERRORS, status: int = 200,
        parameters: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {str(status): {"description": "OK",
                                    "content": {"application/json": {"schema": response or {"type": "object"}}}}},
    }
    codes = set(errors) | (set(BODY_ERRORS) if body is not None else set())
    for code in sorted(codes):
        op["responses"][str(code)] = {"description": "refused", "content": {"application/json": {"schema": _ERROR}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if public:
        op["security"] = []
    if parameters:
        op["parameters"] = parameters
    op["responses"].update(extra or {})
    return op


def _in_background(op: dict[str, Any]) -> dict[str, Any]:
    """A list operation whose download outlasts about a second answers 202 and goes on in the background."""
    op["responses"]["202"] = {"description": "the download goes on in the background; see each list's "
                              "'downloading', 'updated' and 'last_error'",
                              "content": {"application/json": {"schema": {"type": "object", "required": ["status"],
                                                                          "properties": {"status": {"enum": ["downloading"]},
                                                                                         "lists": {"type": "array"},
                                                                                         "list": {"type": "object"}}}}}}
    return op


def _action(values: list[str], key: str = "action") -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {"enum": values}},
            "description": "other keys are ignored"}


def openapi_document(port: int) -> dict[str, Any]:
    site = {"name": "site", "in": "path", "required": True, "schema": _DOMAIN}
    tracker = {"name": "tracker", "in": "path", "required": True, "schema": _DOMAIN}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    challenge = {"name": "X-Crumbs-Challenge", "in": "header", "required": False, "schema": _HEX_CHALLENGE,
                 "description": "a fresh random nonce; the answer then carries X-Crumbs-Proof"}
    if_none_match = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
    lists = {"type": "object", "required": ["lists"], "properties": {"lists": {"type": "array",
                                                                              "items": {"type": "object"}}}}
    one_list = {"type": "object", "required": ["list"], "properties": {"list": {"type": "object"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Crumbs companion",
            "version": __version__,
            "description": "Local API of the Crumbs companion. Loopback only; every call but health and pair needs "
            "'Authorization: Bearer TOKEN'. Sites and trackers are registrable domains. Every refusal is JSON "
            "{'error': reason}; a Host other than the companion's own is refused (403) before the body is read, "
            "and a body over 4 MiB with 413.",
        },
        "servers": [{"url": f"http://127.0.0.1:{port}/api/v1"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Verdict": _VERDICT, "Event": _EVENT, "Error": _ERROR},
        },
        "security": [{"token": []}],
        "paths": {
            "/health": {"get": _op(
                "Liveness and version. With X-Crumbs-Challenge, answers X-Crumbs-Proof = hex HMAC-SHA256(token, "
                "'crumbs-proof-v2\\n' + nonce + '\\n' + Host + '\\n' + Origin), Origin being '' when none was sent.",
                {"type": "object", "required": ["status", "version"], "additionalProperties": False,
                 "properties": {"status": {"const": "ok"}, "version": {"type": "string"}}},
                public=True, errors=(400, 403), parameters=[challenge])},
            "/pair": {"post": _op("Trade a pairing code for the token (extension origins only; at most 5 tries are "
                                  "checked per 10 s, others get 429).",
                                  {"type": "object", "required": ["companion", "token"], "properties": {
                                      "companion": {"type": "string"}, "token": {"type": "string"}}},
                                  {"type": "object", "required": ["code"], "description": "other keys are ignored",
                                   "properties": {"code": {"type": "string", "pattern": "^[0-9]{8}$"}}},
                                  public=True, errors=(400, 403, 429))},
            "/openapi.json": {"get": _op("This document.")},
            "/events": {"post": _op(
                "Classify, decide and record up to 1000 requests. Invalid events are refused one by one. "
                "The batch is committed to disk before the answer; an event numbered with 'stream' and 'seq' is "
                "recorded once however often it is sent. With 'answer': 'short' (what the extension "
                "sends) each verdict carries only the fields the extension reads, and 'about' gives each "
                "domain's owner, category label and description once.",
                {"type": "object", "required": ["results", "tabs", "rules_version"], "properties": {
                    "results": {"type": "array", "items": {"type": "object", "required": ["ok"], "properties": {
                        "ok": {"type": "boolean"},
                        "verdict": {"description": "the whole Verdict; in a short answer only host, domain, "
                                    "page_domain, third_party, tracker, blocked, decided_by, filter, list, exception",
                                    "$ref": "#/components/schemas/Verdict"},
                        "error": {"type": "string"}}}},
                    "about": {"type": "object", "description": "short answers only: per domain of the batch that "
                              "has any, its owner, category_label and description",
                              "additionalProperties": {"type": "object", "properties": {
                                  "owner": {"type": ["string", "null"]},
                                  "category_label": {"type": ["string", "null"]},
                                  "description": {"type": ["string", "null"]}}}},
                    "tabs": {"type": "object", "description": "per tab id: distinct tracker domains this batch recorded "
                             "('trackers'), how many had every request blocked ('blocked') and how many had at least "
                             "one request get through ('reached')", "additionalProperties": {"type": "object"}},
                    "rules_version": {"type": "string"}}},
                {"type": "object", "required": ["events"], "description": "other keys are ignored", "properties": {
                    "events": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/Event"}},
                    "answer": {"enum": ["full", "short"], "default": "full",
                               "description": "'short': the verdict fields the extension reads, and 'about'"}}},
                errors=AUTH_ERRORS + (400, 503))},
            "/check": {"post": _op("Classify one request without recording it.",
                                   {"$ref": "#/components/schemas/Verdict"},
                                   {"type": "object", "required": ["url"], "description": "other keys are ignored; "
                                    "a URL that is no network URL is refused (400)", "properties": {
                                       "url": {"type": "string"}, "page_url": {"type": ["string", "null"]},
                                       "type": {"type": "string"}}})},
            "/dnr": {"get": _op("The browser's declarativeNetRequest rules; ETag is the version, "
                                "If-None-Match answers 304.",
                                {"type": "object", "required": ["version", "rules"], "properties": {
                                    "version": {"type": "string"}, "rules": {"type": "array"}}},
                                parameters=[if_none_match],
                                extra={"304": {"description": "the rules are still the version named"}})},
            "/sites/{site}": {"get": _op("Every third party seen on a site with owner, category (each with "
                                         "owner_source / category_source: where it came from), counts "
                                         "(requests = reached + blocked, by what the browser did), its state "
                                         "('blocked': none got through; 'partly-blocked'; 'reached': none "
                                         "blocked), the hosts that got through and what let them, and the "
                                         "current choice; 'stand_ins' names the stand-in scripts "
                                         "served for its blocked scripts.", parameters=[site])},
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
            "/pairing-code": {"post": _op(
                "A new 8-digit pairing code for another browser, valid expires_in seconds ('crumbs pair' asks the "
                "running companion for it). Refused with an extension's Origin.",
                {"type": "object", "required": ["code", "expires_in"], "properties": {
                    "code": {"type": "string", "pattern": "^[0-9]{8}$"}, "expires_in": {"type": "integer"}}},
                status=201)},
            "/history-link": {"post": _op(
                "A one-time link that opens the history page signed in (for the extension's popup).",
                {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}})},
            "/lists": {
                "get": _op("Every filter list: source, enabled, filters used/skipped/rejected, updated, expiry, "
                           "last error.", lists),
                "post": _in_background(_op("Subscribe to a list: a known name (easylist, easyprivacy) or an https URL "
                            "of a public server (plain http only with allow_http); downloads it now.", {"type": "object"},
                            {"type": "object", "required": ["source"], "properties": {
                                "source": {"type": "string"}, "name": {"type": "string"},
                                "allow_http": {"type": "boolean"}}},
                            errors=(400, 401, 403, 409, 422), status=201)),
            },
            "/lists/update": {"post": _in_background(_op("Update every list now (conditional requests; force=true "
                                                         "ignores freshness).", {"type": "object"},
                                                         {"type": "object", "properties": {"force": {"type": "boolean"}}},
                                                         errors=(400, 401, 403, 409)))},
            "/lists/{name}": {
                "parameters": [name],
                "get": _op("One list.", one_list, errors=(400, 401, 403, 404)),
                "put": _in_background(_op("Enable or disable a list.", {"type": "object"},
                           {"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}},
                           errors=(400, 401, 403, 404, 409))),
                "delete": _op("Remove a list (shipped lists can only be disabled).", {"type": "object"},
                              errors=(400, 401, 403, 404, 409)),
            },
            "/lists/{name}/update": {"parameters": [name], "post": _in_background(_op(
                "Update one list now.", {"type": "object"}, errors=(400, 401, 403, 404, 409)))},
            "/sources": {
                "get": _op("Every knowledge source (public tracker databases added for owners and categories): "
                           "url, format, entries, updated, last error.",
                           {"type": "object", "properties": {"sources": {"type": "array"}}}),
                "post": _op("Add a knowledge source: disconnect, duckduckgo or an https URL of a public server "
                            "(plain http only with allow_http); downloads it now.",
                            {"type": "object"},
                            {"type": "object", "required": ["source"], "properties": {
                                "source": {"type": "string"}, "name": {"type": "string"},
                                "allow_http": {"type": "boolean"}}},
                            errors=(400, 401, 403, 409, 422)),
            },
            "/sources/update": {"post": _op("Update every knowledge source now (conditional requests).",
                                            {"type": "object"},
                                            {"type": "object", "properties": {"force": {"type": "boolean"}}},
                                            errors=(400, 401, 403))},
            "/sources/{name}": {
                "parameters": [name],
                "get": _op("One knowledge source.", {"type": "object"}, errors=(400, 401, 403, 404)),
                "delete": _op("Remove a knowledge source and its downloaded copy.", {"type": "object"},
                              errors=(400, 401, 403, 404)),
            },
            "/sources/{name}/update": {"parameters": [name], "post": _op("Update one knowledge source now.",
                                                                         {"type": "object"},
                                                                         errors=(400, 401, 403, 404))},
            # issue 12: "Page broken?" reports and the extension's Global Privacy Control setting
            "/breakage": {
                "post": _op("Record that a page of a site broke, with the tracker domains blocked on it then "
                            "(kept on this computer; shown on the history pages).",
                            {"type": "object", "required": ["ok", "id", "time", "site", "trackers"], "properties": {
                                "ok": {"type": "boolean"}, "id": {"type": "integer"}, "time": {"type": "integer"},
                                "site": {"type": "string"}, "trackers": {"type": "array", "items": {"type": "string"}}}},
                            {"type": "object", "required": ["site"], "additionalProperties": False, "properties": {
                                "site": _DOMAIN,
                                "trackers": {"type": "array", "maxItems": 200, "items": _DOMAIN}}},
                            status=201),
                "get": _op("Every breakage report, newest first.",
                           {"type": "object", "required": ["reports"], "properties": {"reports": {"type": "array"}}}),
            },
            "/settings/gpc": {
                "get": _op("Whether the extension sends Global Privacy Control (default true).",
                           {"type": "object", "required": ["gpc"], "properties": {"gpc": {"type": "boolean"}}}),
                "put": _op("Store the extension's Global Privacy Control setting.",
                           {"type": "object", "required": ["gpc"], "properties": {"gpc": {"type": "boolean"}}},
                           {"type": "object", "required": ["gpc"], "additionalProperties": False,
                            "properties": {"gpc": {"type": "boolean"}}}),
            },
            "/settings": {
                "get": _op("Settings.", {"type": "object", "required": ["report_only"],
                                         "properties": {"report_only": {"type": "boolean"}}}),
                "put": _op("Change settings.", _CHANGED, {"type": "object", "required": ["report_only"],
                                                          "additionalProperties": False, "properties": {
                                                              "report_only": {"type": "boolean"}}}),
            },
        },
    }
