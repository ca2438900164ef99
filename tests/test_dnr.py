"""The DNR compiler: precedence through priorities, packing of domains, and the browsers' rule limits."""

from __future__ import annotations

import re

import pytest

from companion import dnr
from companion.dnr import compile_rules as _compile_parsed
from companion.engine import parse_filter


def as_parsed(filters):
    """The engine's parsed filters for (text, is_exception, is_important) triples; the flags the compiler
    reads come from the parse, and must be what the test says. Lines the engine would not expose (non-blocking
    options such as $csp) are left out, as the engine leaves them out."""
    out = []
    for text, is_exception, is_important in filters:
        parsed = parse_filter(text)
        if parsed is None:
            continue
        assert (parsed.exception, parsed.important) == (is_exception, is_important), text
        out.append(parsed)
    return out


def compile_rules(*, list_filters, **kw):
    return _compile_parsed(list_filters=as_parsed(list_filters), **kw)


def standin(parsed) -> dict | None:
    """A tiny translator for the shapes these tests use (the real one is tested in test_dnr_real_* and
    test_dnr_condition.py)."""
    opts = {}
    text = parsed.text.removeprefix("@@")
    if "$" in text:
        text, raw = text.split("$", 1)
        for opt in raw.split(","):
            if opt == "third-party":
                opts["domainType"] = "thirdParty"
            elif opt == "script":
                opts["resourceTypes"] = ["script"]
            elif opt == "important":
                pass
            else:
                return None
    if text.startswith("/") and text.endswith("/") and len(text) > 2:
        return {"regexFilter": text[1:-1], **opts}
    return {"urlFilter": text, **opts}


def compile_(**kw):
    args = dict(site_tracker=[], trusted_sites=[], everywhere=[], list_filters=[], report_only=False,
                translate=standin)
    args.update(kw)
    return compile_rules(**args)


def by_priority(rules, priority):
    return [r for r in rules if r["priority"] == priority]


def test_precedence_is_expressed_by_priorities():
    _, rules = compile_(site_tracker=[("news.example", "doubleclick.net", "allow")],
                        trusted_sites=["blog.example"], everywhere=[("facebook.net", "block")],
                        list_filters=[("||doubleclick.net^", False, False), ("@@||doubleclick.net/ok^", True, False),
                                      ("||doubleclick.net/x$important", False, True)])
    prio = {(r["action"]["type"], r["priority"]) for r in rules}
    assert ("allow", dnr.PRIORITY_SITE_TRACKER) in prio
    assert ("allowAllRequests", dnr.PRIORITY_TRUST) in prio
    assert ("block", dnr.PRIORITY_EVERYWHERE) in prio
    assert ("block", dnr.PRIORITY_LIST_BLOCK) in prio
    assert ("allow", dnr.PRIORITY_LIST_EXCEPTION) in prio
    assert ("block", dnr.PRIORITY_LIST_IMPORTANT) in prio
    assert (dnr.PRIORITY_SITE_TRACKER > dnr.PRIORITY_TRUST > dnr.PRIORITY_EVERYWHERE > dnr.PRIORITY_LIST_IMPORTANT
            > dnr.PRIORITY_LIST_EXCEPTION > dnr.PRIORITY_LIST_BLOCK)


def test_site_tracker_rule_is_scoped_to_the_site():
    _, rules = compile_(site_tracker=[("news.example", "doubleclick.net", "block")])
    assert rules == [{"id": 1, "priority": 400, "action": {"type": "block"},
                      "condition": {"domainType": "thirdParty", "initiatorDomains": ["news.example"],
                                    "requestDomains": ["doubleclick.net"]}}]


def test_trust_allows_the_whole_page_of_the_trusted_site():
    _, rules = compile_(trusted_sites=["b.example", "a.example", "a.example"])
    assert rules == [{"id": 1, "priority": 300, "action": {"type": "allowAllRequests"},
                      "condition": {"requestDomains": ["a.example", "b.example"], "resourceTypes": ["main_frame"]}}]


def test_site_tracker_packing_one_rule_per_shared_set():
    # Three sites block the same two trackers -> one rule; one site blocks another set -> a second rule.
    choices = [(s, t, "block") for s in ("a.example", "b.example", "c.example")
               for t in ("doubleclick.net", "facebook.net")]
    choices += [("d.example", "hotjar.com", "block"), ("d.example", "criteo.com", "block")]
    choices += [("a.example", "google-analytics.com", "allow"), ("e.example", "google-analytics.com", "allow")]
    _, rules = compile_(site_tracker=choices)
    assert len(rules) == 3
    conds = [(r["action"]["type"], r["condition"]["initiatorDomains"], r["condition"]["requestDomains"]) for r in rules]
    assert ("block", ["a.example", "b.example", "c.example"], ["doubleclick.net", "facebook.net"]) in conds
    assert ("block", ["d.example"], ["criteo.com", "hotjar.com"]) in conds
    assert ("allow", ["a.example", "e.example"], ["google-analytics.com"]) in conds


