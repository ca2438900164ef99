"""Knowledge sources: public tracker databases a person adds, merged *under* Crumbs' own knowledge base.

Two formats are understood (both checked for shape here; the download is :mod:`companion.lists.sources`):

- **Disconnect** ``services.json``: ``{"categories": {"Advertising": [{"Company": {"https://home/": [domains],
  "performance": "true"}}], ...}}``. The company is the owner of every domain listed under it.
- **DuckDuckGo** tracker blocklist (TDS): ``{"trackers": {domain: {"owner": {"name", "displayName"},
  "categories": [...], ...}}, "entities": {name: {"domains", "displayName"}}, "domains": {domain: name}}``.
  A tracker's owner is its ``owner.displayName`` (else ``name``); ``domains`` + ``entities`` name the
  owner of non-tracker domains of the same company.

Their category names are mapped onto Crumbs' category slugs (:data:`DISCONNECT_CATEGORIES`,
:data:`TDS_CATEGORIES`): when an entry has several, the first slug in :data:`CATEGORY_PRIORITY` wins
(the most specific kind: session replay before analytics, audience measurement before advertising).
An entry whose categories map to nothing Crumbs names (Disconnect's Content, Email, Cryptomining; TDS's
CDN, Embedded Content) still brings its owner, but no category.

Merging (:class:`Knowledge`): Crumbs' shipped knowledge base wins wherever it has an entry. A source
fills in a tracker entry (owner + category) where Crumbs has none, and an owner where Crumbs knows
none; sources are consulted in the order they were added. Every :class:`TrackerInfo` says where its
owner and category came from (``owner_source``/``category_source``: ``"Crumbs"`` or the source's
label). "Same owner" (a site's own CDN is not counted as a tracker) stays Crumbs' own judgement: a
source names owners, it does not change what is counted.

Pure data work: no Flask, no network, no database.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .sites import parent_domains, registrable_domain
from .trackerdb import CRUMBS, TrackerDB, TrackerInfo, _normalise

# Most specific first: when a source gives several categories, the first of these that it maps to wins.
CATEGORY_PRIORITY: tuple[str, ...] = (
    "session-replay", "fingerprinting", "tag-manager", "consent", "audience-measurement", "identity",
    "advertising", "social", "analytics", "customer-interaction", "monitoring", "essential",
)

# Disconnect's categories -> Crumbs' slugs (None: owner only). "Disconnect" holds the big platforms'
# tracking domains without saying which kind; Content, Email* and Cryptomining are not kinds Crumbs names.
DISCONNECT_CATEGORIES: dict[str, str | None] = {
    "Advertising": "advertising",
    "Analytics": "analytics",
    "Social": "social",
    "FingerprintingInvasive": "fingerprinting",
    "FingerprintingGeneral": "fingerprinting",
    "ConsentManagers": "consent",
    "Content": None,
    "Cryptomining": None,
    "Disconnect": None,
    "Email": None,
    "EmailAggressive": None,
    "Anti-fraud": None,
}

# DuckDuckGo's (Tracker Radar) categories -> Crumbs' slugs; unknown names map to nothing.
TDS_CATEGORIES: dict[str, str | None] = {
    "Session Replay": "session-replay",
    "Tag Manager": "tag-manager",
    "Consent Management Platform": "consent",
    "Audience Measurement": "audience-measurement",
    "Advertising": "advertising",
    "Ad Motivated Tracking": "advertising",
    "Action Pixels": "advertising",
    "Social Network": "social",
    "Social - Comment": "social",
    "Social - Share": "social",
    "Analytics": "analytics",
    "Third-Party Analytics Marketing": "analytics",
    "Support Chat Widget": "customer-interaction",
    "CDN": "essential",
    "Non-Tracking": "essential",
}

MAX_NAME = 200  # an owner name longer than this is not a name; such entries are dropped


class SourceFormatError(ValueError):
    """The data is not a knowledge source Crumbs understands (not JSON, or not the expected shape)."""


@dataclass(frozen=True, slots=True)
class SourceEntry:
    owner: str
    category: str | None


@dataclass
class SourceFacts:
    """What one source says: tracker entries by domain or hostname, and owners of further domains."""

    label: str  # shown next to each fact: "from Disconnect"
    format: str  # "disconnect" | "tds"
    trackers: dict[str, SourceEntry] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def entry(self, host: str) -> tuple[str, SourceEntry] | None:
        for suffix in parent_domains(host):
            found = self.trackers.get(suffix)
            if found is not None:
                return suffix, found
        return None

    def owner_of(self, host: str) -> str | None:
        for suffix in parent_domains(host):
            owner = self.owners.get(suffix)
            if owner is not None:
                return owner
            found = self.trackers.get(suffix)
            if found is not None:
                return found.owner
        return None


def _pick(slugs: Iterable[str | None]) -> str | None:
    wanted = {s for s in slugs if s}
    return next((s for s in CATEGORY_PRIORITY if s in wanted), None)


def _domain(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    host = _normalise(value)
    if not host or len(host) > 253 or "." not in host or any(c in host for c in "/ \t\r\n*"):
        return None
    return host


def _name(value: Any) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_NAME:
        return " ".join(value.split())
    return None


def parse_disconnect(data: Any, label: str = "Disconnect") -> SourceFacts:
    """Read Disconnect's ``services.json`` shape; raise :class:`SourceFormatError` if it is not that."""
    categories = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(categories, dict):
        raise SourceFormatError("not a Disconnect services file: no 'categories' object")
    facts = SourceFacts(label, "disconnect")
    seen: dict[str, tuple[str, set[str | None]]] = {}
    for category, companies in categories.items():
        if not isinstance(companies, list):
            raise SourceFormatError(f"category {str(category)[:60]!r} is not a list of companies")
        slug = DISCONNECT_CATEGORIES.get(category)
        for company in companies:
            if not isinstance(company, dict):
                raise SourceFormatError(f"an entry of {str(category)[:60]!r} is not an object")
            for name, sites in company.items():
                owner = _name(name)
                if owner is None or not isinstance(sites, dict):
                    continue
                for homepage, domains in sites.items():
                    if not isinstance(domains, list):
                        continue  # flags such as "performance": "true"
                    for raw in domains:
                        domain = _domain(raw)
                        if domain is None:
                            continue
                        held = seen.setdefault(domain, (owner, set()))
                        held[1].add(slug)
    for domain, (owner, slugs) in seen.items():
        facts.trackers[domain] = SourceEntry(owner, _pick(slugs))
    if not facts.trackers:
        raise SourceFormatError("the Disconnect file names no domain")
    return facts


