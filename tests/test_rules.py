"""The shipped rules: the list parses everywhere without rejected lines, covers the common trackers,
and agrees with the knowledge base (every tracker in the list has an owner, category and description)."""

from __future__ import annotations

import re
from pathlib import Path

import adblock
import pytest

from companion.engine import Engine
from companion.trackerdb import RULES_DIR, TrackerDB

LIST = RULES_DIR / "crumbs-trackers.txt"
NEWS = "https://www.lanacion.com.ar/politica/nota/"


def network_lines(path: Path = LIST) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("!") and not line.startswith("["):
            lines.append(line)
    return lines


def listed_hosts() -> set[str]:
    """Hosts blocked outright by a plain `||host^` line."""
    return {m.group(1) for line in network_lines() if (m := re.fullmatch(r"\|\|([a-z0-9.-]+)\^", line))}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_files([LIST])


@pytest.fixture(scope="module")
def db() -> TrackerDB:
    return TrackerDB.load()


def test_header_names_the_list_and_its_licence():
    head = LIST.read_text(encoding="utf-8").splitlines()[:8]
    assert head[0] == "[Adblock Plus 2.0]"
    for field in ("! Title: Crumbs trackers", "! Expires:", "! Homepage:", "! Licence:"):
        assert any(line.startswith(field) for line in head), field


def test_every_line_is_a_network_filter_without_duplicates():
    lines = network_lines()
    assert len(lines) == len(set(lines)), "duplicate filters"
    assert not [line for line in lines if "##" in line or "#@#" in line], "cosmetic filters do not belong here"


def test_adblock_rust_accepts_every_line():
    filter_set = adblock.FilterSet(debug=True)
    filter_set.add_filter_list(LIST.read_text(encoding="utf-8"))
    reference = adblock.Engine(filter_set, optimize=False)
    rejected = [line for line in network_lines() if not reference.filter_exists(line)]
    assert rejected == []


def test_crumbs_engine_accepts_every_line(engine):
    stats = engine.stats["crumbs-trackers"]
    assert stats.rejected == 0 and stats.inactive == 0
    assert stats.used == len(network_lines())


@pytest.mark.parametrize("url, page, kind", [
    ("https://www.google-analytics.com/g/collect?v=2&tid=G-X", NEWS, "xmlhttprequest"),
    ("https://securepubads.g.doubleclick.net/tag/js/gpt.js", NEWS, "script"),
    ("https://connect.facebook.net/en_US/fbevents.js", NEWS, "script"),
    ("https://www.facebook.com/tr/?id=1&ev=PageView", NEWS, "image"),
    ("https://www.google.com/pagead/1p-user-list/123/?random=1", NEWS, "image"),
    ("https://www.google.com.ar/ads/ga-audiences?v=1", NEWS, "image"),
    ("https://bat.bing.com/bat.js", NEWS, "script"),
    ("https://www.clarity.ms/tag/abc", NEWS, "script"),
    ("https://analytics.tiktok.com/i18n/pixel/events.js", NEWS, "script"),
    ("https://static.hotjar.com/c/hotjar-1.js", NEWS, "script"),
    ("https://sb.scorecardresearch.com/b?c1=2", NEWS, "image"),
    ("https://px.ads.linkedin.com/collect?pid=1", NEWS, "image"),
    ("https://www.youtube.com/generate_204?x", NEWS, "image"),
])
def test_common_trackers_are_flagged(engine, url, page, kind):
    match = engine.match(url, page, kind)
    assert match is not None and match.blocked, url


@pytest.mark.parametrize("url, kind", [
    ("https://fonts.googleapis.com/css2?family=Roboto", "stylesheet"),
    ("https://www.youtube.com/iframe_api", "script"),
    ("https://www.google.com/recaptcha/api.js", "script"),
    ("https://connect.facebook.net/es_LA/sdk.js", "script"),
    ("https://cdn.jsdelivr.net/npm/jquery@3/dist/jquery.min.js", "script"),
    ("https://accounts.google.com/gsi/client", "script"),
    ("https://www.lanacion.com.ar/pf/resources/app.js", "script"),
])
def test_needed_content_on_mixed_domains_is_not_flagged(engine, url, kind):
    match = engine.match(url, NEWS, kind)
    assert match is None or not match.blocked, url


def test_at_least_300_tracker_domains_are_in_both_the_list_and_the_knowledge_base(db):
    both = {host for host in listed_hosts() if db.lookup(host) is not None}
    assert len(both) >= 300, len(both)


def test_every_host_the_list_blocks_is_explained(db):
    unexplained = sorted(host for host in listed_hosts() if db.lookup(host) is None)
    assert unexplained == []


def test_google_analytics_from_a_news_site_is_google_analytics(engine, db):
    url = "https://www.google-analytics.com/analytics.js"
    assert engine.match(url, NEWS, "script").blocked
    info = db.lookup("www.google-analytics.com")
    assert (info.owner, info.category) == ("Google", "analytics")


# --- country domains: a path a company collects on at one country domain is flagged on all of them ----------

@pytest.mark.parametrize("host", ["www.google.com", "www.google.com.ar", "www.google.co.uk", "www.google.de",
                                  "www.google.co.jp", "www.google.com.br", "adservice.google.fr", "www.google.sk"])
