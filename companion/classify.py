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

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from .domains import NotANetworkURL, URLParts, parse_url

if TYPE_CHECKING:
    from .engine import Engine
    from .trackerdb import TrackerDB

# The webRequest ResourceType vocabulary (Chrome and Firefox share these names).
REQUEST_TYPES = (
    "main_frame", "sub_frame", "stylesheet", "script", "image", "font", "object",
    "xmlhttprequest", "ping", "csp_report", "media", "websocket", "other",
    # Firefox-only names, folded into the nearest common one by normalise_type().
    "beacon", "imageset", "object_subrequest", "speculative", "web_manifest", "xslt", "xml_dtd",
)
_FIREFOX_ALIASES = {"beacon": "ping", "imageset": "image", "object_subrequest": "object"}

DECIDED_BY = ("site-tracker", "site-trust", "tracker-everywhere", "list-default", "report-only", "not-a-tracker")


def normalise_type(request_type: str) -> str:
    """Map a webRequest type (Chrome or Firefox spelling) onto the shared vocabulary."""
    if request_type in _FIREFOX_ALIASES:
        return _FIREFOX_ALIASES[request_type]
    if request_type in REQUEST_TYPES[:13]:
        return request_type
    if request_type in REQUEST_TYPES:
        return "other"
    raise ValueError(f"unknown request type {request_type!r}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A request's explained verdict. ``to_dict()`` is the JSON VERDICT object of the API and CLI.

    The field names are a public contract (API, ``crumbs check --json``): add, never rename.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Classifier:
    """Classifies requests with a filter :class:`Engine` and a :class:`TrackerDB` of owners and categories."""

    def __init__(self, engine: Engine, trackers: TrackerDB) -> None:
        self.engine = engine
        self.trackers = trackers

    def classify(self, url: str, page_url: str | None, request_type: str) -> Verdict:
        """Classify one request. Raises ``ValueError`` (with a readable reason) for a URL or type it cannot judge.

        ``page_url`` is the top-level page the request was made for; ``None`` or empty means the
        browser did not say (no initiator): the request is then third-party with no page domain.
        The verdict's ``blocked``/``decided_by`` are the list default, before any user choice.
        """
        rtype = normalise_type(request_type)
        req = parse_url(url)
        page: URLParts | None = None
        if page_url:
            page = parse_url(page_url)
        page_domain = page.domain if page else None
        third_party = page_domain != req.domain
        same_owner = bool(third_party and page_domain and self.trackers.same_owner(req.domain, page_domain))

        match = self.engine.match(url, page_url or None, rtype)
        info = self.trackers.lookup(req.host)
        counted = third_party and not same_owner
        listed_block = bool(match and match.blocked)
        tracker = listed_block and counted
        return Verdict(
            url=url,
            type=rtype,
            host=req.host,
            domain=req.domain,
            page_domain=page_domain,
            third_party=third_party,
            same_owner=same_owner,
            tracker=tracker,
            owner=info.owner if info else self.trackers.owner_of(req.domain),
            category=info.category if info else None,
            category_label=info.category_label if info else None,
            description=info.description if info else None,
            learns=info.learns if info else None,
            filter=match.filter if match else None,
            list=match.list if match else None,
            exception=bool(match and not match.blocked),
            overridden_filter=match.overridden_filter if match else None,
            blocked=tracker,
            decided_by="list-default" if tracker else "not-a-tracker",
        )


def with_decision(verdict: Verdict, blocked: bool, decided_by: str) -> Verdict:
    """A copy of ``verdict`` carrying the policy's decision."""
    return replace(verdict, blocked=blocked, decided_by=decided_by)


__all__ = ["Classifier", "Verdict", "NotANetworkURL", "REQUEST_TYPES", "DECIDED_BY", "normalise_type", "with_decision"]
