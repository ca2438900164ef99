"""The questions the pages ask of a period: overview, reach, categories, one site, tracker or company,
search and the map. Read-only."""
from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Any

from ..dnr.compiler import browser_can_apply
from ..storage import day_start
from .periods import Period
from .sums import (UNKNOWN_SITE, Reach, Snapshot, Tally, _Part, counts_figures, headline_figures, merge_pairs,
                   outcome_state, reach_counts, reach_order)


class ViewsMixin:
    """Part of :class:`companion.history.History`."""

    def overview(self, snap: Snapshot) -> dict[str, Any]:
        """The headline figures of a period (``blocked``: requests the browser stopped)."""
        # Only the domains that were trackers count as trackers seen (a company's CDN does not).
        found = snap.memo.get("overview")
        if found is not None:
            return dict(found)
        if snap.parts:  # each part's own, kept with it (the past days' are made once)
            tracker_domains = set().union(*(part.tracker_domains() for part in snap.parts))
            reached = sum(part.reached() for part in snap.parts)
        else:
            tracker_domains = {x.domain for x in snap.pairs if x.trackers}
            reached = sum(x.reached for x in snap.pairs)
        found = snap.memo["overview"] = headline_figures(snap.sites_visited, snap.third_party_requests,
                                                        snap.tracker_requests, len(tracker_domains), snap.blocked, reached)
        return dict(found)

    @staticmethod
    def _summaries(snap: Snapshot) -> list[dict[str, Reach]]:
        """Each part's :meth:`_Part.reach_summary` (made once per part; a part may serve several periods)."""
        return [part.reach_summary() for part in (snap.parts or [_Part(snap.pairs, {}, set(), 0, 0, 0)])]

    def _reach_counts(self, snap: Snapshot) -> dict[str, tuple]:
        """Per company (or domain without one), trackers or not: its :func:`reach_counts` over the period
        (made once per snapshot; History.snapshot brings the last one up to date after a batch)."""
        found = snap.memo.get("reach_counts")
        if found is None:
            summaries = self._summaries(snap)
            keys = summaries[0].keys() if len(summaries) == 1 else set().union(*summaries)
            found = snap.memo["reach_counts"] = {k: reach_counts([s[k] for s in summaries if k in s]) for k in keys}
        return found

    def reach(self, snap: Snapshot, limit: int | None = 10) -> list[dict[str, Any]]:
        """Companies (or, owner unknown, tracker domains) by how many of the person's sites they reached
        (at least one request got through), then by how many they tried on and were stopped. Whoever was
        a tracker somewhere in the period is listed; its other requests count too (its servers got them)."""
        figures = [counts_figures(k, c, snap.sites_visited) for k, c in self._reach_counts(snap).items() if c[6]]
        figures.sort(key=reach_order)
        return figures[:limit] if limit else figures

    def reach_count(self, snap: Snapshot) -> int:
        """How many companies and unowned trackers :meth:`reach` can list (for 'show all')."""
        return sum(1 for c in self._reach_counts(snap).values() if c[6])

    def categories(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Per tracker category: distinct trackers, requests and sites, for 'What tracking is'."""
        out: dict[str, dict[str, Any]] = {}
        for x in snap.pairs:
            if not x.trackers:
                continue
            key = x.category or "unknown"
            entry = out.setdefault(key, {"category": key, "trackers": set(), "requests": 0, "sites": set()})
            entry["trackers"].add(x.domain)
            entry["requests"] += x.trackers
            if x.site != UNKNOWN_SITE:
                entry["sites"].add(x.site)
        return sorted(
            ({**e, "trackers": len(e["trackers"]), "sites": len(e["sites"])} for e in out.values()),
            key=lambda e: -e["requests"],
        )

    # -- one site -------------------------------------------------------------------------

    # Exact first/last times and host names come from the detail for short periods only:
    # over months the busiest site has tens of thousands of rows, and the day is enough.
    DETAIL_DAYS = 7

    def site(self, site: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """Every third party seen on ``site`` in the period: owner, category, what got through and what
        was blocked, first and last seen, and (from the detail) the hosts that got through and what let them."""
        site_id = self._domain_id(site)
        if site_id is None:
            return None
        snap = snap or self.snapshot(p)
        lo, hi = self._day_range(p)
        with_detail = p.first_day is not None and p.last_day - p.first_day < self.DETAIL_DAYS
        detail = self.store.site_detail(site_id, lo, hi) if with_detail else {}
        through = self._got_through(site_id, lo, hi)
        parties = []
        for x in merge_pairs(x for x in snap.pairs if x.site == site):
            owner, info = self.info(x.domain)
            first, last, hosts = detail.get(x.domain, (None, None, None))
            got_through = through.get(x.domain, [])
            parties.append({
                "domain": x.domain,
                "owner": owner,
                "owner_source": self.owner_source(x.domain),
                "category": info.category if info else None,
                "category_source": info.category_source if info else None,
                "category_label": info.category_label if info else None,
                "tracker": x.trackers > 0,
                "requests": x.requests,
                "tracker_requests": x.trackers,
                "blocked": x.blocked,
                "reached": x.reached,
                "allowed": x.reached,  # older name of 'reached'
                "state": outcome_state(x.reached, x.blocked),
                "got_through": got_through,
                # The counts come from the daily totals, which retention keeps; the reasons come from the
                # detail, which it deletes: requests that got through on days whose detail is gone have none.
                "unexplained": max(x.reached - sum(g["requests"] for g in got_through), 0),
                "first_day": x.first_day,
                "last_day": x.last_day,
                # The exact time where the detail was read; otherwise the day says it.
                "first_seen": first,
                "last_seen": last,
                "hosts": sorted(hosts.split(",")) if hosts else [],
            })
        if not parties and not self._seen_as_site(site_id):
            return None
        parties.sort(key=lambda x: (not x["tracker"], -x["requests"], x["domain"]))
        trackers = [x for x in parties if x["tracker"]]
        owner_of = getattr(self.trackers, "owner_of", None)
        return {
            "site": site,
            # Its owner, when Crumbs knows it: a third party of the same owner is not counted as a tracker here.
            "site_owner": owner_of(site) if owner_of else None,
            # Requests to the page's own host are never reported; those to the site's other hosts are.
            "own_other_hosts_requests": self.store.site_other_hosts_requests(site_id, lo, hi),
            "third_parties": parties,
            "trackers": len(trackers),
            "trackers_reached": sum(1 for x in trackers if x["reached"]),
            "trackers_stopped": sum(1 for x in trackers if not x["reached"]),
            "requests": sum(x["requests"] for x in parties),
            "blocked": sum(x["blocked"] for x in parties),
            "reached": sum(x["reached"] for x in parties),
        }

    def _got_through(self, site_id: int, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
        """Per domain: the hosts whose requests left the browser on this site, and what let them."""
        out: dict[str, list[dict[str, Any]]] = {}
        for domain, host, tracker, meant, exception, decided_by, ftext, flist, n in \
                self.store.site_got_through(site_id, day_start(max(lo, 0)), day_start(hi + 1)):
            out.setdefault(domain, []).append({
                "host": host, "requests": n, "filter": ftext, "list": flist, "decided_by": decided_by,
                "why": why_it_got_through(tracker, meant, exception, decided_by, ftext, flist),
            })
        return out

    def _seen_as_site(self, domain_id: int) -> bool:
        return self.store.seen_as_site(domain_id)

    # -- one tracker, one company ---------------------------------------------------------

    def tracker(self, domain: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """A tracker domain: what it is, every site of the person's where it reached them or was stopped, its hosts."""
        domain_id = self._domain_id(domain)
        if domain_id is None:
            return None
        owner, info = self.info(domain)
        snap = snap or self.snapshot(p)
        tally = Tally(domain, False)
        for x in snap.pairs:
            if x.domain == domain:
                tally.add(x)
        hosts = self.store.hosts_of_domain(domain_id)
        if not tally.per_site and not hosts:
            return None
        return {
            "domain": domain,
            "owner": owner,
            "owner_source": self.owner_source(domain),
            "info": info,
            "learns": self._learns(info),
            "sites": tally.site_rows(),
            "figures": tally.figures(snap.sites_visited),
            "hosts": hosts,
            "requests": tally.requests,
            "blocked": tally.blocked,
            "reached": tally.reached,
        }

    def company(self, owner: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """A company: its domains the person met and every site where any of them reached them or was
        stopped. The figures are the overview's for the same period (one :class:`Tally`)."""
        snap = snap or self.snapshot(p)
        tally = Tally(owner, True)  # made for this page from the period's pairs (the overview counts the same)
        # Not every request to a company's domains is tracking: one no filter matched (a font or video host),
        # and one made on the company's own site (a request from one of its sites to another of its domains
        # is not counted as a tracker: classify.py). Per domain: [tracker requests, others on other sites,
        # others on its own sites]; the page says which is which, so "reached you" is not read as "tracked".
        owner_of = getattr(self.trackers, "owner_of", None)
        own: dict[str, bool] = {}
        kinds: dict[str, list[int]] = {}
        for x in snap.pairs:
            if x.owner == owner:
                tally.add(x)
                is_own = own.get(x.site)
                if is_own is None:
                    is_own = own[x.site] = bool(owner_of and x.site != UNKNOWN_SITE and owner_of(x.site) == owner)
                k = kinds.setdefault(x.domain, [0, 0, 0])
                k[0] += x.trackers
                k[2 if is_own else 1] += max(0, x.requests - x.trackers)
        if not tally.per_site:
            return None
        domains = sorted(tally.domains)
        infos = [self.info(d)[1] for d in domains]
        categories = sorted({i.category for i in infos if i is not None and i.category})
        sites = tally.site_rows()
        for row in sites:
            row["own_site"] = own.get(row["site"], False)
        return {
            "owner": owner,
            "domains": domains,
            "domain_kinds": {d: {"trackers": k[0], "unmatched": k[1], "own_sites": k[2]} for d, k in kinds.items()},
            "tracker_requests": sum(k[0] for k in kinds.values()),
            "unmatched_requests": sum(k[1] for k in kinds.values()),
            "own_site_requests": sum(k[2] for k in kinds.values()),
            "sites": sites,
            "figures": tally.figures(snap.sites_visited),
            "categories": [(c, self._category_meta(c)) for c in categories],
            "requests": tally.requests,
            "blocked": tally.blocked,
            "reached": tally.reached,
        }

    def _category_meta(self, key: str | None) -> dict[str, Any]:
        return (self.trackers.categories or {}).get(key or "", {}) if key else {}

    def _learns(self, info: Any) -> str | None:
        if info is None:
            return None
        return getattr(info, "learns", None) or self._category_meta(info.category).get("learns")

    # -- search ---------------------------------------------------------------------------

    def search(self, snap: Snapshot, q: str = "", category: str = "", state: str = "", limit: int = 200,
               page: int = 1) -> dict[str, Any]:
        """(site, third party) rows of the period matching a text (site, tracker or company), a category, a state:
        the ``page``-th run of ``limit`` of them, busiest first (a page past the last is the last)."""
        q = q.strip().lower()
        found = []
        for x in snap.pairs:
            if category and (x.category or "unknown") != category:
                continue
            if q and q not in x.text:
                continue
            found.append(x)
        merged = merge_pairs(found)
        if state == "blocked":  # every request stopped
            merged = [x for x in merged if x.blocked and not x.reached]
        elif state in ("reached", "allowed"):  # at least one got through
            merged = [x for x in merged if x.reached]
        elif state == "trackers":
            merged = [x for x in merged if x.trackers]
        # Only one page is drawn: picking the first ``page * limit`` is cheaper than sorting a year's pairs (the
        # same rows, in the same order, whichever page asks).
        pages = max(1, -(-len(merged) // limit))
        page = min(max(1, page), pages)
        shown = heapq.nsmallest(page * limit, merged, key=lambda x: (-x.requests, x.site, x.domain))[(page - 1) * limit:]
        rows = []
        for x in shown:
            info = self.info(x.domain)[1]
            rows.append({"site": x.site, "domain": x.domain, "owner": x.owner, "category": x.category,
                         "category_label": info.category_label if info is not None else None,
                         "requests": x.requests, "trackers": x.trackers, "blocked": x.blocked,
                         "reached": x.reached, "state": outcome_state(x.reached, x.blocked),
                         "first_day": x.first_day, "last_day": x.last_day})
        first = (page - 1) * limit + 1
        return {"total": len(merged), "rows": rows, "page": page, "pages": pages,
                "first": first if rows else 0, "last": first + len(rows) - 1 if rows else 0}

    # -- the map --------------------------------------------------------------------------

    def graph(self, snap: Snapshot, max_sites: int = 200, max_trackers: int = 60) -> dict[str, Any]:
        """Sites and the trackers they share: the busiest sites, and the trackers that reach most of them."""
        site_weight: dict[str, int] = defaultdict(int)
        for x in snap.pairs:
            if x.trackers and x.site != UNKNOWN_SITE:
                site_weight[x.site] += x.trackers
        sites = sorted(site_weight, key=lambda s: (-site_weight[s], s))[:max_sites]
        shown = set(sites)
        reach: dict[str, set[str]] = defaultdict(set)
        weight: dict[tuple[str, str], int] = {}
        blocked: dict[str, int] = defaultdict(int)
        for x in snap.pairs:
            if x.trackers and x.site in shown:
                reach[x.domain].add(x.site)
                weight[(x.site, x.domain)] = weight.get((x.site, x.domain), 0) + x.trackers
                blocked[x.domain] += x.blocked
        trackers = sorted(reach, key=lambda d: (-len(reach[d]), d))[:max_trackers]
        kept = set(trackers)
        return {
            "sites": [{"name": s, "weight": site_weight[s]} for s in sites],
            "trackers": [
                {"name": d, "owner": self.info(d)[0], "category": self.category_of(d), "sites": len(reach[d]),
                 "blocked": blocked[d] > 0}
                for d in trackers
            ],
            "edges": [(s, d, w) for (s, d), w in weight.items() if d in kept],
            "hidden_trackers": len(reach) - len(trackers),
        }


def why_it_got_through(tracker: bool, meant: bool, exception: bool, decided_by: str, ftext: str | None,
                       flist: str | None) -> str:
    """In plain words, what let a request that left the browser through (the filter, or the lack of one)."""
    named = f"{ftext} ({flist})" if ftext and flist else (ftext or "")
    if exception and named:
        return f"an exception filter allowed it: {named}"
    if meant:
        if decided_by == "list-default" and ftext and not browser_can_apply(ftext):
            # Never "not caught up": the browser's rules have no way to say this filter (dnr/compiler.py).
            return (f"the lists block it ({named}), but the browser's rules cannot express this filter, "
                    "so the browser lets it through")
        return (f"Crumbs meant to block it ({named or decided_by}), but the browser's rules had not caught up yet"
                if named else "Crumbs meant to block it, but the browser's rules had not caught up yet")
    if decided_by == "site-trust":
        return "you trust this site"
    if decided_by in ("site-tracker", "tracker-everywhere"):
        return "you allowed it" + (" on this site" if decided_by == "site-tracker" else " everywhere")
    if decided_by == "report-only":
        return "Crumbs is in report-only mode"
    if not tracker:
        return "no filter list names this request" if not named else f"only a first-party filter names it: {named}"
    return f"allowed ({decided_by})"
