"""How the history pages write times, days and numbers: in the person's own time zone, which every page names.

Times are shown in the companion machine's local time zone (the person's), never UTC unannounced; the
footer of every page says which zone (``time_zone`` in every template's context).
"""

from __future__ import annotations

import os
from datetime import datetime

from flask import Flask

from ..history import day_to_iso


def local_zone_name() -> str:
    """The companion machine's time zone, as a person reads it: its IANA name when known
    (``TZ``, or where /etc/localtime points), then its UTC offset now, e.g. ``Europe/Paris (UTC+01:00)``."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name or name.startswith("/"):
        try:
            target = os.path.realpath(name or "/etc/localtime")
            name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
        except OSError:
            name = ""
    offset = datetime.now().astimezone().strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{name} ({utc})" if name else utc


def _when(ms: int | None) -> str:
    """An epoch-ms time in the companion machine's time zone (the page says which, see base.html)."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def _time_zone() -> dict[str, str]:
    return {"time_zone": local_zone_name()}


def _date(day: int | None) -> str:
    return "—" if day is None else day_to_iso(day)


def _number(value: int | float | None) -> str:
    return f"{value or 0:,}"


def _pct(value: float) -> str:
    return f"{round(100 * value)}%"


def plural(count: int | None, one: str, many: str | None = None) -> str:
    """The word that goes with ``count``: ``one`` for exactly one, else ``many`` (``one`` + "s" unless
    given), e.g. ``{{ n|n }} {{ n|plural('request') }}``, ``{{ n|plural('was', 'were') }} blocked``.

    Only the word, not the number: templates keep writing the number their own way (``n``, ``<strong>``)."""
    return one if count == 1 else (many or one + "s")


def init_app(app: Flask) -> None:
    """Register the template filters (``when``, ``date``, ``n``, ``pct``, ``plural``) and the ``time_zone`` context."""
    app.add_template_filter(_when, "when")
    app.add_template_filter(_date, "date")
    app.add_template_filter(_number, "n")
    app.add_template_filter(_pct, "pct")
    app.add_template_filter(plural, "plural")
    app.context_processor(_time_zone)