def parse_tds(data: Any, label: str = "DuckDuckGo") -> SourceFacts:
    """Read DuckDuckGo's tracker blocklist (TDS) shape; raise :class:`SourceFormatError` if it is not that."""
    trackers = data.get("trackers") if isinstance(data, dict) else None
    if not isinstance(trackers, dict):
        raise SourceFormatError("not a DuckDuckGo tracker blocklist: no 'trackers' object")
    entities = data.get("entities") or {}
    domains = data.get("domains") or {}
    if not isinstance(entities, dict) or not isinstance(domains, dict):
        raise SourceFormatError("'entities' and 'domains' must be objects")
    facts = SourceFacts(label, "tds")

    def display(entity: Any) -> str | None:
        info = entities.get(entity) if isinstance(entity, str) else None
        shown = info.get("displayName") if isinstance(info, dict) else None
        return _name(shown) or _name(entity)

    for key, entry in trackers.items():
        domain = _domain(key)
        if domain is None or not isinstance(entry, dict):
            continue
        owner_field = entry.get("owner")
        owner = None
        if isinstance(owner_field, dict):
            owner = _name(owner_field.get("displayName")) or _name(owner_field.get("name"))
        owner = owner or display(domains.get(domain))
        if owner is None:
            continue
        cats = entry.get("categories") or []
        slug = _pick(TDS_CATEGORIES.get(c) for c in cats if isinstance(c, str)) if isinstance(cats, list) else None
        facts.trackers[domain] = SourceEntry(owner, slug)
    for key, entity in domains.items():
        domain, owner = _domain(key), display(entity)
        if domain and owner:
            facts.owners[domain] = owner
    if not facts.trackers:
        raise SourceFormatError("the DuckDuckGo file names no tracker")
    return facts


