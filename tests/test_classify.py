"""Classification: third party or not, tracker or not, who owns it, and which filter said so."""

import pytest

from companion.classify import Classifier
from companion.engine import Engine
from companion.trackerdb import TrackerDB

LIST = """[Adblock Plus 2.0]
! Title: test list
||tracker.test^
||ads.example^$third-party
@@||tracker.test/consent/$script
||analytics.example^$important
@@||analytics.example^
/pixel.gif?
"""


@pytest.fixture(scope="module")
def classifier():
    return Classifier(Engine.from_lists([("test", LIST)]), TrackerDB.load())


def test_a_private_suffix_neighbour_is_a_third_party():
    # The one site rule (companion.sites): bob.github.io is another site than alice.github.io,
    # for the engine's $third-party and for classification alike.
    c = Classifier(Engine.from_lists([("t", "||bob.github.io^$third-party\n")]), TrackerDB.load())
    v = c.classify("https://bob.github.io/t.js", "https://alice.github.io/", "script")
    assert v.third_party and v.tracker and v.blocked
    assert v.filter == "||bob.github.io^$third-party"
    same = c.classify("https://bob.github.io/t.js", "https://bob.github.io/page", "script")
    assert not same.third_party and not same.tracker and same.filter is None


def test_two_hosts_under_gob_mx_are_different_sites(classifier):
    v = classifier.classify("https://b.gob.mx/x.js", "https://a.gob.mx/", "script")
    assert v.third_party and (v.domain, v.page_domain) == ("b.gob.mx", "a.gob.mx")


@pytest.fixture(scope="module")
def big(list_paths):
    """EasyList + EasyPrivacy, as a person who subscribed to them has."""
    engine = Engine.from_files(list_paths)
    return Classifier(engine, TrackerDB.load())


def test_a_listed_third_party_is_a_tracker_with_its_filter_and_list(classifier):
    v = classifier.classify("https://cdn.tracker.test/t.js", "https://news.example/a", "script")
    assert (v.third_party, v.tracker, v.blocked) == (True, True, True)
    assert (v.filter, v.list, v.exception) == ("||tracker.test^", "test", False)
    assert v.domain == "tracker.test" and v.page_domain == "news.example"


def test_an_exception_that_overrode_a_block_is_reported(classifier):
    v = classifier.classify("https://tracker.test/consent/cmp.js", "https://news.example/", "script")
    assert v.tracker is False and v.blocked is False and v.exception is True
    assert v.filter == "@@||tracker.test/consent/$script" and v.overridden_filter == "||tracker.test^"


def test_an_important_filter_beats_the_exception(classifier):
    v = classifier.classify("https://analytics.example/collect", "https://news.example/", "ping")
    assert v.tracker is True and v.filter == "||analytics.example^$important"
    assert v.overridden_filter == "@@||analytics.example^"


def test_a_first_party_match_is_reported_but_not_counted(classifier):
    v = classifier.classify("https://news.example/img/pixel.gif?u=1", "https://news.example/", "image")
    assert v.third_party is False and v.filter == "/pixel.gif?"
    assert v.tracker is False and v.decided_by == "not-a-tracker"


def test_no_page_means_third_party_without_a_page_domain(classifier):
    v = classifier.classify("https://ads.example/x.js", None, "script")
    assert v.page_domain is None and v.third_party is True and v.tracker is True


@pytest.mark.parametrize("url, page, third_party", [
    ("http://127.0.0.1:8080/x.js", "http://127.0.0.1:9090/", False),  # same IP, other port: same site
    ("http://10.0.0.2/x.js", "http://10.0.0.1/", True),
    ("http://localhost:3000/api", "http://localhost:8000/", False),
    ("https://xn--bcher-kva.de/x.js", "https://www.Bücher.de/", False),
    ("wss://live.tracker.test/socket", "https://news.example/", True),
])
def test_edge_case_hosts(classifier, url, page, third_party):
    assert classifier.classify(url, page, "other").third_party is third_party


@pytest.mark.parametrize("url", ["data:image/gif;base64,R0lGOD", "blob:https://news.example/1", "about:blank",
                                 "chrome-extension://abc/x.js"])
def test_non_network_urls_are_refused(classifier, url):
    with pytest.raises(ValueError):
        classifier.classify(url, "https://news.example/", "image")


def test_unknown_type_is_refused_and_firefox_types_are_folded(classifier):
    with pytest.raises(ValueError):
        classifier.classify("https://tracker.test/", "https://news.example/", "bogus")
    assert classifier.classify("https://tracker.test/b", "https://news.example/", "beacon").type == "ping"


def test_owner_and_category_come_with_a_plain_description(big):
    v = big.classify("https://www.google-analytics.com/analytics.js", "https://www.clarin.com/", "script")
    assert v.tracker and v.owner == "Google" and v.category == "analytics"
    assert v.description and v.learns and v.category_label
    assert v.list in ("easylist", "easyprivacy")


def test_a_sites_own_cdn_owned_by_the_same_company_is_same_owner(big):
    v = big.classify("https://i.ytimg.com/vi/x/hqdefault.jpg", "https://www.youtube.com/", "image")
    assert v.third_party is True and v.same_owner is True and v.tracker is False
