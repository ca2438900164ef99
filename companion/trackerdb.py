"""The tracker knowledge base: who owns a domain, what kind of tracker it is, what it can learn.

It reads ``rules/trackers.json`` (shipped defaults, written for Crumbs) which has three parts:
``categories`` (label and a plain-language note on what that kind of tracker learns),
``companies`` (a homepage, the parent company when there is one, and every registrable domain the
company owns, so that a site's own CDN counts as "same owner") and ``trackers`` (registrable domains or more specific hostnames
mapped to owner, category and a one-line description).

Lookups are pure dictionary work on the hostname's suffixes, longest first, so that
``analytics.google.com`` can say something different from ``google.com``. No Flask, no network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import RULES_DIR
from .sites import is_public_suffix, parent_domains, registrable_domain

DEFAULT_PATH: Path = RULES_DIR / "trackers.json"
CRUMBS = "Crumbs"  # the source of a fact from the shipped knowledge base (others: companion/knowledge.py)

# How the bench and the tests judge that a description says what a tracker does with a person's data: it must
# contain one of these verbs, in any simple form (record, records, recorded; not the -ing noun-like form), as in
# "records the pages you read" or "syncs an ID with ad partners". A label such as "Opera Ads ad exchange." has
# none and fails. Kept here so that the bench and the tests share one definition.
DATA_VERBS: tuple[str, ...] = (
    "assign", "attribute", "auction", "bid", "build", "buy", "capture", "check", "collect", "combine", "compare",
    "convert", "count", "detect", "fingerprint", "follow", "forward", "gather", "identify", "infer", "keep", "learn",
    "link", "log", "map", "match", "measure", "merge", "monitor", "note", "pair", "pass", "profile", "read",
    "receive", "recognise", "record", "relay", "replay", "report", "retarget", "save", "score", "see", "segment",
    "sell", "send", "share", "store", "sync", "tag", "target", "tell", "tie", "time", "track", "upload", "watch",
)
_IRREGULAR = {"build": ("built",), "buy": ("bought",), "keep": ("kept",), "learn": ("learnt",), "log": ("logged",),
              "map": ("mapped",), "see": ("saw", "seen"), "sell": ("sold",), "send": ("sent",), "tag": ("tagged",),
              "tell": ("told",), "bid": ("bids",), "tie": ("ties", "tied")}


def _verb_forms(verb: str) -> set[str]:
    forms = {verb, *_IRREGULAR.get(verb, ())}
    if verb.endswith("y"):
        forms |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    elif verb.endswith(("s", "sh", "ch", "x")):
        forms |= {verb + "es", verb + "ed"}
    elif verb.endswith("e"):
        forms |= {verb + "s", verb + "d"}
    else:
        forms |= {verb + "s", verb + "ed"}
    return forms


@lru_cache(maxsize=1)
def _data_verb_rx() -> re.Pattern[str]:
    # Compiled on first use, not at import: a 200-word alternation, ~10 ms of every start (issue 14 item 5)
    # for a rule only the bench, the tests and the description checks apply.
    return re.compile(r"\b(" + "|".join(sorted({f for v in DATA_VERBS for f in _verb_forms(v)})) + r")\b",
                      re.IGNORECASE)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def says_what_it_does(description: str) -> bool:
    """True when ``description`` names what is done with data, by the DATA_VERBS rule."""
    return bool(_data_verb_rx().search(description or ""))


def sentences(description: str) -> list[str]:
    """The sentences of a description (split after . ! ? followed by a capital), stripped."""
    return [part.strip() for part in _SENTENCE_END.split((description or "").strip()) if part.strip()]


@dataclass(frozen=True, slots=True)
class TrackerInfo:
    """What Crumbs knows about one tracker entry (the longest suffix of a host that is listed)."""

    domain: str
    owner: str
    category: str
    category_label: str
    description: str
    learns: str
    parent: str | None = None  # the owner's parent company (Tapad -> Experian), None when independent
    # Where the owner and the category came from: "Crumbs" (this file) or a knowledge source's label
    # ("Disconnect", "DuckDuckGo"; see companion/knowledge.py), shown next to the fact.
    owner_source: str = CRUMBS
    category_source: str = CRUMBS


def _normalise(host: str) -> str:
    # Hosts arrive from URLs and user input: case, a trailing root dot and a port must not matter.
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("[") or host.count(":") > 1:  # IPv6 literal: never a listed name
        return host
    return host.split(":", 1)[0]


class TrackerDB:
    """Owners, categories and descriptions of known trackers, loaded from a ``trackers.json`` file."""

    def __init__(self, data: dict[str, Any], source: str = "<data>") -> None:
        self.source = source
        self._categories: dict[str, dict] = {}
        self._companies: dict[str, dict] = {}
        self._trackers: dict[str, TrackerInfo] = {}
        self._owner_by_domain: dict[str, str] = {}
        self._validate_and_index(data)
        self._facts: dict[str, TrackerInfo | None] = {}
        self._below: dict[str, list[TrackerInfo]] | None = None  # parent domain -> entries under it, listed order

    # -- loading -------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> "TrackerDB":
        """Load and validate a knowledge-base file (default: the shipped ``rules/trackers.json``).

        Cached per resolved path and modification time: every caller shares one read-only instance,
        and an edited file is read again.
        """
        resolved = Path(path or DEFAULT_PATH).resolve()
        try:
            mtime = resolved.stat().st_mtime_ns
        except OSError as exc:
            raise ValueError(f"{resolved}: cannot read the tracker knowledge base ({exc.strerror})") from None
        return _load_cached(str(resolved), mtime)

    @classmethod
    def from_file(cls, path: str | Path) -> "TrackerDB":
        """Load without the cache (tests, tools that edit the file)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the tracker knowledge base ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return cls(data, source=str(path))

    def _fail(self, message: str) -> None:
        raise ValueError(f"{self.source}: {message}")

    def _validate_and_index(self, data: Any) -> None:
        if not isinstance(data, dict):
            self._fail("the top level must be an object with categories, companies and trackers")
        for part in ("categories", "companies", "trackers"):
            if not isinstance(data.get(part), dict):
                self._fail(f"missing or malformed '{part}' (expected an object)")

        for key, cat in data["categories"].items():
            if not isinstance(cat, dict) or not all(isinstance(cat.get(f), str) and cat.get(f) for f in ("label", "learns")):
                self._fail(f"category '{key}' needs a non-empty 'label' and 'learns'")
            self._categories[key] = {"label": cat["label"], "learns": cat["learns"]}

        for name, company in data["companies"].items():
            domains = company.get("domains") if isinstance(company, dict) else None
            if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
                self._fail(f"company '{name}' needs a 'domains' list of domain names")
            parent = company.get("parent")
            if parent is not None and (not isinstance(parent, str) or not parent.strip() or parent == name):
                self._fail(f"company '{name}': 'parent' must be the name of another company")
            self._companies[name] = {"url": company.get("url", ""), "parent": parent,
                                     "domains": [d.lower() for d in domains]}
            for domain in self._companies[name]["domains"]:
                other = self._owner_by_domain.setdefault(domain, name)
                if other != name:
                    self._fail(f"domain '{domain}' is listed under two companies: '{other}' and '{name}'")

        self._check_parent_chains()

        for key, entry in data["trackers"].items():
            if not isinstance(entry, dict):
                self._fail(f"tracker '{key}' must be an object with owner, category and description")
            owner, category, description = entry.get("owner"), entry.get("category"), entry.get("description")
            if owner not in self._companies:
                self._fail(f"tracker '{key}': owner '{owner}' is not in companies")
            if category not in self._categories:
                self._fail(f"tracker '{key}': category '{category}' is not in categories")
            if not isinstance(description, str) or not description.strip():
                self._fail(f"tracker '{key}': description is empty")
            domain = _normalise(key)
            cat = self._categories[category]
            self._trackers[domain] = TrackerInfo(domain, owner, category, cat["label"], description, cat["learns"],
                                                 self._companies[owner]["parent"])
            # A tracker's own registrable domain belongs to its owner unless a company claims it.
            self._owner_by_domain.setdefault(domain, owner)

    def _check_parent_chains(self) -> None:
        # A parent may be a company without domains of its own here (Experian), but a chain of parents that
        # are listed companies must end: a loop would make "who is behind this" unanswerable.
        for name in self._companies:
            seen, current = {name}, self._companies[name]["parent"]
            while current in self._companies:
                if current in seen:
                    self._fail(f"company '{name}': its parent chain loops back through '{current}'")
                seen.add(current)
                current = self._companies[current]["parent"]

    # -- queries -------------------------------------------------------------------------------------
    def lookup(self, host: str) -> TrackerInfo | None:
        """The entry for the longest listed suffix of ``host`` (``www.google-analytics.com`` →
        ``google-analytics.com``), or None when nothing about it is known."""
        for suffix in parent_domains(_normalise(host)):
            info = self._trackers.get(suffix)
            if info is not None:
                return info
        return None

    def facts(self, domain: str) -> TrackerInfo | None:
        """THE facts every view shows about a tracker domain (owner, category label, description).

        Every page, the API and the verdicts show third parties by registrable domain, so one
        domain has one answer wherever it appears: the entry for the registrable domain itself
        when it is listed; otherwise (only some of its hosts are listed, such as hm.baidu.com) the
        category most of its listed hosts share, first listed on a tie. A host may be listed
        with a different category (analytics.google.com under google.com): that refines what a
        list match means, but is not shown apart, or the popup and the pages would disagree.
        ``domain`` may be any host: its registrable domain is used.
        """
        host = _normalise(domain)
        found = self._facts.get(host, False)
        if found is not False:
            return found
        registrable = registrable_domain(host) if host else host
        info = self._trackers.get(registrable)
        # A public suffix (com, co.uk) is no one's: merging the entries listed under it would give
        # "com" the owner of whichever .com tracker comes first.
        if info is None and not is_public_suffix(registrable):
            below = self._entries_below().get(registrable, [])
            if below:
                counts: dict[str, int] = {}
                for i in below:
                    counts[i.category] = counts.get(i.category, 0) + 1
                best = max(counts.values())
                chosen = next(i for i in below if counts[i.category] == best)
                info = TrackerInfo(registrable, chosen.owner, chosen.category, chosen.category_label,
                                   chosen.description, chosen.learns)
        if len(self._facts) > 50_000:
            self._facts.clear()
        self._facts[host] = info
        return info

    def _entries_below(self) -> dict[str, list[TrackerInfo]]:
        # The entries listed under each parent domain, in listed order, made once: a scan of every
        # entry per unlisted domain cost ~0.5 ms, and the history asks about thousands of domains.
        if self._below is None:
            below: dict[str, list[TrackerInfo]] = {}
            for key, info in self._trackers.items():
                for parent in list(parent_domains(key))[1:]:
                    below.setdefault(parent, []).append(info)
            self._below = below
        return self._below

    def category_label(self, key: str | None) -> str | None:
        """The human label of a category key (``tag-manager`` -> its label), None when unknown."""
        cat = self._categories.get(key or "")
        return cat["label"] if cat else None

    def owner_of(self, domain: str) -> str | None:
        """The company that owns ``domain`` (a registrable domain; a longer host also works), or None."""
        for suffix in parent_domains(_normalise(domain)):
            owner = self._owner_by_domain.get(suffix)
            if owner is not None:
                return owner
        return None

    def owner_with_source(self, domain: str) -> tuple[str | None, str | None]:
        """(owner, "Crumbs") or (None, None): the same question as :class:`companion.knowledge.Knowledge`."""
        owner = self.owner_of(domain)
        return owner, (CRUMBS if owner is not None else None)

    def same_owner(self, a: str, b: str) -> bool:
        """True when two different domains belong to the same known company (a site and its own CDN)."""
        a, b = _normalise(a), _normalise(b)
        if not a or not b or a == b:
            return False
        owner = self.owner_of(a)
        return owner is not None and owner == self.owner_of(b)

    @property
    def categories(self) -> dict[str, dict]:
        """Category key → ``{"label", "learns"}`` (a copy: callers may not change the knowledge base)."""
        return {key: dict(value) for key, value in self._categories.items()}

    @property
    def companies(self) -> dict[str, dict]:
        """Company name → ``{"url", "parent", "domains"}`` (a copy; parent is None for independent companies)."""
        return {name: {"url": c["url"], "parent": c["parent"], "domains": list(c["domains"])}
                for name, c in self._companies.items()}

    def parent_of(self, owner: str) -> str | None:
        """The parent company of ``owner`` (``Tapad`` → ``Experian``), or None (independent or unknown)."""
        company = self._companies.get(owner)
        return company["parent"] if company else None

    def domains_of(self, owner: str) -> list[str]:
        """Every registrable domain known to belong to ``owner`` (empty for an unknown company)."""
        company = self._companies.get(owner)
        if company is None:
            return []
        extra = [d for d, o in self._owner_by_domain.items() if o == owner and d not in company["domains"]]
        return list(company["domains"]) + sorted(extra)

    def descriptions(self) -> dict[str, str]:
        """Every listed tracker key → its description (for quality checks: bench and tests)."""
        return {key: info.description for key, info in self._trackers.items()}

    def tracker_domains(self) -> list[str]:
        """Every listed tracker key (domain or hostname)."""
        return list(self._trackers)

    def __len__(self) -> int:
        return len(self._trackers)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> TrackerDB:
    return TrackerDB.from_file(path)
