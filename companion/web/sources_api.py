"""Knowledge sources over the API, under ``/api/v1/sources`` (token-protected like all of ``/api/``).

- ``GET    /api/v1/sources``               → ``{"sources": [SOURCE…]}``
- ``POST   /api/v1/sources``               ``{"source": "disconnect" | "duckduckgo" | URL, "name"?: str, "allow_http"?: bool}`` →
  201 ``{"source", "outcome"}``; a failed first download answers 422 (the source stays registered)
- ``GET    /api/v1/sources/<name>``        → ``{"source"}``
- ``DELETE /api/v1/sources/<name>``        → ``{"removed": name}``
- ``POST   /api/v1/sources/update``        (all) or ``/api/v1/sources/<name>/update``, optional ``{"force": bool}``
  → ``{"results": [OUTCOME…], "sources": [SOURCE…]}``

Only known names and http(s) URLs: nothing reachable over HTTP makes the companion read a local file.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..lists import Conflict, ListError, NotFound, Sources
from .api import BadRequest
from .lists_api import _body, _flag
from .security import json_error

bp = Blueprint("sources_api", __name__, url_prefix="/api/v1/sources")


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return json_error(exc.status, exc.reason)


@bp.errorhandler(ListError)
def _source_error(exc: ListError):
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return json_error(status, str(exc))


def registry() -> Sources:
    return current_app.extensions["crumbs"].sources


@bp.get("")
def list_all():
    return jsonify({"sources": [i.to_dict() for i in registry().all()]})


@bp.post("")
def add():
    body = _body()
    source, name = body.get("source"), body.get("name")
    if not isinstance(source, str) or not source.strip():
        raise BadRequest(400, "'source' must be disconnect, duckduckgo or an http(s) URL")
    if name is not None and not isinstance(name, str):
        raise BadRequest(400, "'name' must be a string")
    info, outcome = registry().add(source.strip(), name=name, allow_http=_flag(body, "allow_http", False))
    payload = {"source": info.to_dict(), "outcome": outcome.to_dict()}
    if outcome.status == "failed":
        return json_error(422, f"added, but the download failed: {outcome.error}", **payload)
    return jsonify(payload), 201


@bp.post("/update")
def update_all():
    force = _flag(_body(optional=True), "force", False)
    results = registry().update(None, force=force)
    return jsonify({"results": [o.to_dict() for o in results], "sources": [i.to_dict() for i in registry().all()]})


@bp.get("/<name>")
def get_one(name: str):
    return jsonify({"source": registry().get(name).to_dict()})


@bp.delete("/<name>")
def remove(name: str):
    registry().remove(name)
    return jsonify({"removed": name})


@bp.post("/<name>/update")
def update_one(name: str):
    force = _flag(_body(optional=True), "force", False)
    results = registry().update(name, force=force)
    return jsonify({"results": [o.to_dict() for o in results], "source": registry().get(name).to_dict()})