def test_everywhere_choices_pack_into_one_rule_per_action():
    _, rules = compile_(everywhere=[("a.net", "block"), ("b.net", "block"), ("c.net", "allow")])
    assert len(rules) == 2
    block = next(r for r in rules if r["action"]["type"] == "block")
    assert block["condition"] == {"domainType": "thirdParty", "requestDomains": ["a.net", "b.net"]}
    allow = next(r for r in rules if r["action"]["type"] == "allow")
    assert allow["condition"] == {"requestDomains": ["c.net"]}


def test_bare_host_filters_pack_into_request_domains():
    filters = [(f"||tracker{i}.net^", False, False) for i in range(500)]
    filters += [(f"||ads{i}.net^$third-party", False, False) for i in range(300)]
    filters += [("||cdn.net/pixel.gif", False, False), ("@@||ok1.net^", True, False), ("@@||ok2.net^", True, False)]
    _, rules = compile_(list_filters=filters)
    # 500 + 300 bare hosts (same condition once third-party is added) -> 1 rule; the path filter -> 1; exceptions -> 1
    assert len(rules) == 3
    block = next(r for r in rules if "requestDomains" in r["condition"] and r["action"]["type"] == "block")
    assert len(block["condition"]["requestDomains"]) == 800
    assert block["condition"]["domainType"] == "thirdParty"
    path = next(r for r in rules if r["condition"].get("urlFilter") == "||cdn.net/pixel.gif")
    assert path["priority"] == dnr.PRIORITY_LIST_BLOCK
    exc = next(r for r in rules if r["action"]["type"] == "allow")
    assert exc["condition"] == {"requestDomains": ["ok1.net", "ok2.net"]}
    assert exc["priority"] == dnr.PRIORITY_LIST_EXCEPTION


def test_filters_with_other_options_pack_only_with_equals():
    filters = [("||a.net^$script", False, False), ("||b.net^$script", False, False), ("||c.net^", False, False)]
    _, rules = compile_(list_filters=filters)
    assert len(rules) == 2
    script = next(r for r in rules if r["condition"].get("resourceTypes") == ["script"])
    assert script["condition"]["requestDomains"] == ["a.net", "b.net"]


def test_untranslatable_filters_are_skipped():
    _, rules = compile_(list_filters=[("||a.net^$csp=script-src", False, False), ("||b.net^", False, False)])
    assert [r["condition"]["requestDomains"] for r in rules] == [["b.net"]]


def test_report_only_keeps_choices_but_drops_list_blocking():
    _, rules = compile_(report_only=True, everywhere=[("x.net", "block")],
                        list_filters=[("||doubleclick.net^", False, False)])
    assert len(rules) == 1 and rules[0]["priority"] == dnr.PRIORITY_EVERYWHERE


def test_ids_are_one_to_n_and_version_is_stable_and_changes_with_rules():
    kw = dict(site_tracker=[("n.example", "t.net", "block")], trusted_sites=["s.example"],
              list_filters=[("||a.net^", False, False), ("||a.net/x", False, False)])
    v1, r1 = compile_(**kw)
    v2, r2 = compile_(**kw)
    assert [r["id"] for r in r1] == list(range(1, len(r1) + 1))
    assert v1 == v2 and r1 == r2
    assert re.fullmatch(r"[0-9a-f]{8,32}", v1)
    v3, _ = compile_(**{**kw, "trusted_sites": []})
    assert v3 != v1


def test_rule_limit_keeps_choices_and_most_met_filters():
    choices = [("n.example", "t.net", "block")]
    filters = [(f"||t{i}.net/path", False, False) for i in range(100)]  # unpackable: one rule each
    _, rules = compile_(site_tracker=choices, list_filters=filters, max_rules=10)
    assert len(rules) == 10
    assert rules[0]["priority"] == dnr.PRIORITY_SITE_TRACKER
    kept = [r["condition"]["urlFilter"] for r in rules[1:]]
    assert kept == [f"||t{i}.net/path" for i in range(9)]  # the first (most met) ones


def test_full_budget_still_packs_later_hosts_for_free():
    filters = [("||a.net^", False, False), ("||x.net/p", False, False), ("||y.net/p", False, False),
               ("||b.net^", False, False)]
    _, rules = compile_(list_filters=filters, max_rules=2)
    assert len(rules) == 2
    assert rules[0]["condition"]["requestDomains"] == ["a.net", "b.net"]
    assert rules[1]["condition"]["urlFilter"] == "||x.net/p"