def parse_source(raw: bytes, label: str) -> SourceFacts:
    """Recognise and read a downloaded source (either format); raise :class:`SourceFormatError`."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SourceFormatError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SourceFormatError(f"not JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict) and "trackers" in data:
        return parse_tds(data, label)
    if isinstance(data, dict) and "categories" in data:
        return parse_disconnect(data, label)
    raise SourceFormatError("neither a Disconnect services file nor a DuckDuckGo tracker blocklist")


class Knowledge:
    """Crumbs' knowledge base with the person's sources merged under it; a drop-in for :class:`TrackerDB`.

    One object lives as long as the companion; :meth:`use` swaps the sources (after an add, update or
    remove) and bumps :attr:`rev` so memoising readers (the history) know to forget what they cached.
    """

    def __init__(self, base: TrackerDB, sources: Sequence[SourceFacts] = ()) -> None:
        self.base = base
        self.source = base.source
        self._sources: tuple[SourceFacts, ...] = tuple(sources)
        self._lock = threading.Lock()
        self.rev = 0

    def use(self, sources: Sequence[SourceFacts]) -> None:
        """Put these sources in force (in this order of precedence)."""
        with self._lock:
            self._sources = tuple(sources)
            self.rev += 1

    @property
    def sources(self) -> tuple[SourceFacts, ...]:
        return self._sources

    # -- the TrackerDB interface, merged ---------------------------------------------------

    def lookup(self, host: str) -> TrackerInfo | None:
        """Crumbs' entry if it has one; else the first source's entry that has a category Crumbs names."""
        info = self.base.lookup(host)
        if info is not None or not self._sources:
            return info
        host = _normalise(host)
        for facts in self._sources:
            found = facts.entry(host)
            if found is None or found[1].category is None:
                continue
            domain, entry = found
            category = self.base.categories.get(entry.category)
            if category is None:  # a slug the shipped base does not define (cannot happen with ours)
                continue
            crumbs_owner = self.base.owner_of(host)
            return TrackerInfo(
                domain, crumbs_owner or entry.owner, entry.category, category["label"], "", category["learns"],
                parent=self.base.parent_of(crumbs_owner) if crumbs_owner else None,
                owner_source=CRUMBS if crumbs_owner else facts.label, category_source=facts.label,
            )
        return None

    def facts(self, domain: str) -> TrackerInfo | None:
        """The one answer every view gives about a tracker domain (:meth:`TrackerDB.facts`): Crumbs' if it
        has one; else the first source's entry for the registrable domain (or a parent of it)."""
        info = self.base.facts(domain)
        if info is not None or not self._sources:
            return info
        host = _normalise(domain)
        return self.lookup(registrable_domain(host) if host else host)

    def owner_with_source(self, domain: str) -> tuple[str | None, str | None]:
        """(owner, where that came from) for a domain or host: Crumbs first, then each source in order."""
        owner = self.base.owner_of(domain)
        if owner is not None:
            return owner, CRUMBS
        host = _normalise(domain)
        for facts in self._sources:
            owner = facts.owner_of(host)
            if owner is not None:
                return owner, facts.label
        return None, None

    def owner_of(self, domain: str) -> str | None:
        return self.owner_with_source(domain)[0]

    def same_owner(self, a: str, b: str) -> bool:
        # Crumbs' judgement only: what is counted as a tracker does not change with a source.
        return self.base.same_owner(a, b)

    @property
    def categories(self) -> dict[str, dict]:
        return self.base.categories

    @property
    def companies(self) -> dict[str, dict]:
        return self.base.companies

    def domains_of(self, owner: str) -> list[str]:
        known = self.base.domains_of(owner)
        if known or not self._sources:
            return known
        found: set[str] = set()
        for facts in self._sources:
            found.update(d for d, e in facts.trackers.items() if e.owner == owner)
            found.update(d for d, o in facts.owners.items() if o == owner)
        return sorted(found)

    def tracker_domains(self) -> list[str]:
        return self.base.tracker_domains()

    def __getattr__(self, name: str) -> Any:
        # Any other question is the shipped knowledge base's alone (e.g. a company's parent, descriptions).
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def __len__(self) -> int:
        return len(self.base)


def merged(base: TrackerDB | Knowledge, sources: Sequence[SourceFacts] = ()) -> Knowledge:
    """``base`` as a :class:`Knowledge` (a TrackerDB is wrapped; a Knowledge gets these sources)."""
    if isinstance(base, Knowledge):
        base.use(sources)
        return base
    return Knowledge(base, sources)
