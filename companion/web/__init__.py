"""The companion's HTTP face: a thin Flask layer over :class:`companion.service.Companion`.

``create_app(config)`` builds the app the way Flask's tutorial does; one blueprint per
concern (``api`` for the extension's JSON API; pages come in their own blueprint), with
the protections of :mod:`companion.web.security` in front of every route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from flask.json.provider import JSONProvider

from ..auth import PAIRING_TRIES_PER_WINDOW, PAIRING_WINDOW_S, PairingThrottle
from ..dnr import BrowserRules
from ..config import DEFAULT_PORT
from ..resources import EXTENSION_ID
from ..service import Companion
from .lazyrules import LazyBuildRule

# Large enough for 1,000 events with long URLs; anything bigger is refused with 413 before parsing.
MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Config keys: ``COMPANION`` (a Companion) or ``DATA_DIR``/``LISTS`` to make one
    (``DEFER_CHECK_ABOVE``: the size in bytes above which its database is quick-checked later),
    ``PORT`` (the port it is served on: part of the Host check), ``EXTENSION_IDS`` (Chromium extension ids
    allowed as CORS origins; default: Crumbs' own, resources.EXTENSION_ID)."""
    app = Flask(__name__)
    app.url_rule_class = LazyBuildRule  # URL builders compiled when first used, not at start (lazyrules.py)
    app.config.update(
        PORT=DEFAULT_PORT,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        EXTENSION_IDS=_shipped_extension_ids(),
        DNR_MIN_INTERVAL_S=30.0,
        PAIRING_TRIES=PAIRING_TRIES_PER_WINDOW,
        PAIRING_WINDOW_S=PAIRING_WINDOW_S,
    )
    app.config.update(config or {})
    app.json = FastJSON(app)
    app.debug = False  # never the Werkzeug debugger: it would run code for anyone who reaches the port
    companion = app.config.get("COMPANION") or Companion(
        app.config.get("DATA_DIR"), app.config.get("LISTS"),
        defer_check_above=app.config.get("DEFER_CHECK_ABOVE"))
    app.extensions["crumbs"] = companion
    _keep_compiled_templates(app, companion.paths.cache / "templates")
    app.extensions["crumbs_dnr"] = BrowserRules(companion, min_interval=app.config["DNR_MIN_INTERVAL_S"])
    app.extensions["crumbs_pairing"] = PairingThrottle(app.config["PAIRING_TRIES"], app.config["PAIRING_WINDOW_S"])

    from . import api, breakage, lists_api, lists_pages, pages, security, sources_api, sources_pages

    security.init_app(app)
    app.register_blueprint(api.bp)
    pages.init_app(app)  # the history pages and the popup's sign-in link
    lists_api.init_app(app)  # /api/v1/lists; the list updater thread only when config UPDATER is true
    lists_pages.init_app(app)  # /settings/lists: the lists on the history pages
    app.register_blueprint(sources_api.bp)  # /api/v1/sources: knowledge sources (issue 13)
    app.register_blueprint(sources_pages.bp)  # /settings/sources
    breakage.init_app(app)  # /api/v1/breakage, /api/v1/settings/gpc and /broken (issue 12)
    _answer_damage_with_503(app)
    if app.config.get("UPDATER"):  # `crumbs serve`: a daily snapshot of the database, taken while it runs
        from ..storage.snapshots import Snapshotter

        app.extensions["crumbs_snapshots"] = Snapshotter(companion.store, companion.paths.root).start()
    if app.config.get("UPDATER"):  # and retention, hourly, whether or not a history page is opened
        from ..history.retention import RetentionKeeper

        def current_history():
            with app.app_context():
                return pages.history()

        app.extensions["crumbs_retention"] = RetentionKeeper(
            current_history, **app.config.get("RETENTION_KEEPER_TIMES", {})).start()
    return app


def _keep_compiled_templates(app: Flask, folder: Path) -> None:
    """Keep the pages' compiled templates in the data folder's cache (Jinja's own bytecode cache, keyed
    by each template's source checksum): compiling the overview's templates took ~0.1 s of the first
    page after every start (issue 14). The folder is the person's own (0700), as is everything in it."""
    from jinja2 import FileSystemBytecodeCache

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # a read-only data folder: templates are compiled at each start, as before
        return
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache(str(folder))


def _answer_damage_with_503(app: Flask) -> None:
    """A database page gone bad while serving: 503 with the one-line reason (JSON), never a traceback.
    Nothing already committed is touched; the extension keeps the batch and sends it again later."""
    import sqlite3

    from ..storage import DatabaseDamaged
    from ..storage.integrity import damage_of
    from .security import json_error

    def damaged(exc: Exception):
        damage = exc if isinstance(exc, DatabaseDamaged) else damage_of(companion_path(), exc)
        if damage is None:
            raise exc
        return json_error(503, str(damage), kind="database-damaged")

    def companion_path():
        return app.extensions["crumbs"].store.path

    app.register_error_handler(DatabaseDamaged, damaged)
    app.register_error_handler(sqlite3.DatabaseError, damaged)

    @app.before_request
    def damaged_found_later():
        # The integrity check finished in the background (after `crumbs serve` began listening) found
        # damage: nothing more is read or written; every answer is the 503 a damaged page gives.
        damage = app.extensions["crumbs"].damage
        if damage is not None:
            return json_error(503, str(damage), kind="database-damaged")
        return None


class FastJSON(JSONProvider):
    """orjson for every JSON answer: batches of 1,000 verdicts are the companion's hottest path.

    It serialises the Verdict dataclass directly (no per-event dict), keeps field order, and
    refuses what JSON cannot hold (lone surrogates, NaN) instead of writing invalid output.
    """

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode("utf-8")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(orjson.dumps(obj), mimetype="application/json")


def _shipped_extension_ids() -> list[str]:
    return [EXTENSION_ID]  # a constant of the package (companion/resources.py), checked against the extension
