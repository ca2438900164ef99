"""Charts and the map as SVG, drawn on the server: no chart library, nothing from a CDN, no script needed.

Every text that reaches the SVG comes from URLs that attackers control, so every text and
attribute goes through :func:`esc`. Presentation uses SVG attributes and CSS classes, never
``style=""`` (the page's CSP forbids inline styles).
"""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from .formatting import plural


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def timeline(days: list[tuple[int, int, int]], label_of, width: int = 900, height: int = 220) -> Markup:
    """Stacked bars per day: tracker requests blocked by the browser (bottom) and those that got through (top)."""
    left, bottom, top = 48, 28, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((b + a for _, b, a in days), default=0) or 1
    step = plot_w / max(len(days), 1)
    bar_w = max(step * 0.8, 1.0)
    parts = [
        f'<svg class="chart timeline" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Tracker requests per day, blocked and got through">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 8}" text-anchor="end">{peak:,}</text>',
        f'<text class="tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    label_every = max(1, math.ceil(len(days) / 10))
    for i, (day, blocked, allowed) in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        hb = plot_h * blocked / peak
        ha = plot_h * allowed / peak
        title = f"{label_of(day)}: {blocked:,} blocked, {allowed:,} got through"
        parts.append(f'<g class="day" data-day="{esc(label_of(day))}"><title>{esc(title)}</title>')
        parts.append(f'<rect class="bar blocked" x="{_fmt(x)}" y="{_fmt(top + plot_h - hb)}" '
                     f'width="{_fmt(bar_w)}" height="{_fmt(hb)}" data-value="{blocked}"/>')
        parts.append(f'<rect class="bar allowed" x="{_fmt(x)}" y="{_fmt(top + plot_h - hb - ha)}" '
                     f'width="{_fmt(bar_w)}" height="{_fmt(ha)}" data-value="{allowed}"/>')
        parts.append("</g>")
        if i % label_every == 0:
            parts.append(f'<text class="tick" x="{_fmt(x + bar_w / 2)}" y="{height - 8}" text-anchor="middle">'
                         f'{esc(label_of(day)[5:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar(fraction: float, width: int = 160, height: int = 12) -> Markup:
    """A small horizontal bar (the share of the person's sites a company saw them on)."""
    fraction = min(max(fraction, 0.0), 1.0)
    return Markup(
        f'<svg class="minibar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-hidden="true">'
        f'<rect class="track" x="0" y="0" width="{width}" height="{height}" rx="3"/>'
        f'<rect class="fill" x="0" y="0" width="{_fmt(width * fraction)}" height="{height}" rx="3"/></svg>'
    )


def graph(data: dict[str, Any], period: str | None = None, size: int = 1000) -> Markup:
    """Lightbeam-like map, laid out radially so it stays readable at 200 sites.

    Trackers sit on an inner ring, grouped by company and sized by how many sites they reach;
    sites sit on the outer ring, each placed near the trackers it shares (the mean angle of its
    edges), so sites that feed the same companies end up side by side. Each node links to its page,
    for the map's ``period`` (a key of ``PERIODS``) when given.
    """
    # The map's period goes with its links, as every page's links carry theirs (_macros.html):
    # without it, a click from the 30-day map opened the default 7 days.
    query = esc(f"?p={quote(period, safe='')}") if period else ""
    cx = cy = size / 2
    r_tracker, r_site = size * 0.2, size * 0.33  # room outside the ring for 28-character labels
    trackers = sorted(data["trackers"], key=lambda t: ((t["owner"] or t["name"]).lower(), -t["sites"], t["name"]))
    n_t = max(len(trackers), 1)
    t_angle = {t["name"]: 2 * math.pi * i / n_t for i, t in enumerate(trackers)}
    by_site: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for s, d, w in data["edges"]:
        by_site[s].append((d, w))

    def mean_angle(site: str) -> float:
        edges = by_site.get(site)
        if not edges:
            return 10.0  # after every real angle: unconnected sites go last
        x = sum(math.cos(t_angle[d]) * math.log1p(w) for d, w in edges)
        y = sum(math.sin(t_angle[d]) * math.log1p(w) for d, w in edges)
        return math.atan2(y, x) % (2 * math.pi)

    sites = sorted(data["sites"], key=lambda s: (mean_angle(s["name"]), s["name"]))
    n_s = max(len(sites), 1)
    s_angle = {s["name"]: 2 * math.pi * i / n_s for i, s in enumerate(sites)}
    top_reach = max((t["sites"] for t in trackers), default=1)

    def pos(angle: float, radius: float) -> tuple[float, float]:
        return cx + radius * math.cos(angle), cy + radius * math.sin(angle)

    parts = [f'<svg class="graph" viewBox="0 0 {size} {size}" role="img" '
             f'aria-label="Map of your sites and the trackers they share">', '<g class="edges">']
    for s, d, w in data["edges"]:
        x1, y1 = pos(s_angle[s], r_site - 6)
        x2, y2 = pos(t_angle[d], r_tracker)
        parts.append(f'<path class="edge" data-site="{esc(s)}" data-tracker="{esc(d)}" '
                     f'd="M{_fmt(x1)},{_fmt(y1)} Q{_fmt(cx)},{_fmt(cy)} {_fmt(x2)},{_fmt(y2)}"/>')
    parts.append('</g><g class="sites">')
    font_site = max(6.0, min(12.0, 2 * math.pi * r_site / n_s * 0.8))
    for s in sites:
        a = s_angle[s["name"]]
        x, y = pos(a, r_site)
        lx, ly = pos(a, r_site + 8)
        deg = math.degrees(a)
        flip = 90 < deg < 270
        rot = deg + 180 if flip else deg
        anchor = "end" if flip else "start"
        name = s["name"]
        parts.append(
            f'<a class="node site" href="/site/{quote(name, safe="")}{query}" data-name="{esc(name)}">'
            f'<title>{esc(name)}: {s["weight"]:,} tracker {plural(s["weight"], "request")}</title>'
            f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="4"/>'
            f'<text x="{_fmt(lx)}" y="{_fmt(ly)}" font-size="{_fmt(font_site)}" text-anchor="{anchor}" '
            f'dominant-baseline="middle" transform="rotate({_fmt(rot)} {_fmt(lx)} {_fmt(ly)})">'
            f'{esc(_short(name, 28))}</text></a>'
        )
    parts.append('</g><g class="trackers">')
    font_tracker = max(7.0, min(12.0, 2 * math.pi * r_tracker / n_t * 0.7))
    for t in trackers:
        a = t_angle[t["name"]]
        x, y = pos(a, r_tracker)
        radius = 4 + 10 * math.sqrt(t["sites"] / top_reach)
        lx, ly = pos(a, r_tracker - radius - 4)
        deg = math.degrees(a)
        flip = 90 < deg < 270
        rot = deg + 180 if flip else deg
        anchor = "start" if flip else "end"
        cls = "node tracker blocked" if t["blocked"] else "node tracker"
        owner = f" ({t['owner']})" if t["owner"] else ""
        parts.append(
            f'<a class="{cls}" href="/tracker/{quote(t["name"], safe="")}{query}" data-name="{esc(t["name"])}">'
            f'<title>{esc(t["name"])}{esc(owner)}: on {t["sites"]} of these sites</title>'
            f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(radius)}"/>'
            f'<text x="{_fmt(lx)}" y="{_fmt(ly)}" font-size="{_fmt(font_tracker)}" text-anchor="{anchor}" '
            f'dominant-baseline="middle" transform="rotate({_fmt(rot)} {_fmt(lx)} {_fmt(ly)})">'
            f'{esc(_short(t["name"], 24))}</text></a>'
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
