"""The tracker knowledge base: suffix lookups, owners, same-owner decisions and file validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.trackerdb import RULES_DIR, TrackerDB, TrackerInfo

REQUIRED_CATEGORIES = {"advertising", "analytics", "social", "fingerprinting", "session-replay", "tag-manager",
                       "consent", "essential"}


def small(**overrides) -> dict:
    data = {
        "categories": {"analytics": {"label": "Analytics", "learns": "Which pages you read."},
                       "essential": {"label": "Essential", "learns": "Nothing beyond the request."}},
        "companies": {"Acme": {"url": "https://acme.example", "domains": ["acme.example", "acmecdn.example"]},
                      "Other": {"url": "https://other.example", "domains": ["other.example"]}},
        "trackers": {"acme.example": {"owner": "Acme", "category": "essential", "description": "Acme's site."},
                     "stats.acme.example": {"owner": "Acme", "category": "analytics", "description": "Acme Stats."},
                     "pixel.example": {"owner": "Other", "category": "analytics", "description": "A pixel."}},
    }
    data.update(overrides)
    return data


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "trackers.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped() -> TrackerDB:
    return TrackerDB.load()


def test_rules_dir_is_the_shipped_folder():
    assert RULES_DIR == Path(__file__).resolve().parents[1] / "rules"
    assert (RULES_DIR / "trackers.json").is_file()


def test_longest_suffix_wins():
    db = TrackerDB(small())
    assert db.lookup("a.b.stats.acme.example").category == "analytics"
    assert db.lookup("stats.acme.example").domain == "stats.acme.example"
    assert db.lookup("www.acme.example").category == "essential"
    assert db.lookup("acme.example").domain == "acme.example"


def test_lookup_ignores_case_port_and_trailing_dot():
    db = TrackerDB(small())
    assert db.lookup("Stats.ACME.example.").domain == "stats.acme.example"
    assert db.lookup("stats.acme.example:8443").domain == "stats.acme.example"


def test_a_public_suffix_has_no_facts(shipped):
    # facts() of an unlisted domain merges the entries listed under it: under "com" that is every .com tracker,
    # so a request to https://com/ was said to be Google's.
    for suffix in ("com", "net", "co.uk", "com.ar"):
        assert shipped.facts(suffix) is None and shipped.owner_of(suffix) is None, suffix
    assert shipped.facts("baidu.com") is not None  # an unlisted site still takes its listed hosts' facts


def test_unknown_hosts_and_near_misses_are_none():
    db = TrackerDB(small())
    assert db.lookup("unknown.example") is None
    assert db.lookup("notacme.example") is None  # a suffix match is on whole labels only
    assert db.lookup("") is None
    assert db.lookup("[2001:db8::1]") is None


def test_tracker_info_is_complete_and_frozen():
    info = TrackerDB(small()).lookup("stats.acme.example")
    assert info == TrackerInfo("stats.acme.example", "Acme", "analytics", "Analytics", "Acme Stats.", "Which pages you read.")
    with pytest.raises(Exception):
        info.owner = "Someone else"  # type: ignore[misc]


def test_owner_of_uses_companies_and_trackers():
    db = TrackerDB(small())
    assert db.owner_of("acmecdn.example") == "Acme"  # only in the company's domains
    assert db.owner_of("pixel.example") == "Other"  # only as a tracker key
    assert db.owner_of("img.acmecdn.example") == "Acme"
    assert db.owner_of("nobody.example") is None


def test_same_owner():
    db = TrackerDB(small())
    assert db.same_owner("acme.example", "acmecdn.example")
    assert not db.same_owner("acme.example", "acme.example")  # the same domain is not "same owner"
    assert not db.same_owner("acme.example", "other.example")
    assert not db.same_owner("nobody.example", "nobody2.example")  # unknown owners never match


def test_domains_of_and_categories():
    db = TrackerDB(small())
    assert db.domains_of("Acme")[:2] == ["acme.example", "acmecdn.example"]
    assert "pixel.example" in db.domains_of("Other")
    assert db.domains_of("Nobody") == []
    cats = db.categories
    cats["analytics"]["label"] = "changed"
    assert db.categories["analytics"]["label"] == "Analytics"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["trackers"]["pixel.example"].update(owner="Ghost"), "pixel.example': owner 'Ghost'"),
    (lambda d: d["trackers"]["pixel.example"].update(category="mind-reading"), "category 'mind-reading'"),
    (lambda d: d["trackers"]["pixel.example"].update(description=" "), "pixel.example': description"),
    (lambda d: d["categories"]["analytics"].pop("learns"), "category 'analytics'"),
    (lambda d: d["companies"]["Other"]["domains"].append("acmecdn.example"), "'acmecdn.example' is listed under two"),
    (lambda d: d.pop("companies"), "'companies'"),
    (lambda d: d["companies"]["Other"].update(parent=""), "company 'Other': 'parent'"),
    (lambda d: d["companies"]["Other"].update(parent=["Acme"]), "company 'Other': 'parent'"),
    (lambda d: d["companies"]["Other"].update(parent="Other"), "company 'Other': 'parent'"),
    (lambda d: (d["companies"]["Other"].update(parent="Acme"), d["companies"]["Acme"].update(parent="Other")),
     "parent chain loops"),
])
def test_validation_names_the_bad_entry(tmp_path, mutate, message):
    data = small()
    mutate(data)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrackerDB.load(write(tmp_path, data))


def test_parent_company_reaches_tracker_info():
    data = small()
    data["companies"]["Other"]["parent"] = "Holding Group"  # a parent need not be a listed company
    db = TrackerDB(data)
    assert db.lookup("pixel.example").parent == "Holding Group"
    assert db.parent_of("Other") == "Holding Group"
    assert db.lookup("stats.acme.example").parent is None  # independent company
    assert db.parent_of("Acme") is None and db.parent_of("Nobody") is None
    assert db.companies["Other"]["parent"] == "Holding Group" and db.companies["Acme"]["parent"] is None


def test_unreadable_or_broken_files_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        TrackerDB.load(write(tmp_path, "{oops"))
    with pytest.raises(ValueError, match="cannot read"):
        TrackerDB.load(tmp_path / "missing.json")


def test_load_is_cached_per_path_and_rereads_an_edited_file(tmp_path):
    path = write(tmp_path, small())
    assert TrackerDB.load(path) is TrackerDB.load(path)
    data = small()
    data["trackers"]["new.example"] = {"owner": "Other", "category": "analytics", "description": "New."}
    import os
    path.write_text(json.dumps(data), encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    assert TrackerDB.load(path).lookup("new.example") is not None


# --- the shipped knowledge base -----------------------------------------------------------------------

def test_shipped_categories(shipped):
    assert REQUIRED_CATEGORIES <= set(shipped.categories)
    for key, cat in shipped.categories.items():
        assert cat["label"] and len(cat["learns"]) > 40, key


def test_google_analytics_is_google_analytics(shipped):
    info = shipped.lookup("www.google-analytics.com")
    assert (info.owner, info.category) == ("Google", "analytics")
    assert info.description and info.learns


@pytest.mark.parametrize("host, owner, category", [
    ("securepubads.g.doubleclick.net", "Google", "advertising"),
    ("www.googletagmanager.com", "Google", "tag-manager"),
    ("connect.facebook.net", "Meta", "advertising"),
    ("www.clarity.ms", "Microsoft", "session-replay"),
    ("ib.adnxs.com", "Xandr", "advertising"),
    ("static.hotjar.com", "Hotjar", "session-replay"),
    ("h.online-metrix.net", "ThreatMetrix (LexisNexis)", "fingerprinting"),
    ("cdn.cookielaw.org", "OneTrust", "consent"),
    ("fonts.googleapis.com", "Google", "essential"),
    ("sb.scorecardresearch.com", "comScore", "audience-measurement"),
])
def test_shipped_lookups(shipped, host, owner, category):
    info = shipped.lookup(host)
    assert (info.owner, info.category) == (owner, category)


def test_shipped_same_owner(shipped):
    assert shipped.same_owner("youtube.com", "google-analytics.com")
    assert shipped.same_owner("google.com.ar", "gstatic.com")  # a site's own CDN domain
    assert shipped.same_owner("instagram.com", "fbcdn.net")
    assert shipped.same_owner("bing.com", "clarity.ms")
    assert not shipped.same_owner("facebook.com", "google-analytics.com")
    assert not shipped.same_owner("lanacion.com.ar", "google-analytics.com")
    assert "youtube.com" in shipped.domains_of("Google") and "google.com.ar" in shipped.domains_of("Google")


def test_shared_hosting_platforms_are_owned_by_nobody(shipped):
    # Anyone can publish a site on these; owning them would make trackers "same owner" as strangers.
    for platform in ("appspot.com", "blogspot.com", "web.app", "firebaseapp.com", "github.io", "pages.dev",
                     "netlify.app", "vercel.app", "herokuapp.com", "azurewebsites.net", "cloudfront.net",
                     "amazonaws.com", "azureedge.net", "azurefd.net", "windows.net", "akamaized.net", "akamaihd.net",
                     "edgekey.net", "edgesuite.net", "fastly.net", "googleusercontent.com", "b-cdn.net", "force.com"):
        assert shipped.owner_of(platform) is None, platform


@pytest.mark.parametrize("owner_host, parent", [
    ("tapad.com", "Experian"), ("adnxs.com", "Microsoft"), ("bidswitch.net", "Criteo"),
    ("doubleclick.net", "Alphabet"), ("criteo.com", None), ("im-apps.net", None),
])
def test_shipped_parents(shipped, owner_host, parent):
    assert shipped.lookup(owner_host).parent == parent


def test_every_company_has_a_domain_and_every_tracker_a_real_owner(shipped):
    for name, company in shipped.companies.items():
        assert company["domains"], name
    assert len(shipped) >= 300


def test_data_verb_rule_and_sentence_split():
    from companion.trackerdb import says_what_it_does, sentences
    assert not says_what_it_does("Opera Ads ad exchange.")
    assert not says_what_it_does("CJ affiliate network click and impression tracking.")  # a noun is not an action
    for text in ("Records the pages you read.", "Its paths record conversions.", "It synced IDs.",
                 "Sees your IP address.", "Identifies the device.", "The pixel logged the visit."):
        assert says_what_it_does(text), text
    assert sentences("One here. Two (e.g. this) there! 3 more.") == ["One here.", "Two (e.g. this) there!", "3 more."]
    assert sentences("") == []
    db = TrackerDB(small())
    assert db.descriptions() == {"acme.example": "Acme's site.", "stats.acme.example": "Acme Stats.",
                                 "pixel.example": "A pixel."}
