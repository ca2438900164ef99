"""Knowledge sources on the history pages: ``/settings/sources``, the same management as ``crumbs sources``
and ``/api/v1/sources``, for the signed-in person.

- ``GET  /settings/sources``                 every source, its state and last error, and the add form
- ``POST /settings/sources/add``             ``source`` (disconnect, duckduckgo or an http(s) URL), optional ``name``
- ``POST /settings/sources/<name>/update``   and ``/settings/sources/update`` for all
- ``POST /settings/sources/<name>/remove``   removes it and its downloaded copy

The door is the history pages' own (:mod:`companion.web.pages`): session, CSRF token, Origin checks.
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for

from ..lists import NAME_RE, Conflict, ListError, NotFound, Sources
from ..lists.sources import label_of
from . import pages

bp = Blueprint("sources_pages", __name__, url_prefix="/settings/sources")
bp.before_request(pages._require_session)
bp.register_error_handler(pages.Refused, pages._refused)

# Only a code and a validated name travel in the redirect's query, never free text.
NOTICES = {
    "added": "{name} was added: its owners and categories now fill in where Crumbs knows none.",
    "add-failed": "{name} was added, but its first download failed (the reason is in its row). "
                  "“Update now” tries again.",
    "updated": "{name} was updated.",
    "not-modified": "{name} has not changed on its server since the last download.",
    "unchanged": "{name} has not changed.",
    "failed": "Updating {name} failed; the last good version stays in force (the reason is in its row).",
    "removed": "{name} was removed: its facts are no longer shown.",
    "updated-all": "Every source was checked; each row says how it went.",
}


def registry() -> Sources:
    return current_app.extensions["crumbs"].sources


@bp.errorhandler(ListError)
def _source_error(exc: ListError):
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return pages._render("message.html", title="Nothing was changed", message=str(exc)), status


def _done(code: str, name: str):
    return redirect(url_for("sources_pages.sources_page", done=code, source=name, _anchor=f"source-{name}"), 303)


@bp.get("")
def sources_page():
    sources = registry()
    notice = None
    code, name = request.args.get("done", ""), request.args.get("source", "")
    if code in NOTICES and NAME_RE.match(name):
        notice = NOTICES[code].format(name=label_of(name))
    infos = sources.all()
    added = {i.url for i in infos}
    addable = [n for n, url in sorted(sources.known.items()) if url not in added]
    return pages._render("sources.html", sources=infos, known=sorted(sources.known), addable=addable,
                         labels={n: label_of(n) for n in sources.known}, notice=notice)


@bp.post("/add")
def add():
    source = request.form.get("source", "").strip()
    name = request.form.get("name", "").strip() or None
    if not source:
        raise pages.Refused(400, "Say which source to add: disconnect, duckduckgo or an http(s) address.")
    info, outcome = registry().add(source, name=name, allow_http=request.form.get("allow_http") == "yes")
    return _done("add-failed" if outcome.status == "failed" else "added", info.name)


@bp.post("/<name>/update")
def update_one(name: str):
    outcome = registry().update(name)[0]
    return _done(outcome.status, outcome.name)


@bp.post("/update")
def update_all():
    registry().update(None)
    return redirect(url_for("sources_pages.sources_page", done="updated-all", source="all"), 303)


@bp.post("/<name>/remove")
def remove(name: str):
    registry().remove(name)
    return _done("removed", name)
