"""Filter lists on the history pages: ``/settings/lists``, the same management as ``crumbs lists``
and ``/api/v1/lists``, for the signed-in person.

- ``GET  /settings/lists``                     every list, with its controls and the add form
- ``POST /settings/lists/add``                 ``source`` (a known name or an http(s) URL), optional ``name``
- ``POST /settings/lists/<name>/enabled``      ``enabled`` = ``yes`` | ``no``
- ``POST /settings/lists/<name>/update``       and ``/settings/lists/update`` for every enabled list
- ``POST /settings/lists/<name>/remove``       asks first; ``confirm=yes`` removes (subscribed lists only)

The door is the history pages' own (:mod:`companion.web.pages`): the same session check, CSRF token,
Origin/Sec-Fetch-Site checks and refusal page, so a fix there covers these routes too. Local paths
stay command-line only, as in the API: nothing reachable over HTTP may make the companion read a file.

It also gives every template ``lists_naming`` / ``lists_naming_each``: which lists in force name a
tracker, for the tracker and site pages.
"""

from __future__ import annotations

from typing import Any, Iterable

from flask import Blueprint, current_app, redirect, request, url_for

from ..lists import NAME_RE, Conflict, ListError, Lists, NotFound, lists_naming_many
from . import pages

bp = Blueprint("lists_pages", __name__, url_prefix="/settings/lists")
bp.before_request(pages._require_session)
bp.register_error_handler(pages.Refused, pages._refused)

# How well-known lists are called in prose; any other list is shown by its (validated) name.
LABELS = {"crumbs-trackers": "Crumbs trackers", "easyprivacy": "EasyPrivacy", "easylist": "EasyList"}

# What the page says after a change. Only a code and a list name travel in the redirect's query,
# never free text: a crafted link must not be able to make this page say something of its choosing.
NOTICES = {
    "added": "{name} was added and is in force.",
    "add-failed": "{name} was added, but its first download failed (the reason is in its row). "
                  "“Update now” tries again.",
    "enabled": "{name} is enabled.",
    "disabled": "{name} is disabled: its filters no longer apply.",
    "updated": "{name} was updated.",
    "not-modified": "{name} has not changed on its server since the last download.",
    "unchanged": "{name} has not changed.",
    "failed": "Updating {name} failed; the last good version stays in force (the reason is in its row).",
    "skipped": "{name} was not updated (shipped and disabled lists are not).",
    "removed": "{name} was removed.",
    "updated-all": "Every enabled subscribed list was checked; each row says how it went.",
    "downloading": "{name}: the download goes on in the background; reload this page to see how far it got.",
}


def registry() -> Lists | None:
    return current_app.extensions["crumbs"].lists


def _registry_or_refuse() -> Lists:
    lists = registry()
    if lists is None:
        raise pages.Refused(409, "This companion was started with fixed lists: subscriptions cannot be changed.")
    return lists


@bp.errorhandler(ListError)
def _list_error(exc: ListError):
    # Signed in (the session check ran), so the page keeps its navigation. The reason may quote what
    # a server or the form sent: the template escapes it.
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return pages._render("message.html", title="Nothing was changed", message=str(exc)), status


def _done(code: str, name: str):
    """POST-redirect-GET back to the list's row, with the notice to show there."""
    return redirect(url_for("lists_pages.lists_page", done=code, list=name, _anchor=f"list-{name}"), 303)


# -- template helpers: which lists name a tracker ------------------------------------------


@bp.app_template_filter("list_label")
def list_label(name: str) -> str:
    return LABELS.get(name, name)


@bp.app_template_filter("duration")
def duration(ms: int | None) -> str:
    if not ms:
        return "—"
    hours = ms // 3_600_000
    if hours >= 24 and hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


@bp.app_template_global("lists_naming")
def lists_naming(hosts: Iterable[str]) -> list[str]:
    """Names of the lists in force naming any of ``hosts`` (a tracker's domain and its hosts), in list order."""
    found: list[str] = []
    for names in lists_naming_many(current_app.extensions["crumbs"], hosts).values():
        found += [n for n in names if n not in found]
    return found