def test_regex_limit():
    filters = [(f"/t{i}\\.net\\/[a-z]+/", False, False) for i in range(50)] + [("||z.net/p", False, False)]
    _, rules = compile_(list_filters=filters, max_regex=5)
    regex = [r for r in rules if "regexFilter" in r["condition"]]
    assert len(regex) == 5
    assert regex[0]["condition"]["regexFilter"] == "t0\\.net\\/[a-z]+"
    assert any(r["condition"].get("urlFilter") == "||z.net/p" for r in rules)


def test_firefox_limit_with_many_list_filters():
    filters = [(f"||t{i}.net/p{i}", False, False) for i in range(20_000)]
    _, rules = compile_(list_filters=filters, everywhere=[("q.net", "allow")], max_rules=dnr.FIREFOX_MAX_RULES)
    assert len(rules) == dnr.FIREFOX_MAX_RULES
    assert rules[0]["priority"] == dnr.PRIORITY_EVERYWHERE


def test_first_party_only_filters_never_block():
    # The companion's list default blocks third parties only.
    def translate(parsed):
        return {"urlFilter": parsed.text, "domainType": "firstParty"}
    _, rules = compile_(list_filters=[("||a.net^", False, False)], translate=translate)
    assert rules == []


def test_bad_action_is_refused():
    with pytest.raises(ValueError):
        compile_(everywhere=[("a.net", "maybe")])


# ---- with the engine's real translator, on the real lists ----

import shared_data  # noqa: E402


@pytest.fixture(scope="module")
def real_list_filters(shared_file) -> list[tuple[str, bool, bool]]:
    out = []
    for path in (shared_data.EASYPRIVACY, shared_data.EASYLIST):
        for line in shared_file(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith(("!", "[")) or "#" in line.split("$")[0]:
                continue
            opts = line.rsplit("$", 1)[1].split(",") if "$" in line else []
            out.append((line, line.startswith("@@"), "important" in opts))
    return out


def test_real_translator_packs_bare_hosts():
    _, rules = compile_rules(site_tracker=[], trusted_sites=[], everywhere=[], report_only=False,
                             list_filters=[("||doubleclick.net^", False, False), ("||google-analytics.com^", False, False),
                                           ("@@||ok.example^$script", True, False)])
    assert rules[0]["condition"] == {"domainType": "thirdParty",
                                     "requestDomains": ["doubleclick.net", "google-analytics.com"]}
    assert rules[1]["condition"] == {"requestDomains": ["ok.example"], "resourceTypes": ["script"]}
    assert rules[1]["action"] == {"type": "allow"}


@pytest.mark.parametrize("max_rules", [dnr.CHROME_MAX_RULES, dnr.FIREFOX_MAX_RULES])
def test_real_lists_fit_the_browser_limits(max_rules, real_list_filters):
    filters = real_list_filters
    assert len(filters) > 50_000  # EasyList + EasyPrivacy network filters
    choices = [(f"site{i}.example", "doubleclick.net", "allow") for i in range(50)]
    version, rules = compile_rules(site_tracker=choices, trusted_sites=["t.example"], everywhere=[("x.net", "block")],
                                   list_filters=filters, report_only=False, max_rules=max_rules)
    assert 0 < len(rules) <= max_rules
    assert sum("regexFilter" in r["condition"] for r in rules) <= dnr.CHROME_MAX_REGEX
    assert [r["id"] for r in rules] == list(range(1, len(rules) + 1))
    # the choices come first and whole
    assert rules[0]["priority"] == dnr.PRIORITY_SITE_TRACKER and len(rules[0]["condition"]["initiatorDomains"]) == 50
    # packing: far more blocked hosts than rules
    hosts = sum(len(r["condition"].get("requestDomains", [])) for r in rules if r["priority"] == dnr.PRIORITY_LIST_BLOCK)
    assert hosts > 10_000
    for r in rules:
        cond = r["condition"]
        assert cond, r
        assert not ("urlFilter" in cond and "regexFilter" in cond)
        assert r["action"]["type"] in ("block", "allow", "allowAllRequests")


def test_a_public_suffix_stored_as_a_choice_before_they_were_refused_makes_no_rule():
    # "com" in a rule's requestDomains or initiatorDomains matches every .com host: a stored "block com"
    # blocked every third-party .com request in the browser while the companion's verdicts never matched it.
    _, rules = compile_(site_tracker=[("co.uk", "tracker.example", "block"), ("news.example", "com", "block"),
                                      ("news.example", "ads.example", "block")],
                        trusted_sites=["com", "shop.example"], everywhere=[("co.uk", "block"), ("spy.example", "block")])
    named = [d for r in rules for key in ("requestDomains", "initiatorDomains") for d in r["condition"].get(key, [])]
    assert not {"com", "co.uk"} & set(named), rules
    assert {"news.example", "ads.example", "shop.example", "spy.example"} <= set(named)
