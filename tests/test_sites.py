"""Hosts and registrable domains, including the edge cases classification must handle deliberately."""

import functools

import pytest

from companion.sites import (NotANetworkURL, PublicSuffix, host_and_domain, is_public_suffix, parent_domains, parse_url,
                             refuse_public_suffix, registrable_domain, site_of, split_host)


@pytest.mark.parametrize(
    "url, host, domain",
    [
        ("https://www.google-analytics.com/analytics.js", "www.google-analytics.com", "google-analytics.com"),
        ("https://static.bbc.co.uk/x.js", "static.bbc.co.uk", "bbc.co.uk"),
        ("https://www.google.com.ar/", "www.google.com.ar", "google.com.ar"),
        # Ports never change the site.
        ("http://cdn.news.example:8080/a.png", "cdn.news.example", "news.example"),
        # Unknown TLD: the PSL default rule "*" (last label is the suffix).
        ("http://a.b.news.example/", "a.b.news.example", "news.example"),
        # IP addresses and single-label hosts are their own site.
        ("http://192.168.1.20:3000/x", "192.168.1.20", "192.168.1.20"),
        ("http://[::1]:8737/api", "::1", "::1"),
        ("http://localhost:5000/", "localhost", "localhost"),
        # IDN: compared in punycode, case-folded, trailing dot dropped.
        ("https://Bücher.DE./", "xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("https://xn--bcher-kva.de/", "xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("wss://socket.tracker.example/live", "socket.tracker.example", "tracker.example"),
    ],
)
def test_parse_url(url, host, domain):
    parts = parse_url(url)
    assert (parts.host, parts.domain) == (host, domain)


def test_private_suffixes_are_boundaries_between_sites():
    # Private PSL suffixes count, as in browsers (cookies, Sec-Fetch-Site) and adblock-rust.
    # (This test read the ICANN-only rule before sites.py became the one site rule.)
    assert registrable_domain("foo.blogspot.com") == "foo.blogspot.com"
    assert registrable_domain("d1234.cloudfront.net") == "d1234.cloudfront.net"
    assert registrable_domain("bob.github.io") == "bob.github.io"
    assert registrable_domain("alice.github.io") != registrable_domain("bob.github.io")
    assert registrable_domain("www.alice.github.io") == "alice.github.io"


def test_hosts_under_a_public_government_suffix_are_different_sites():
    assert registrable_domain("a.gob.mx") == "a.gob.mx"
    assert registrable_domain("b.gob.mx") == "b.gob.mx"
    assert registrable_domain("www.a.gob.mx") == "a.gob.mx"


def test_parent_domain_walk_goes_longest_first():
    assert list(parent_domains("a.b.example.com")) == ["a.b.example.com", "b.example.com", "example.com", "com"]
    assert list(parent_domains("localhost")) == ["localhost"]


def test_ip_addresses_and_bracketed_ipv6_are_their_own_site():
    assert split_host("192.168.1.10") == ("192.168.1.10", "")
    assert split_host("[::1]") == ("[::1]", "")


def test_public_suffix_itself():
    assert registrable_domain("com.ar") == "com.ar"


@pytest.mark.parametrize("host", ["com", "co.uk", "com.ar", "github.io", "blogspot.com", "uk", "a.ck", "xn--p1ai"])
def test_a_public_suffix_is_not_a_site(host):
    # A choice keyed by one would be a browser rule for every site under it.
    assert is_public_suffix(host)
    with pytest.raises(PublicSuffix, match="is a public suffix"):
        refuse_public_suffix(host)


@pytest.mark.parametrize("host", ["localhost", "intranet", "printer.lan", "news.example", "a.test", "bbc.co.uk",
                                  "www.ck", "alice.github.io", "127.0.0.1", "::1", "xn--90ae.xn--p1ai"])
def test_sites_ip_addresses_and_single_label_hosts_are_not_public_suffixes(host):
    assert not is_public_suffix(host)
    assert refuse_public_suffix(host) == host


@pytest.mark.parametrize(
    "url",
    ["data:text/html,hi", "blob:https://a.com/123", "chrome-extension://abc/x.js", "javascript:alert(1)",
     "ftp://files.example/x", "http://", "http://a..b/", "http://x:99999/", "not a url", "", "http://bad host/",
     "http://" + "a" * 70 + ".com/", "https://x.com/" + "a" * 9000],
)
def test_not_network_urls_are_refused_with_a_reason(url):
    with pytest.raises(NotANetworkURL) as info:
        parse_url(url)
    assert str(info.value)


def test_site_of_accepts_hosts_and_urls():
    assert site_of("www.news.example") == "news.example"
    assert site_of("https://www.bbc.co.uk/news") == "bbc.co.uk"
    assert site_of("WWW.Example.COM") == "example.com"


def test_the_fast_split_agrees_with_urllib_on_real_requests(corpus_path):
    import json
    from urllib.parse import urlsplit

    from companion.sites import normalise_host

    with corpus_path.open(encoding="utf-8") as handle:
        urls = [json.loads(line)["url"] for line, _ in zip(handle, range(20000))]
    for url in urls:
        assert parse_url(url).host == normalise_host(urlsplit(url).hostname), url


@pytest.mark.parametrize("url, host", [
    ("https://user:pw@tracker.example/x", "tracker.example"),  # user info: the careful road
    ("https://tracker.example:443/x", "tracker.example"),
    ("https://tracker.example?x=1", "tracker.example"),
    ("https://tracker.example#frag", "tracker.example"),
    ("https://TRACKER.example./x", "tracker.example"),
    # A browser reads a backslash as a slash in http(s) URLs: the host is evil.example, not good.example.
    ("https://evil.example\\@good.example/", "evil.example"),
])
def test_unusual_authorities(url, host):
    assert parse_url(url).host == host


# -- issue 14: classification reads a URL's host and site through a memo of its authority --


def _answer(read, url):
    try:
        return read(url)
    except NotANetworkURL as exc:
        return ("refused", str(exc))


_TRICKY = [
    "https://tracker.example/x", "https://tracker.example/" + "a" * 9000,  # same authority, then too long
    "https://user:pw@tracker.example/x", "https://user:pw@other.example/x",  # user info: the careful road
    # The careful road reads past the backslash (host b.example); the next URL shares the same
    # "scheme://authority" up to it, with host a.example: the careful road's answer is not the authority's.
    "https://u@a.example\\@b.example/", "https://u@a.example/x",
    "https://tracker.example:443/x", "https://tracker.example:99999/x", "https://TRACKER.example./x",
    "https://evil.example\\@good.example/", "https://evil.example\\x", "http://[::1]:8080/x", "http://[::1]/y",
    "ftp://tracker.example/x", "HTTPS://Tracker.Example/x", "https:// tracker.example/x", "http://a..b/",
    "http://bad host/", "http://" + "a" * 70 + ".com/", "https://xn--bcher-kva.example/", "https://bücher.example/",
    "http://127.0.0.1/x", "http://127.0.0.1:80/x", "https://tracker.example?x=1", "https://tracker.example#f",
]


@pytest.mark.parametrize("url", _TRICKY)
def test_host_and_domain_answers_as_parse_url_does_first_and_from_its_memo(url):
    def parsed(u):
        parts = parse_url(u)
        return parts.host, parts.domain

    expected = _answer(parsed, url)
    # Twice: the second answer may come from the memo. Every tricky URL is also read after all the
    # others, so a memo filled by one URL is tried on the next ones of the same authority.
    assert _answer(host_and_domain, url) == expected
    assert _answer(host_and_domain, url) == expected
    for other in _TRICKY:
        assert _answer(host_and_domain, other) == _answer(parsed, other), other


def test_host_and_domain_agrees_with_parse_url_on_real_requests(corpus_path):
    import json

    with corpus_path.open(encoding="utf-8") as handle:
        urls = [json.loads(line)["url"] for line, _ in zip(handle, range(20000))]
    for url in urls + urls:  # the second pass from the memo
        parts = parse_url(url)
        assert host_and_domain(url) == (parts.host, parts.domain), url


# -- issue 14: hosts split by set lookups (sites._split_by_sets) must read the list as tldextract does --


@functools.lru_cache(maxsize=1)
def _reference():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _by_tldextract(host: str) -> tuple[str, str]:
    """split_host's answer worked out by tldextract alone (private suffixes included), as the
    reference the set lookups must match."""
    ext = _reference()(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}", ext.suffix
    if ext.suffix:
        return host, ext.suffix
    return ".".join(host.rsplit(".", 2)[-2:]), host.rsplit(".", 1)[1]


@pytest.fixture(scope="module")
def corpus_hosts(corpus_path) -> set[str]:
    import json

    hosts = set()
    with corpus_path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for url in (row["url"], row["source_url"]):
                try:
                    hosts.add(parse_url(url).host)
                except NotANetworkURL:
                    pass
    return hosts


def test_set_lookup_split_agrees_with_tldextract_on_corpus_hosts_and_every_rule(corpus_hosts):
    from companion import sites

    rules = [r.lstrip("*.!") for r in sites._EXTRACT.tlds if r.isascii()]
    assert "github.io" in rules and "blogspot.com" in rules  # the private section is in the sets
    hosts = corpus_hosts | set(rules) | {"a." + r for r in rules} | {"a.b." + r for r in rules} | {
        "www.ck", "a.www.ck", "foo.ck", "a.foo.ck", "unknowntld.zzz", "a.b.zzz", "_dmarc.x.com",
        "bob.github.io", "x.y.blogspot.co.uk"}
    hosts = {h for h in hosts if "." in h and ":" not in h and not h.replace(".", "").isdigit()}
    fast = 0
    for host in hosts:
        got = sites._split_by_sets(host)
        if got is not None:
            fast += 1
            assert got == _by_tldextract(host), host
        sites.SPLIT_CACHE.pop(host, None)
        assert split_host(host) == _by_tldextract(host), host  # whichever way split_host takes
    assert len(hosts) > 20000
    assert fast / len(hosts) > 0.99  # nearly every host takes the set lookups
