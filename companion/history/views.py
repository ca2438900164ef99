"""The questions the pages ask of a period: overview, reach, categories, one site, tracker or company,
search and the map. Read-only."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from .periods import Period
from .sums import UNKNOWN_SITE, Snapshot, _Part, merge_pairs


class ViewsMixin:
    """Part of :class:`companion.history.History`."""

    def overview(self, snap: Snapshot) -> dict[str, Any]:
        """The headline figures of a period."""
        tracker_domains: set[str] = set()
        for entry in self._reach_entries(snap).values():
            tracker_domains |= entry[1]
        # Trackers seen only on unknown pages are not in the reach index.
        tracker_domains |= {x.domain for x in snap.pairs if x.site == UNKNOWN_SITE and x.trackers}
        return {
            "sites_visited": snap.sites_visited,
            "third_party_requests": snap.third_party_requests,
            "tracker_requests": snap.tracker_requests,
            "trackers_seen": len(tracker_domains),
            "blocked": snap.blocked,
            "blocked_share": snap.blocked / snap.third_party_requests if snap.third_party_requests else 0.0,
        }

    @staticmethod
    def _reach_entries(snap: Snapshot) -> dict[str, list]:
        parts = snap.parts or [_Part(snap.pairs, {}, set(), 0, 0, 0)]
        if len(parts) == 1:
            return parts[0].reach_index()
        merged: dict[str, list] = {}
        for part in parts:
            for key, (sites, domains, n, b, known) in part.reach_index().items():
                entry = merged.get(key)
                if entry is None:
                    merged[key] = [sites, domains, n, b, known]  # shared: copied before any change below
                else:
                    merged[key] = [entry[0] | sites, entry[1] | domains, entry[2] + n, entry[3] + b, known]
        return merged

    def reach(self, snap: Snapshot, limit: int | None = 10) -> list[dict[str, Any]]:
        """Companies (or, owner unknown, tracker domains) by how many of the person's sites they saw them on."""
        entries = self._reach_entries(snap)
        ranked = sorted(entries, key=lambda k: (-len(entries[k][0]), -entries[k][2], k))
        if limit:
            ranked = ranked[:limit]
        return [
            {
                "name": k,
                "is_company": entries[k][4],
                "sites": len(entries[k][0]),
                "of_sites": snap.sites_visited,
                "domains": sorted(entries[k][1]),
                "requests": entries[k][2],
                "blocked": entries[k][3],
            }
            for k in ranked
        ]

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
        """Every third party seen on ``site`` in the period: owner, category, counts, first and last seen."""
        site_id = self._domain_id(site)
        if site_id is None:
            return None
        snap = snap or self.snapshot(p)
        lo, hi = self._day_range(p)
        detail: dict[str, tuple[int, int, str]] = {}
        with_detail = p.first_day is not None and p.last_day - p.first_day < self.DETAIL_DAYS
        first_party, detail = self.store.site_detail(site_id, lo, hi, with_detail)
        parties = []
        for x in merge_pairs(x for x in snap.pairs if x.site == site):
            owner, info = self.info(x.domain)
            first, last, hosts = detail.get(x.domain, (None, None, None))
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
                "allowed": x.requests - x.blocked,
                "first_day": x.first_day,
                "last_day": x.last_day,
                # The exact time where the detail was read; otherwise the day says it.
                "first_seen": first,
                "last_seen": last,
                "hosts": sorted(hosts.split(",")) if hosts else [],
            })
        if not parties and not first_party and not self._seen_as_site(site_id):
            return None
        parties.sort(key=lambda x: (not x["tracker"], -x["requests"], x["domain"]))
        return {
            "site": site,
            "first_party_requests": first_party,
            "third_parties": parties,
            "trackers": sum(1 for x in parties if x["tracker"]),
            "requests": sum(x["requests"] for x in parties),
            "blocked": sum(x["blocked"] for x in parties),
        }

    def _seen_as_site(self, domain_id: int) -> bool:
        return self.store.seen_as_site(domain_id)

    # -- one tracker, one company ---------------------------------------------------------

    def tracker(self, domain: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """A tracker domain: what it is, every site of the person's where it appeared, its hosts."""
        domain_id = self._domain_id(domain)
        if domain_id is None:
            return None
        owner, info = self.info(domain)
        sites = self._sites_of({domain}, snap or self.snapshot(p))
        hosts = self.store.hosts_of_domain(domain_id)
        if not sites and not hosts:
            return None
        return {
            "domain": domain,
            "owner": owner,
            "owner_source": self.owner_source(domain),
            "info": info,
            "learns": self._learns(info),
            "sites": sites,
            "hosts": hosts,
            "requests": sum(s["requests"] for s in sites),
            "blocked": sum(s["blocked"] for s in sites),
        }

    def company(self, owner: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """A company: its domains that the person met and every site where any of them appeared."""
        snap = snap or self.snapshot(p)
        domains = sorted({x.domain for x in snap.pairs if x.owner == owner})
        if not domains:
            return None
        sites = self._sites_of(set(domains), snap)
        infos = [self.info(d)[1] for d in domains]
        categories = sorted({i.category for i in infos if i is not None and i.category})
        return {
            "owner": owner,
            "domains": domains,
            "sites": sites,
            "categories": [(c, self._category_meta(c)) for c in categories],
            "requests": sum(s["requests"] for s in sites),
            "blocked": sum(s["blocked"] for s in sites),
        }

    @staticmethod
    def _sites_of(domains: set[str], snap: Snapshot) -> list[dict[str, Any]]:
        by_site: dict[str, list[int]] = {}
        for x in snap.pairs:
            if x.domain in domains and x.site not in domains:
                t = by_site.get(x.site)
                if t is None:
                    by_site[x.site] = [x.requests, x.trackers, x.blocked, x.first_day, x.last_day]
                else:
                    t[0] += x.requests
                    t[1] += x.trackers
                    t[2] += x.blocked
                    t[3] = min(t[3], x.first_day)
                    t[4] = max(t[4], x.last_day)
        return sorted(
            ({"site": s, "requests": n, "tracker_requests": t, "blocked": b, "first_day": f, "last_day": l}
             for s, (n, t, b, f, l) in by_site.items()),
            key=lambda r: (-r["requests"], r["site"]),
        )

    def _category_meta(self, key: str | None) -> dict[str, Any]:
        return (self.trackers.categories or {}).get(key or "", {}) if key else {}

    def _learns(self, info: Any) -> str | None:
        if info is None:
            return None
        return getattr(info, "learns", None) or self._category_meta(info.category).get("learns")

    # -- search ---------------------------------------------------------------------------

    def search(self, snap: Snapshot, q: str = "", category: str = "", state: str = "", limit: int = 200) -> dict[str, Any]:
        """(site, third party) rows of the period matching a text (site, tracker or company), a category, a state."""
        q = q.strip().lower()
        found = []
        for x in snap.pairs:
            if category and (x.category or "unknown") != category:
                continue
            if q and q not in x.text:
                continue
            found.append(x)
        merged = merge_pairs(found)
        if state == "blocked":
            merged = [x for x in merged if x.blocked]
        elif state == "allowed":
            merged = [x for x in merged if x.blocked < x.requests]
        elif state == "trackers":
            merged = [x for x in merged if x.trackers]
        merged.sort(key=lambda x: (-x.requests, x.site, x.domain))
        rows = [{"site": x.site, "domain": x.domain, "owner": x.owner, "category": x.category,
                 "requests": x.requests, "trackers": x.trackers, "blocked": x.blocked,
                 "first_day": x.first_day, "last_day": x.last_day} for x in merged[:limit]]
        return {"total": len(merged), "rows": rows, "truncated": len(merged) > limit}

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
                blocked[x.domain] += min(x.blocked, x.trackers)
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
