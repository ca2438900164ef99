"""Filter lists over the API, under ``/api/v1/lists`` (token-protected like all of ``/api/``).

- ``GET    /api/v1/lists``                → ``{"lists": [LIST…]}``
- ``POST   /api/v1/lists``                ``{"source": "easyprivacy" | URL, "name"?: str, "allow_http"?: bool}`` → 201
  ``{"list", "outcome"}``; a failed first download answers 422 ``{"error", "list", "outcome"}`` (the list stays
  registered, without a version). Only https URLs to public addresses; plain http needs ``"allow_http": true``.
- ``PUT    /api/v1/lists/<name>``         ``{"enabled": bool}`` → ``{"list", "outcome"}``
- ``DELETE /api/v1/lists/<name>``         → ``{"removed": name}``
- ``POST   /api/v1/lists/update``         (every enabled list) or ``/api/v1/lists/<name>/update``,
  optional body ``{"force": bool}`` → ``{"results": [OUTCOME…], "lists": [LIST…]}``

A request never waits on a slow list server: a download still running after about a second goes
on in the background, and the answer is 202 ``{"status": "downloading", …}``; the list's
``downloading`` field (``GET``) shows its progress, ``last_error``/``updated`` its end.

Only known names and http(s) URLs can be added here: a local path is for the person at the
command line (``crumbs lists add PATH``), so that nothing holding the token can make the companion
read arbitrary files. :func:`init_app` registers the blueprint and, when the ``UPDATER`` config key
is true (``crumbs serve``), starts the background updater.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request

from ..lists import Conflict, ListError, Lists, NotFound
from ..lists.updater import Updater
from .api import BadRequest, json_body
from .security import json_error

bp = Blueprint("lists_api", __name__, url_prefix="/api/v1/lists")


def init_app(app: Flask) -> None:
    """Register the routes; start the updater thread only if ``app.config['UPDATER']`` is true."""
    app.register_blueprint(bp)
    registry = app.extensions["crumbs"].lists
    if app.config.get("UPDATER") and registry is not None:
        app.extensions["crumbs_updater"] = Updater(
            registry, app.config.get("UPDATER_INTERVAL_S", 3.0), sources=app.extensions["crumbs"].sources
        ).start()


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return json_error(exc.status, exc.reason)


@bp.errorhandler(ListError)
def _list_error(exc: ListError):
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return json_error(status, str(exc))


def registry() -> Lists:
    lists = current_app.extensions["crumbs"].lists
    if lists is None:
        raise BadRequest(409, "this companion was started with fixed lists; subscriptions are off")
    return lists


def _body(optional: bool = False) -> dict[str, Any]:
    if optional and not request.get_data(cache=True):
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return body


def _flag(body: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(400, f"'{key}' must be true or false")
    return value


def _downloading(lists: Lists, name: str | None = None):
    """202: the download goes on in the background (see each list's ``downloading`` and ``last_error``)."""
    payload: dict[str, Any] = {"status": "downloading", "lists": [i.to_dict() for i in lists.all()]}
    if name is not None:
        payload["list"] = lists.get(name).to_dict()
    return jsonify(payload), 202


@bp.get("")
def list_all():
    return jsonify({"lists": [i.to_dict() for i in registry().all()]})


@bp.post("")
def add():
    body = _body()
    source, name = body.get("source"), body.get("name")
    if not isinstance(source, str) or not source.strip():
        raise BadRequest(400, "'source' must be a known list name or an http(s) URL")
    if name is not None and not isinstance(name, str):
        raise BadRequest(400, "'name' must be a string")
    allow_http = _flag(body, "allow_http", False)
    lists = registry()
    done, result = lists.run_bounded(lists.add, source.strip(), name=name, allow_path=False, allow_http=allow_http)
    if not done:
        return _downloading(lists)
    info, outcome = result
    payload = {"list": info.to_dict(), "outcome": outcome.to_dict()}
    if outcome.status == "failed":
        return json_error(422, f"added, but the download failed: {outcome.error}", **payload)
    return jsonify(payload), 201


@bp.get("/<name>")
def get_one(name: str):
    return jsonify({"list": registry().get(name).to_dict()})


@bp.put("/<name>")
def change(name: str):
    body = _body()
    enabled = _flag(body, "enabled")
    lists = registry()
    done, result = lists.run_bounded(lists.set_enabled, name, enabled)
    if not done:
        return _downloading(lists, name)
    info, outcome = result
    return jsonify({"list": info.to_dict(), "outcome": outcome.to_dict() if outcome else None})


@bp.delete("/<name>")
def remove(name: str):
    registry().remove(name)
    return jsonify({"removed": name})


@bp.post("/update")
def update_all():
    force = _flag(_body(optional=True), "force", False)
    lists = registry()
    done, results = lists.run_bounded(lists.update, None, force=force)
    if not done:
        return _downloading(lists)
    return jsonify({"results": [o.to_dict() for o in results], "lists": [i.to_dict() for i in registry().all()]})


@bp.post("/<name>/update")
def update_one(name: str):
    force = _flag(_body(optional=True), "force", False)
    lists = registry()
    lists.get(name)  # 404 before anything starts
    done, results = lists.run_bounded(lists.update, name, force=force)
    if not done:
        return _downloading(lists, name)
    return jsonify({"results": [o.to_dict() for o in results], "list": registry().get(name).to_dict()})