@pytest.mark.parametrize("path", ["/pagead/1p-conversion/123/?random=1", "/pagead/1p-user-list/123/?x=1",
                                  "/ads/measurement/l?ebcid=1", "/measurement/conversion/?x=1", "/ccm/collect?en=page_view"])
def test_google_collection_paths_on_every_country_domain(engine, db, host, path):
    match = engine.match(f"https://{host}{path}", NEWS, "image")
    assert match is not None and match.blocked, host + path
    assert db.lookup(host).owner == "Google"  # and every one of those hosts is explained


@pytest.mark.parametrize("host", ["adservice.google.com", "adservice.google.co.uk", "adservice.google.de",
                                  "adservice.google.com.ar"])
def test_google_ad_service_host_on_every_country_domain(engine, host):
    assert engine.match(f"https://{host}/adsid/integrator.js?domain=example.com", NEWS, "script").blocked, host


@pytest.mark.parametrize("url", ["https://www.google.com.ar/search?q=/pagead/", "https://www.notgoogle.com/pagead/x",
                                 "https://www.google.de/maps/place/x", "https://google.example.com/pagead/x",
                                 "https://adservice.google.example.com/x", "https://notadservice.google.de/x"])
def test_google_country_pattern_stays_on_google(engine, url):
    match = engine.match(url, NEWS, "image")
    assert match is None or not match.blocked, url


@pytest.mark.parametrize("url", [
    "https://mc.yandex.ru/watch/1", "https://mc.yandex.com.tr/watch/1", "https://mc.yandex.ua/watch/1",
    "https://yandex.kz/clck/jclck/x", "https://yandex.by/ads/meta/1", "https://yandex.com/an/count/1",
    "https://yandex.com.tr/metrika/tag.js",
])
def test_yandex_collection_on_every_country_domain(engine, db, url):
    assert engine.match(url, NEWS, "script").blocked, url
    assert db.lookup(url.split("/")[2]).owner == "Yandex"


@pytest.mark.parametrize("host", ["fls-na.amazon.com", "fls-eu.amazon.co.uk", "fls-eu.amazon.de", "fls-na.amazon.ca",
                                  "fls-fe.amazon.co.jp", "fls-na.amazon.com.br"])
def test_amazon_log_hosts_on_every_store(engine, db, host):
    assert engine.match(f"https://{host}/1/batch/1/OE/", NEWS, "xmlhttprequest").blocked, host
    info = db.lookup(host)
    assert (info.owner, info.category) == ("Amazon", "analytics") and info.domain == host


@pytest.mark.parametrize("domain", ["pinterest.com", "pinterest.com.mx", "pinterest.es", "pinterest.co.uk", "pinterest.de"])
def test_pinterest_conversion_page_on_every_country_domain(engine, db, domain):
    assert engine.match(f"https://www.{domain}/ct.html", NEWS, "subdocument").blocked, domain
    assert db.owner_of(domain) == "Pinterest"


def test_marfeel_data_endpoint_is_flagged_not_only_its_sdk(engine):
    for url in ("https://flowcards.mrf.io/json/experiences?site=1", "https://sdk.mrf.io/statics/marfeel-sdk.js",
                "https://marfeelexperimentsexperienceengine.mrf.io/experimentsexperience/render"):
        assert engine.match(url, NEWS, "xmlhttprequest").blocked, url


@pytest.mark.parametrize("host, category", [("yads.yahoo.com", "advertising"), ("noa.yahoo.com", "analytics"),
                                            ("geo.yahoo.com", "analytics"), ("www.yahoo.com", "essential")])
def test_yahoo_subdomains_have_their_own_role(engine, db, host, category):
    info = db.lookup(host)
    assert info.category == category
    if category != "essential":
        assert info.domain == host and engine.match(f"https://{host}/p?x=1", NEWS, "image").blocked


# --- descriptions: each says what is done with data, and none is boilerplate ----------------------------------

def test_every_description_says_what_is_done_with_data(db):
    from companion.trackerdb import says_what_it_does
    failing = sorted(key for key, text in db.descriptions().items() if not says_what_it_does(text))
    assert failing == []


def test_no_sentence_is_shared_by_more_than_five_entries(db):
    from collections import Counter

    from companion.trackerdb import sentences
    shared = Counter(s for text in db.descriptions().values() for s in set(sentences(text)))
    assert [(s, n) for s, n in shared.most_common(3) if n > 5] == []


def test_shared_hosting_is_nobodys_tracker(db):
    # A CDN customer is not the CDN's owner: d123.cloudfront.net is somebody's site, not Amazon's tracker.
    for host in ("d1234.cloudfront.net", "bucket.s3.amazonaws.com", "x.azureedge.net", "x.akamaized.net",
                 "lh3.googleusercontent.com", "x.global.ssl.fastly.net", "x.b-cdn.net", "x.blob.core.windows.net", "x.vo.msecnd.net",
                 "shop.vtexcommercestable.com.br", "x.my.salesforce-sites.force.com"):
        assert db.lookup(host) is None and db.owner_of(host) is None, host
