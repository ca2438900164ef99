"""History page speed: every page over a big history, through Flask's test client.

The data set is the issue's: 1,000,000 recorded requests over 90 days, 2,000 sites and 3,000
third-party hosts (``--quick``: 100,000 requests), written straight into the tables with
``executemany`` (recording through HTTP is bench_api's job), the daily totals computed from
the very rows inserted, so they agree with the detail as the store keeps them. Popularity
follows Zipf laws, as browsing does: a few sites get most visits and a few companies
(real tracker domains, so owners resolve through the shipped tracker data) sit on most sites.

Each page is loaded several times; the median is printed against the 300 ms target, with
the slowest load beside it. Peer in the same run: the sign-in page (routing, session check
and template with no query), the floor any page pays.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion import auth  # noqa: E402
from companion import history as core  # noqa: E402
from companion.storage import BLOCKED, DAY_MS, THIRD_PARTY, TRACKER, TYPE_CODES, now_ms  # noqa: E402

TARGET_MS = 300.0
PORT = 8737

# Real tracker domains for the most common companies, so the reach line names real owners.
KNOWN = [
    "doubleclick.net", "google-analytics.com", "googletagmanager.com", "googlesyndication.com",
    "googleadservices.com", "facebook.net", "facebook.com", "criteo.com", "criteo.net", "taboola.com",
    "outbrain.com", "amazon-adsystem.com", "adnxs.com", "rubiconproject.com", "pubmatic.com", "casalemedia.com",
    "openx.net", "scorecardresearch.com", "quantserve.com", "hotjar.com", "clarity.ms", "bing.com",
    "linkedin.com", "licdn.com", "tiktok.com", "twitter.com", "ads-twitter.com", "yandex.ru", "omtrdc.net",
    "demdex.net", "bluekai.com", "moatads.com", "adsrvr.org", "onetrust.com", "cookielaw.org", "newrelic.com",
    "nr-data.net", "segment.io", "mixpanel.com", "fullstory.com",
]


def generate(store, n_requests: int, days: int = 90, n_sites: int = 2000, n_hosts: int = 3000, seed: int = 7) -> dict:
    """Fill ``store`` with a synthetic history; returns what was made (for the report)."""
    rnd = random.Random(seed)
    conn = store.conn
    today = now_ms() // DAY_MS
    first_day = today - days + 1
    # Third-party domains: the known ones first (most popular), then made-up ad tech and CDNs.
    n_domains = n_hosts * 2 // 5
    domains = KNOWN + [f"{rnd.choice(['ads', 'trk', 'cdn', 'pix', 'metrics', 'sync'])}{i}.{rnd.choice(['com', 'net', 'io'])}"
                       for i in range(n_domains - len(KNOWN))]
    is_tracker_domain = [i < len(KNOWN) or rnd.random() < 0.6 for i in range(n_domains)]
    hosts = []  # (host, domain index)
    for i, d in enumerate(domains):
        hosts.append((d if i % 3 else f"www.{d}", i))
    while len(hosts) < n_hosts:
        i = min(int(rnd.paretovariate(0.8)) - 1, n_domains - 1)
        hosts.append((f"h{len(hosts)}.{domains[i]}", i))
    sites = [f"site{i}.{rnd.choice(['com', 'org', 'co.uk', 'de', 'com.br', 'fr'])}" for i in range(n_sites)]

    with store.transaction():
        conn.executemany("INSERT INTO domains (id, name) VALUES (?, ?)",
                         [(i + 1, name) for i, name in enumerate(sites + domains)])
        site_id = {i: i + 1 for i in range(n_sites)}
        domain_id = {i: n_sites + i + 1 for i in range(n_domains)}
        conn.executemany("INSERT INTO hosts (id, name, domain_id) VALUES (?, ?, ?)",
                         [(j + 1, h, domain_id[d]) for j, (h, d) in enumerate(hosts)])
        first_party_host = {}
        conn.executemany("INSERT INTO hosts (id, name, domain_id) VALUES (?, ?, ?)",
                         [(n_hosts + i + 1, f"www.{s}", site_id[i]) for i, s in enumerate(sites)])
        for i in range(n_sites):
            first_party_host[i] = n_hosts + i + 1
        conn.executemany("INSERT INTO filters (id, list, text) VALUES (?, ?, ?)",
                         [(k + 1, "easyprivacy.txt", f"||{domains[k]}^") for k in range(n_domains)])

        # Each site embeds a fixed set of hosts, popular hosts on many sites (Zipf).
        host_cum = list(_cumulative([1 / (j + 1) ** 0.9 for j in range(n_hosts)]))
        site_hosts = {i: sorted(set(rnd.choices(range(n_hosts), cum_weights=host_cum, k=rnd.randint(4, 40))))
                      for i in range(n_sites)}
        site_cum = list(_cumulative([1 / (i + 1) ** 1.0 for i in range(n_sites)]))

        # Page loads: a site on a day, each asking a share of its hosts a few times, until n requests.
        rows, daily = [], defaultdict(lambda: [0, 0, 0])
        script = TYPE_CODES["script"]
        per_site: dict[int, int] = defaultdict(int)
        while len(rows) < n_requests:
            i = rnd.choices(range(n_sites), cum_weights=site_cum)[0]
            start = (first_day + rnd.randrange(days)) * DAY_MS + rnd.randrange(DAY_MS - 60_000)
            load = [(first_party_host[i], site_id[i], 0, None)] * rnd.randint(1, 6)
            for j in site_hosts[i]:
                if rnd.random() < 0.7:
                    d = hosts[j][1]
                    tracker = is_tracker_domain[d]
                    for _ in range(rnd.randint(1, 3)):
                        blocked = tracker and rnd.random() < 0.8
                        flags = THIRD_PARTY | (TRACKER if tracker else 0) | (BLOCKED if blocked else 0)
                        load.append((j + 1, domain_id[d], flags, d + 1 if tracker else None))
            for k, (host, dom_id, flags, fid) in enumerate(load):
                when = start + k * 37
                rows.append((when, site_id[i], host, script, flags, 3 if flags & TRACKER else 5, fid))
                total = daily[(when // DAY_MS, site_id[i], dom_id)]
                total[0] += 1
                total[1] += 1 if flags & TRACKER else 0
                total[2] += 1 if flags & BLOCKED else 0
            per_site[i] += len(load)
        rows.sort()
        store.insert_detail(rows)  # (time, site, host, type, flags, decided_by, filter) rows
        conn.executemany("INSERT INTO daily (day, site_id, domain_id, requests, trackers, blocked, reached) "
                         "VALUES (?,?,?,?,?,?,?)", [(*k, *v, v[0] - v[2]) for k, v in daily.items()])
    conn.execute("ANALYZE")
    top_site = max(per_site, key=per_site.get)
    return {"requests": len(rows), "daily": len(daily), "sites": n_sites, "hosts": n_hosts,
            "top_site": sites[top_site], "top_tracker": KNOWN[0]}


def _cumulative(weights):
    total = 0.0
    for w in weights:
        total += w
        yield total


def _time(client, url: str, loads: int) -> tuple[float, float, int]:
    times = []
    status = 0
    for _ in range(loads):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        response.close()  # as a WSGI server does once the body is sent: what a page leaves for after starts
        status = response.status_code
    return statistics.median(times), max(times), status


def _loopback_client():
    from flask.testing import FlaskClient

    class Client(FlaskClient):
        """Speaks to the app as the browser does, at its own loopback address (the Host check)."""

        def open(self, *args, **kwargs):
            kwargs.setdefault("base_url", f"http://127.0.0.1:{PORT}")
            return super().open(*args, **kwargs)

    return Client


def run(quick: bool) -> None:
    from companion.service import Companion
    from companion.web import create_app

    n = 100_000 if quick else 1_000_000
    loads = 5 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        companion = Companion(Path(tmp) / "data")
        started = time.perf_counter()
        made = generate(companion.store, n)
        print(f"   data set: {made['requests']:,} requests, {made['daily']:,} daily totals, {made['sites']:,} sites, "
              f"{made['hosts']:,} third-party hosts over 90 days (generated in {time.perf_counter() - started:.1f} s)")
        companion.store.set_setting(core.RETENTION_RUN_KEY, str(now_ms()))  # time the pages, not a retention pass
        app = create_app({"COMPANION": companion, "PORT": PORT})
        app.test_client_class = _loopback_client()
        client = app.test_client()
        code = auth.new_signin_code(companion.store)
        assert client.get(f"/signin/{code}").status_code == 200
        pages = [("sign-in page (floor: no query)", "/signin/expired-code")]
        for key in core.PERIODS:
            pages.append((f"overview, {key}", f"/?p={key}"))
        pages += [
            ("site (busiest), all", f"/site/{made['top_site']}?p=all"),
            ("site (busiest), 7d", f"/site/{made['top_site']}?p=7d"),
            ("tracker (most common), all", f"/tracker/{made['top_tracker']}?p=all"),
            ("company (Google), all", "/company/Google?p=all"),
            ("map, all", "/map?p=all"),
            ("map, 7d", "/map?p=7d"),
            ("search 'site1', all", "/search?p=all&q=site1"),
            ("search trackers blocked, 30d", "/search?p=30d&state=blocked"),
            ("what tracking is, all", "/learn?p=all"),
            ("your choices", "/choices"),
            ("your data", "/data"),
        ]
        worst = 0.0
        print(f"   {'page':38} {'median':>9} {'max':>9}  status  (target: median <= {TARGET_MS:.0f} ms)")
        for label, url in pages:
            med, top, status = _time(client, url, loads)
            if not label.startswith("sign-in"):
                worst = max(worst, med)
            flag = "ok" if med <= TARGET_MS else "SLOW"
            print(f"   {label:38} {med:8.1f}ms {top:8.1f}ms  {status:6}  {flag}")
        print(f"   slowest page median: {worst:.1f} ms ({'within' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target)")
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in client.get("/data/export.json").response)
        print(f"   (export of everything as JSON: {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s, streamed)")
        _recording_speed(companion, Path(tmp) / "fresh", quick)
        companion.close()


def _recording_speed(full, fresh_dir: Path, quick: bool) -> None:
    """Recording must stay as fast with a big history: the same batches into this database and a fresh one."""
    from common import load_corpus

    from companion.service import Companion

    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in load_corpus(6000 if quick else 25000) if r["type"] != "main_frame"]
    batches = [events[i:i + 100] for i in range(0, len(events) - 99, 100)]
    fresh = Companion(fresh_dir)
    labels = ("fresh database", f"{full.store.count_requests():,} requests")
    spent = {label: 0.0 for label in labels}
    for companion in (fresh, full):
        companion.report(batches[0])  # warm: engine, interning
    for batch in batches[1:]:  # alternate, so machine noise falls on both alike
        for label, companion in zip(labels, (fresh, full)):
            started = time.perf_counter()
            companion.report(batch)
            spent[label] += time.perf_counter() - started
    rates = {label: (len(batches) - 1) * 100 / spent[label] for label in labels}
    fresh.close()
    (a, fresh_rate), (b, full_rate) = rates.items()
    print(f"   recording in 100-event batches (in process): {a} {fresh_rate:,.0f} events/s, "
          f"{b} {full_rate:,.0f} events/s = {full_rate / fresh_rate:.2f}x")


if __name__ == "__main__":
    run("--quick" in sys.argv)
