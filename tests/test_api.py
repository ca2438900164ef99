"""The local API through Flask's test client: what the extension sends and what it gets back."""

import json

import pytest

from companion import __version__, auth as auth_mod

NEWS = "https://www.news.example/2026/story.html"
GA = "https://www.google-analytics.com/analytics.js"


def post_events(client, auth, events):
    return client.post("/api/v1/events", json={"events": events}, headers=auth)


def test_health_is_public_and_says_nothing_else(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "version": __version__}


def test_health_proves_the_server_holds_the_token(client, companion):
    nonce = "0123456789abcdef0123456789abcdef"
    r = client.get("/api/v1/health", headers={"X-Crumbs-Challenge": nonce})
    assert r.headers["X-Crumbs-Proof"] == auth_mod.proof(companion.token, nonce, "127.0.0.1:8737")
    assert client.get("/api/v1/health", headers={"X-Crumbs-Challenge": "not hex!"}).status_code == 400


def test_google_analytics_on_a_news_site_is_a_google_analytics_tracker(client, auth):
    r = post_events(client, auth, [{"url": GA, "page_url": NEWS, "type": "script", "tab_id": 7}])
    assert r.status_code == 200
    body = r.get_json()
    (result,) = body["results"]
    v = result["verdict"]
    assert result["ok"] is True
    assert v["third_party"] is True and v["tracker"] is True
    assert v["owner"] == "Google" and v["category"] == "analytics"
    assert v["description"] and v["filter"] and v["list"]
    assert v["blocked"] is True and v["decided_by"] == "list-default"
    assert v["domain"] == "google-analytics.com" and v["page_domain"] == "news.example"
    # No outcome reported: it left the browser (the verdict alone never counts as blocked).
    assert body["tabs"] == {"7": {"trackers": 1, "blocked": 0, "reached": 1}}
    assert body["rules_version"]


def test_the_sites_own_images_are_not_third_party(client, auth):
    r = post_events(client, auth, [{"url": "https://img.news.example/a.jpg", "page_url": NEWS, "type": "image"}])
    v = r.get_json()["results"][0]["verdict"]
    assert v["third_party"] is False and v["tracker"] is False
    assert v["blocked"] is False and v["decided_by"] == "not-a-tracker"


def test_a_same_owner_domain_is_not_a_third_party_tracker(client, auth):
    r = post_events(client, auth, [{"url": "https://www.google-analytics.com/g/collect", "page_url":
                                    "https://www.youtube.com/watch", "type": "ping"}])
    v = r.get_json()["results"][0]["verdict"]
    assert v["third_party"] is True and v["same_owner"] is True
    assert v["tracker"] is False and v["blocked"] is False


def test_verdict_has_every_contract_field(client, auth):
    v = post_events(client, auth, [{"url": GA, "page_url": NEWS, "type": "script"}]).get_json()["results"][0]["verdict"]
    for field in ("url", "host", "domain", "page_domain", "third_party", "same_owner", "tracker", "owner", "category",
                  "description", "filter", "list", "blocked", "decided_by"):
        assert field in v


def test_a_mixed_batch_records_the_valid_events_and_explains_the_rest(client, auth, companion):
    events = [
        {"url": GA, "page_url": NEWS, "type": "script"},
        {"url": 42, "page_url": NEWS},
        {"url": "data:image/png;base64,AAAA", "page_url": NEWS, "type": "image"},
        {"url": "https://cdn.example/x.js", "page_url": NEWS, "type": "no-such-type"},
        "not an object",
        {"url": "https://cdn.example/x.js", "page_url": NEWS, "type": "script", "time": "yesterday"},
        {"url": "https://cdn.example/x.js", "page_url": NEWS, "type": "script", "tab_id": "seven"},
        {"url": "https://cdn.example/" + "a" * 9000, "page_url": NEWS},
        {"url": "https://cdn.example/y.js", "page_url": None, "type": "script"},
    ]
    r = post_events(client, auth, events)
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert [res["ok"] for res in results] == [True, False, False, False, False, False, False, False, True]
    for res in results:
        if not res["ok"]:
            assert isinstance(res["error"], str) and res["error"]
    # No page known: third party, no page domain.
    assert results[-1]["verdict"]["page_domain"] is None and results[-1]["verdict"]["third_party"] is True
    assert companion.store.count_requests() == 2


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", "application/json", 400),
    (b'{"events": 5}', "application/json", 400),
    (b'[1, 2]', "application/json", 400),
    (b'{"events": []}', "text/plain", 415),
    (b"events=1", "application/x-www-form-urlencoded", 415),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (json.dumps({"events": [{"url": "https://a.com/"}] * 1001}).encode(), "application/json", 413),
])
def test_bad_bodies_get_a_reason_never_a_500(client, auth, body, content_type, status):
    r = client.post("/api/v1/events", data=body, headers={**auth, "Content-Type": content_type})
    assert r.status_code == status
    assert r.is_json and r.get_json()["error"]


