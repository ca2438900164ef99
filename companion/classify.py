"""Classification: what a request is, before the user's choices are applied.

For one request (its URL, the page it was made for, its webRequest type) the classifier
answers: which host and site it goes to, whether that is a third party, whether a filter
list calls it a tracker (and which filter of which list), and who owns it and what kind
of tracker it is. The user's choices come after, in :mod:`companion.policy`.

A request counts as a *tracker* when a list blocks it, it is third-party, and its
domain is not owned by the same company as the page (a site's own CDN domain is not a
third party watching you). A first-party match is still reported (``filter``) so the
person can see it, but it is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from .sites import NotANetworkURL, URLParts, host_and_domain, parse_url
from .surrogates import find as find_surrogate

if TYPE_CHECKING:
    from .engine import Engine
    from .trackerdb import TrackerDB

# The webRequest ResourceType vocabulary that Chrome and Firefox share: what Crumbs records.
REQUEST_TYPES = (
    "main_frame", "sub_frame", "stylesheet", "script", "image", "font", "object",
    "xmlhttprequest", "ping", "csp_report", "media", "websocket", "other",
)
# Firefox-only names, folded into the nearest shared one (anything else Firefox-only is "other").
_FIREFOX_TYPES = {
    "beacon": "ping", "imageset": "image", "object_subrequest": "object",
    "speculative": "other", "web_manifest": "other", "xslt": "other", "xml_dtd": "other",
}

_SHARED_TYPES = frozenset(REQUEST_TYPES)

DECIDED_BY = ("site-tracker", "site-trust", "tracker-everywhere", "list-default", "report-only", "not-a-tracker")


def normalise_type(request_type: str) -> str:
    """Map a webRequest type (Chrome or Firefox spelling) onto the shared vocabulary."""
    if request_type in REQUEST_TYPES:
        return request_type
    if request_type in _FIREFOX_TYPES:
        return _FIREFOX_TYPES[request_type]
    raise ValueError(f"unknown request type {request_type!r}")


@dataclass(slots=True)
class Verdict:
    """A request's explained verdict. ``to_dict()`` is the JSON VERDICT object of the API and CLI.

    The field names are a public contract (API, ``crumbs check --json``): add, never rename.
    Each classification makes a fresh Verdict, and the policy writes its decision into it
    (``blocked``, ``decided_by``) rather than copying it: this is the per-request hot path.
    """

    url: str
    type: str
    host: str
    domain: str
    page_domain: str | None
    third_party: bool
    same_owner: bool
    tracker: bool
    owner: str | None
    category: str | None
    category_label: str | None
    description: str | None
    learns: str | None
    filter: str | None  # the filter that decided the list's answer (a block, or the exception that won)
    list: str | None
    exception: bool  # True when ``filter`` is an @@ exception that overrode a block
    overridden_filter: str | None  # the block an exception overrode, or the exception an $important block overrode
    blocked: bool
    decided_by: str
    # The stand-in script the browser serves instead of this (blocked) script, by catalog name, else None.
    surrogate: str | None = None
    # Where ``owner`` and ``category`` came from: "Crumbs" (the shipped knowledge base) or a knowledge
    # source's label ("Disconnect", "DuckDuckGo"; companion/knowledge.py); None when there is no such fact.
    owner_source: str | None = None
    category_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, and this runs once per reported request.
        return {name: getattr(self, name) for name in _VERDICT_FIELDS}


_VERDICT_FIELDS = tuple(f.name for f in fields(Verdict))


class Classifier:
    """Classifies requests with a filter :class:`Engine` and a :class:`TrackerDB` of owners and categories."""

    # Per-host answers of the tracker knowledge base are memoised: a person meets a few thousand
    # hosts, each many times, and the lookups walk every parent domain.
    _MEMO_LIMIT = 50_000

    def __init__(self, engine: Engine, trackers: TrackerDB) -> None:
        self.engine = engine
        self.trackers = trackers
        self._about_host: dict[str, tuple[Any, str | None]] = {}
        self._same_owner: dict[tuple[str, str], bool] = {}
        self._pages: dict[str, URLParts] = {}
        self._about_pair: dict[tuple[str, str | None], tuple] = {}

    def _host_facts(self, host: str, domain: str) -> tuple[Any, str | None, str | None]:
        facts = self._about_host.get(host)
        if facts is None:
            if len(self._about_host) > self._MEMO_LIMIT:
                self._about_host.clear()
            # One answer per registrable domain (TrackerDB.facts), the same the pages show; with each
            # fact's source (Crumbs or a knowledge source, companion/knowledge.py).
            info = self.trackers.facts(domain)
            if info is not None:
                facts = (info, info.owner, info.owner_source)
            else:
                facts = (None, *self.trackers.owner_with_source(domain))
            self._about_host[host] = facts
        return facts

    def _is_same_owner(self, domain: str, page_domain: str) -> bool:
        key = (domain, page_domain)
        same = self._same_owner.get(key)
        if same is None:
            if len(self._same_owner) > self._MEMO_LIMIT:
                self._same_owner.clear()
            same = self._same_owner[key] = self.trackers.same_owner(domain, page_domain)
        return same

    def classify(self, url: str, page_url: str | None, request_type: str) -> Verdict:
        """Classify one request. Raises ``ValueError`` (with a readable reason) for a URL or type it cannot judge.

        ``page_url`` is the top-level page the request was made for; ``None`` or empty means the
        browser did not say (no initiator): the request is then third-party with no page domain.
        The verdict's ``blocked``/``decided_by`` are the list default, before any user choice.
        """
        rtype = request_type if request_type in _SHARED_TYPES else normalise_type(request_type)
        host, domain = host_and_domain(url)
        page: URLParts | None = None
        if page_url:
            # A page makes dozens of requests: parse its URL once.
            page = self._pages.get(page_url)
            if page is None:
                if len(self._pages) > 1000:
                    self._pages.clear()
                page = self._pages[page_url] = parse_url(page_url)
        page_domain = page.domain if page else None
        # Everything but the filter match depends on the host and the page's site alone: worked out once
        # per pair (a person meets a few thousand, each many times). The memo lives as long as this
        # Classifier, which the companion replaces when the lists or the knowledge sources change.
        key = (host, page_domain)
        about = self._about_pair.get(key)
        if about is None:
            if len(self._about_pair) > self._MEMO_LIMIT:
                self._about_pair.clear()
            third_party = page_domain != domain
            same_owner = bool(third_party and page_domain and self._is_same_owner(domain, page_domain))
            info, owner, owner_source = self._host_facts(host, domain)
            about = self._about_pair[key] = (
                domain, third_party, same_owner, third_party and not same_owner, owner,
                info.category if info else None, info.category_label if info else None,
                info.description if info else None, info.learns if info else None, owner_source,
                info.category_source if info else None)
        (domain, third_party, same_owner, counted, owner, category, category_label, description, learns,
         owner_source, category_source) = about
        match = self.engine.match(url, page_url or None, rtype)
        if match is None:
            return Verdict(url, rtype, host, domain, page_domain, third_party, same_owner, False, owner, category,
                           category_label, description, learns, None, None, False, None, False, "not-a-tracker",
                           None, owner_source, category_source)
        tracker = match.blocked and counted
        return Verdict(url, rtype, host, domain, page_domain, third_party, same_owner, tracker, owner, category,
                       category_label, description, learns, match.filter, match.list, not match.blocked,
                       match.overridden_filter, tracker, "list-default" if tracker else "not-a-tracker", None,
                       owner_source, category_source)


def with_decision(verdict: Verdict, blocked: bool, decided_by: str) -> Verdict:
    """Record the policy's decision in ``verdict`` (a fresh object from :meth:`Classifier.classify`)."""
    verdict.blocked = blocked
    verdict.decided_by = decided_by
    # A blocked script with a stand-in is answered by the stand-in (see companion/surrogates.py).
    verdict.surrogate = _surrogate_name(verdict.url, verdict.type) if blocked and verdict.type == "script" else None
    return verdict


def _surrogate_name(url: str, request_type: str) -> str | None:
    found = find_surrogate(url, request_type)
    return found.name if found else None


__all__ = ["Classifier", "Verdict", "NotANetworkURL", "REQUEST_TYPES", "DECIDED_BY", "normalise_type", "with_decision"]