@bp.app_template_global("lists_naming_each")
def lists_naming_each(rows: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """``{domain: names}`` for the site page's third-party rows, with one look-up for all of them
    (each look-up reads the registry's revision once)."""
    rows = list(rows)
    hosts = {h for r in rows for h in [r["domain"], *(r.get("hosts") or [])]}
    by_host = lists_naming_many(current_app.extensions["crumbs"], hosts)
    out: dict[str, list[str]] = {}
    for r in rows:
        names: list[str] = []
        for h in [r["domain"], *(r.get("hosts") or [])]:
            names += [n for n in by_host.get(h, []) if n not in names]
        out[r["domain"]] = names
    return out


# -- the page --------------------------------------------------------------------------------


@bp.get("")
def lists_page():
    lists = registry()
    notice = None
    code, name = request.args.get("done", ""), request.args.get("list", "")
    if code in NOTICES and NAME_RE.match(name):
        notice = NOTICES[code].format(name=list_label(name))
    if lists is None:  # fixed lists: show them, change nothing
        fixed = [p.stem for p in current_app.extensions["crumbs"].list_paths]
        return pages._render("lists.html", lists=None, fixed=fixed, notice=notice)
    infos = lists.all()
    subscribed = {i.source for i in infos if i.kind == "url"}
    addable = [n for n, url in sorted(lists.known.items()) if url not in subscribed]
    return pages._render("lists.html", lists=infos, known=sorted(lists.known), addable=addable, notice=notice)


@bp.post("/add")
def add():
    lists = _registry_or_refuse()
    source = request.form.get("source", "").strip()
    name = request.form.get("name", "").strip() or None
    if not source:
        raise pages.Refused(400, "Say which list to add: a known name or an http(s) address.")
    allow_http = request.form.get("allow_http") == "yes"
    done, result = lists.run_bounded(lists.add, source, name=name, allow_path=False, allow_http=allow_http)
    if not done:
        return _done("downloading", name or "all")
    info, outcome = result
    return _done("add-failed" if outcome.status == "failed" else "added", info.name)


@bp.post("/<name>/enabled")
def set_enabled(name: str):
    lists = _registry_or_refuse()
    wanted = request.form.get("enabled")
    if wanted not in ("yes", "no"):
        raise pages.Refused(400, "Enable or disable?")
    done, result = lists.run_bounded(lists.set_enabled, name, wanted == "yes")
    if not done:
        return _done("downloading", name)
    info, outcome = result
    if outcome is not None and outcome.status == "failed":
        return _done("failed", info.name)
    return _done("enabled" if info.enabled else "disabled", info.name)


@bp.post("/<name>/update")
def update_one(name: str):
    lists = _registry_or_refuse()
    lists.get(name)  # NotFound before anything starts
    done, results = lists.run_bounded(lists.update, name)
    if not done:
        return _done("downloading", name)
    return _done(results[0].status, results[0].name)


@bp.post("/update")
def update_all():
    lists = _registry_or_refuse()
    done, _ = lists.run_bounded(lists.update, None)
    if not done:
        return _done("downloading", "all")
    return redirect(url_for("lists_pages.lists_page", done="updated-all", list="all"), 303)


@bp.post("/<name>/remove")
def remove(name: str):
    lists = _registry_or_refuse()
    info = lists.get(name)  # NotFound before anything is asked
    if info.kind == "shipped":
        raise Conflict(f"{list_label(name)} ships with Crumbs and cannot be removed; disable it instead")
    if request.form.get("confirm") != "yes":
        # First step: say what goes, and ask again (as forgetting history does).
        return pages._render("lists_remove.html", info=info)
    lists.remove(name)
    return _done("removed", name)


def init_app(app) -> None:
    app.register_blueprint(bp)