def test_a_huge_body_is_refused_before_parsing(client, auth):
    r = client.post("/api/v1/events", data=b"x" * (5 * 1024 * 1024), headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.get_json()["error"]


def test_choices_change_the_next_verdict_in_precedence_order(client, auth):
    def verdict():
        return post_events(client, auth, [{"url": GA, "page_url": NEWS, "type": "script"}]).get_json()["results"][0]["verdict"]

    assert (verdict()["blocked"], verdict()["decided_by"]) == (True, "list-default")
    r = client.put("/api/v1/choices/trackers/google-analytics.com", json={"action": "allow"}, headers=auth)
    assert r.status_code == 200 and r.get_json()["rules_version"]
    assert (verdict()["blocked"], verdict()["decided_by"]) == (False, "tracker-everywhere")
    client.put("/api/v1/choices/trust/news.example", json={"duration": "day"}, headers=auth)
    client.put("/api/v1/choices/trackers/google-analytics.com", json={"action": "block"}, headers=auth)
    assert (verdict()["blocked"], verdict()["decided_by"]) == (False, "site-trust")
    client.put("/api/v1/choices/sites/news.example/trackers/www.google-analytics.com", json={"action": "block"},
               headers=auth)
    assert (verdict()["blocked"], verdict()["decided_by"]) == (True, "site-tracker")
    listed = client.get("/api/v1/choices", headers=auth).get_json()
    assert listed["site_tracker"][0]["tracker"] == "google-analytics.com"
    assert listed["trusted"][0]["site"] == "news.example" and listed["trusted"][0]["until"]
    for path in ("/api/v1/choices/sites/news.example/trackers/google-analytics.com",
                 "/api/v1/choices/trust/news.example", "/api/v1/choices/trackers/google-analytics.com"):
        assert client.delete(path, headers=auth).status_code == 200
    assert (verdict()["blocked"], verdict()["decided_by"]) == (True, "list-default")


@pytest.mark.parametrize("path, body", [
    ("/api/v1/choices/trackers/google-analytics.com", {"action": "maybe"}),
    ("/api/v1/choices/trackers/not a domain", {"action": "block"}),
    ("/api/v1/choices/trust/news.example", {"duration": "forever"}),
    ("/api/v1/choices/sites/news.example/trackers/x.com", []),
    ("/api/v1/settings", {"report_only": "yes"}),
])
def test_bad_choices_are_refused_with_a_reason(client, auth, path, body):
    r = client.put(path, json=body, headers=auth)
    assert r.status_code == 400 and r.get_json()["error"]


@pytest.mark.parametrize("path, body", [
    ("/api/v1/choices/trust/com", {"duration": "always"}),
    ("/api/v1/choices/trust/co.uk", {"duration": "hour"}),
    ("/api/v1/choices/trackers/com", {"action": "block"}),
    ("/api/v1/choices/sites/news.example/trackers/github.io", {"action": "block"}),
    ("/api/v1/choices/sites/co.uk/trackers/doubleclick.net", {"action": "allow"}),
])
def test_a_public_suffix_is_refused_as_a_site_or_a_tracker(client, auth, path, body):
    # Accepted, it became a browser rule for every site under the suffix while the verdicts never met it.
    before = client.get("/api/v1/dnr", headers=auth).get_json()["version"]
    r = client.put(path, json=body, headers=auth)
    assert r.status_code == 400
    assert "is a public suffix (a top-level domain), not a site or a tracker" in r.get_json()["error"]
    assert not any(client.get("/api/v1/choices", headers=auth).get_json().values())
    assert client.get("/api/v1/dnr", headers=auth).get_json()["version"] == before


def test_report_only_setting(client, auth):
    assert client.put("/api/v1/settings", json={"report_only": True}, headers=auth).status_code == 200
    v = post_events(client, auth, [{"url": GA, "page_url": NEWS, "type": "script"}]).get_json()["results"][0]["verdict"]
    assert (v["tracker"], v["blocked"], v["decided_by"]) == (True, False, "report-only")
    assert client.get("/api/v1/settings", headers=auth).get_json() == {"report_only": True}


def test_site_report_lists_third_parties_with_owner_counts_and_choice(client, auth):
    post_events(client, auth, [
        {"url": GA, "page_url": NEWS, "type": "script"},
        {"url": "https://www.google-analytics.com/g/collect?v=2", "page_url": NEWS, "type": "ping"},
        {"url": "https://img.news.example/a.jpg", "page_url": NEWS, "type": "image"},
        {"url": "https://fonts.example-cdn.test/f.woff2", "page_url": NEWS, "type": "font"},
    ])
    client.put("/api/v1/choices/trackers/google-analytics.com", json={"action": "allow"}, headers=auth)
    report = client.get("/api/v1/sites/www.news.example", headers=auth).get_json()
    assert report["site"] == "news.example" and report["trusted"] is None
    by_domain = {t["domain"]: t for t in report["third_parties"]}
    assert set(by_domain) == {"google-analytics.com", "example-cdn.test"}
    ga = by_domain["google-analytics.com"]
    assert ga["owner"] == "Google" and ga["category"] == "analytics" and ga["requests"] == 2 and ga["tracker"]
    assert ga["choice"] == {"here": None, "everywhere": "allow"}
    assert ga["blocked_now"] is False and ga["decided_by"] == "tracker-everywhere"
    assert by_domain["example-cdn.test"]["tracker"] is False


def test_check_classifies_without_recording(client, auth, companion):
    r = client.post("/api/v1/check", json={"url": GA, "page_url": NEWS, "type": "script"}, headers=auth)
    assert r.get_json()["tracker"] is True
    assert companion.store.count_requests() == 0
    assert client.post("/api/v1/check", json={"url": "javascript:alert(1)"}, headers=auth).status_code == 400


def test_dnr_rules_carry_a_version_and_answer_304_when_unchanged(client, auth):
    r = client.get("/api/v1/dnr", headers=auth)
    assert r.status_code == 200
    body = r.get_json()
    assert body["rules"] and r.headers["ETag"] == f'"{body["version"]}"'
    assert client.get("/api/v1/dnr", headers={**auth, "If-None-Match": r.headers["ETag"]}).status_code == 304
    client.put("/api/v1/choices/trackers/doubleclick.net", json={"action": "allow"}, headers=auth)
    r2 = client.get("/api/v1/dnr", headers={**auth, "If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 200 and r2.get_json()["version"] != body["version"]
    allow = [rule for rule in r2.get_json()["rules"] if rule["action"]["type"] == "allow"
             and "doubleclick.net" in rule["condition"].get("requestDomains", [])]
    assert allow


def test_openapi_document_describes_every_api_route(client, auth, app):
    doc = client.get("/api/v1/openapi.json", headers=auth).get_json()
    assert doc["openapi"].startswith("3.")
    documented = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule[len("/api/v1"):].replace("<", "{").replace(">", "}")
            assert path in documented, f"{rule.rule} is missing from the OpenAPI document"


def test_the_short_answer_carries_what_the_extension_reads_and_each_domains_facts_once(client, auth, companion):
    from companion.web.api import ABOUT_DOMAIN, SHORT_VERDICT

    events = [{"url": GA, "page_url": NEWS, "type": "script", "tab_id": 7},
              {"url": GA + "?x=2", "page_url": NEWS, "type": "script", "tab_id": 7},
              {"url": "https://img.news.example/a.jpg", "page_url": NEWS, "type": "image"},
              {"url": "not a url", "page_url": NEWS}]
    short = client.post("/api/v1/events", json={"events": events, "answer": "short"}, headers=auth).get_json()
    full = client.post("/api/v1/events", json={"events": events}, headers=auth).get_json()
    assert [r["ok"] for r in short["results"]] == [True, True, True, False] and short["results"][3]["error"]
    for s, f in zip(short["results"][:3], full["results"][:3]):
        assert list(s["verdict"]) == list(SHORT_VERDICT)
        assert s["verdict"] == {k: f["verdict"][k] for k in SHORT_VERDICT}
    assert short["about"] == {"google-analytics.com": {k: full["results"][0]["verdict"][k] for k in ABOUT_DOMAIN}}
    assert short["about"]["google-analytics.com"]["owner"] == "Google"
    assert short["tabs"] == full["tabs"] and short["rules_version"] == full["rules_version"]
    assert "about" not in full
    assert companion.store.count_requests() == 6  # both answers recorded their batch


def test_the_short_answer_keeps_every_verdict_field_the_extension_reads():
    # The extension reads verdicts in facts.js and badgestate.js: every field it names is in the short
    # verdict or in 'about' (which reporting.js puts back into the verdict).
    import re
    from pathlib import Path

    from companion.web.api import ABOUT_DOMAIN, SHORT_VERDICT

    src = Path(__file__).resolve().parents[1] / "extension" / "src"
    read = set()
    for name in ("facts.js", "badgestate.js", "background.js", "reporting.js"):
        read |= set(re.findall(r"\bverdict\.([a-z_]+)", (src / name).read_text()))
    assert read and read <= set(SHORT_VERDICT) | set(ABOUT_DOMAIN), read - set(SHORT_VERDICT) - set(ABOUT_DOMAIN)
    assert "answer: 'short'" in (src / "reporting.js").read_text()


@pytest.mark.parametrize("answer", ["long", None, 1, ["short"]])
def test_an_unknown_answer_kind_is_refused_and_nothing_recorded(client, auth, companion, answer):
    r = client.post("/api/v1/events", json={"events": [{"url": GA, "page_url": NEWS}], "answer": answer}, headers=auth)
    assert r.status_code == 400 and "'answer'" in r.get_json()["error"]
    assert companion.store.count_requests() == 0
