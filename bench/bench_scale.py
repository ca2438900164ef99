"""Ten million requests: a heavy year's history, its size on disk, its pages, retention and export (issue 14, 3-4).

``make bench-scale`` (minutes; ``--quick``: 1 million requests). The bench writes the history
itself, straight into the tables (recording over HTTP is bench_api's job), day after day in time
order as the companion would have recorded it, with the daily totals computed from the very rows
inserted:

- 100 days of a heavy user: 100,000 requests a day (the issue's heavy user) = 10 million rows;
- 5,000 sites and 5,000 third-party hosts (the most common ones real tracker domains, so owners
  resolve through the shipped tracker data), on about 2,000 registrable domains;
- skewed like the shared corpus: site and host popularity follow Zipf laws whose exponents are
  chosen so that the top 10% of sites and the top 1% of hosts carry the share of requests they
  carry in ``../shared`` (both shares are printed next to the corpus's).

Then, with figures next to their targets:

- size: database bytes per request (after a checkpoint), and the WAL's size;
- start: a fresh Companion on the big file (warm engine cache) until the first history page answers;
- every history page: median of a few loads (target <= 300 ms), the sign-in page as the floor;
- retention: recording batches run in a thread while a day of detail (100,000 rows) is dropped;
  the slowest batch is compared with the same batches recorded without retention (target <= 100 ms);
- export: the JSON export streamed through the app, resident memory sampled as it goes (constant
  memory means the figure at the end is the figure near the start). At 10 million rows only the
  first 2 million rows are read (the rest would take minutes and change nothing).
"""

from __future__ import annotations

import bisect
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_history import KNOWN, PORT, _loopback_client, _time  # noqa: E402
from common import load_corpus, percentile  # noqa: E402

from companion import auth  # noqa: E402
from companion import history as core  # noqa: E402
from companion.storage import BLOCKED, DAY_MS, THIRD_PARTY, TRACKER, TYPE_CODES, now_ms  # noqa: E402
from companion.storage.integrity import START_CHECK_MAX_BYTES  # noqa: E402

TARGET_PAGE_MS = 300.0
TARGET_START_S = 1.0
TARGET_HOLD_MS = 100.0
TARGET_BYTES = 50.0
PER_DAY = 100_000


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _share(counts: list[int], fraction: float) -> float:
    ordered = sorted(counts, reverse=True)
    k = max(1, int(len(ordered) * fraction))
    return sum(ordered[:k]) / sum(ordered)


def corpus_shares() -> tuple[float, float]:
    """(share of third-party requests going to the top 1% of hosts, share of requests of the top 10% of sites)."""
    hosts: Counter = Counter()
    sites: Counter = Counter()
    for row in load_corpus():
        host, site = urlsplit(row["url"]).hostname, urlsplit(row["source_url"]).hostname
        sites[site] += 1
        if host != site:
            hosts[host] += 1
    return _share(list(hosts.values()), 0.01), _share(list(sites.values()), 0.10)


def zipf_exponent(n: int, fraction: float, share: float) -> float:
    """The exponent s for which the top ``fraction`` of n Zipf(s) items carry ``share`` of the mass."""
    lo, hi = 0.0, 3.0
    for _ in range(40):
        s = (lo + hi) / 2
        weights = [1 / (i + 1) ** s for i in range(n)]
        got = sum(weights[: max(1, int(n * fraction))]) / sum(weights)
        lo, hi = (s, hi) if got < share else (lo, s)
    return (lo + hi) / 2


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def generate(store, n_requests: int, n_sites: int = 5000, n_hosts: int = 5000, seed: int = 11) -> dict:
    """Fill ``store`` with ``n_requests`` over ``n_requests / PER_DAY`` days ending today; returns what was made."""
    rnd = random.Random(seed)
    conn = store.conn
    host_share, site_share = corpus_shares()
    s_hosts = zipf_exponent(n_hosts, 0.01, host_share)
    s_sites = zipf_exponent(n_sites, 0.10, site_share)
    days = max(1, n_requests // PER_DAY)
    today = now_ms() // DAY_MS
    first_day = today - days + 1

    n_domains = n_hosts * 2 // 5
    domains = KNOWN + [f"{rnd.choice(['ads', 'trk', 'cdn', 'pix', 'metrics', 'sync'])}{i}.{rnd.choice(['com', 'net', 'io'])}"
                       for i in range(n_domains - len(KNOWN))]
    is_tracker_domain = [i < len(KNOWN) or rnd.random() < 0.6 for i in range(n_domains)]
    hosts = [(d if i % 3 else f"www.{d}", i) for i, d in enumerate(domains)]
    while len(hosts) < n_hosts:
        i = min(int(rnd.paretovariate(0.8)) - 1, n_domains - 1)
        hosts.append((f"h{len(hosts)}.{domains[i]}", i))
    sites = [f"site{i}.{rnd.choice(['com', 'org', 'co.uk', 'de', 'com.br', 'fr'])}" for i in range(n_sites)]
    site_id = [i + 1 for i in range(n_sites)]
    domain_id = [n_sites + i + 1 for i in range(n_domains)]
    first_party_host = [n_hosts + i + 1 for i in range(n_sites)]

    with store.transaction():
        conn.executemany("INSERT INTO domains (id, name) VALUES (?, ?)", [(i + 1, x) for i, x in enumerate(sites + domains)])
        conn.executemany("INSERT INTO hosts (id, name, domain_id) VALUES (?, ?, ?)",
                         [(j + 1, h, domain_id[d]) for j, (h, d) in enumerate(hosts)])
        conn.executemany("INSERT INTO hosts (id, name, domain_id) VALUES (?, ?, ?)",
                         [(first_party_host[i], f"www.{x}", site_id[i]) for i, x in enumerate(sites)])
        conn.executemany("INSERT INTO filters (id, list, text) VALUES (?, ?, ?)",
                         [(k + 1, "easyprivacy.txt", f"||{domains[k]}^") for k in range(n_domains)])

    host_cum = _cumulative([1 / (j + 1) ** s_hosts for j in range(n_hosts)])
    site_cum = _cumulative([1 / (i + 1) ** s_sites for i in range(n_sites)])
    host_total, site_total = host_cum[-1], site_cum[-1]
    # Each site embeds a fixed set of hosts (popular hosts on many sites); a page load asks most of them.
    site_hosts = [sorted({bisect.bisect(host_cum, rnd.random() * host_total) for _ in range(rnd.randint(4, 40))})
                  for _ in range(n_sites)]
    script = TYPE_CODES["script"]
    host_counts = [0] * n_hosts
    site_counts = [0] * n_sites
    made = 0
    for day in range(first_day, today + 1):
        quota = n_requests - made if day == today else min(PER_DAY, n_requests - made)
        rows: list[tuple] = []
        daily: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        while len(rows) < quota:
            i = min(bisect.bisect(site_cum, rnd.random() * site_total), n_sites - 1)
            start = day * DAY_MS + rnd.randrange(DAY_MS - 60_000)
            sid = site_id[i]
            load = [(first_party_host[i], sid, 0, None)] * rnd.randint(1, 6)
            for j in site_hosts[i]:
                if rnd.random() < 0.7:
                    d = hosts[j][1]
                    tracker = is_tracker_domain[d]
                    for _ in range(1 + (rnd.random() < 0.5) + (rnd.random() < 0.25)):
                        blocked = tracker and rnd.random() < 0.8
                        load.append((j + 1, domain_id[d], THIRD_PARTY | (TRACKER if tracker else 0) | (BLOCKED if blocked else 0),
                                     d + 1 if tracker else None))
                        host_counts[j] += 1
            load = load[: quota - len(rows)]
            site_counts[i] += len(load)
            for k, (host, dom, flags, fid) in enumerate(load):
                rows.append((start + k * 37, sid, host, script, flags, 3 if flags & TRACKER else 5, fid))
                total = daily[(day, sid, dom)]
                total[0] += 1
                if flags & TRACKER:
                    total[1] += 1
                if flags & BLOCKED:
                    total[2] += 1
        rows.sort()
        with store.transaction():
            store.insert_detail(rows)  # (time, site, host, type, flags, decided_by, filter) rows
            conn.executemany(
                "INSERT INTO daily (day, site_id, domain_id, requests, trackers, blocked, reached) VALUES (?,?,?,?,?,?,?)",
                [(*k, *v, v[0] - v[2]) for k, v in daily.items()])
        made += len(rows)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    top_site = max(range(n_sites), key=site_counts.__getitem__)
    return {"requests": made, "days": days, "sites": n_sites, "hosts": n_hosts, "top_site": sites[top_site],
            "top_tracker": KNOWN[0], "first_day": first_day,
            "shares": (host_share, _share([c for c in host_counts if c], 0.01),
                       site_share, _share([c for c in site_counts if c], 0.10)),
            "exponents": (s_hosts, s_sites)}


def _pages(made: dict) -> list[tuple[str, str]]:
    pages = [("sign-in page (floor: no query)", "/signin/expired-code")]
    pages += [(f"overview, {key}", f"/?p={key}") for key in core.PERIODS]
    return pages + [
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


def _app(companion):
    from companion.web import create_app

    app = create_app({"COMPANION": companion, "PORT": PORT})
    app.test_client_class = _loopback_client()
    client = app.test_client()
    code = auth.new_signin_code(companion.store)
    assert client.get(f"/signin/{code}").status_code == 200
    return client


def run(quick: bool) -> None:
    from companion.service import Companion

    n = 1_000_000 if quick else 10_000_000
    loads = 3
    with tempfile.TemporaryDirectory(dir=os.environ.get("CRUMBS_BENCH_TMP")) as tmp:
        data = Path(tmp) / "data"
        companion = Companion(data)
        companion.store.conn.execute("PRAGMA cache_size=-262144")  # generation only: 256 MB of page cache
        started = time.perf_counter()
        made = generate(companion.store, n)
        took = time.perf_counter() - started
        companion.store.set_setting(core.RETENTION_KEY, "365")  # every generated day is within the window
        companion.store.set_setting(core.RETENTION_RUN_KEY, str(now_ms()))
        hs, hg, ss, sg = made["shares"]
        print(f"   data set: {made['requests']:,} requests over {made['days']} days, {made['sites']:,} sites, "
              f"{made['hosts']:,} third-party hosts; generated in {took:.0f} s")
        print(f"   skew: top 1% of hosts carry {hg:.0%} of third-party requests (corpus {hs:.0%}), top 10% of sites "
              f"{sg:.0%} of requests (corpus {ss:.0%}); Zipf exponents {made['exponents'][0]:.2f} / {made['exponents'][1]:.2f}")
        companion.close()

        db = companion.paths.database
        size = db.stat().st_size
        print(f"   size: {size / 1e6:,.0f} MB = {size / made['requests']:.1f} bytes per request "
              f"(target <= {TARGET_BYTES:.0f}); WAL {Path(f'{db}-wal').stat().st_size / 1e6 if Path(f'{db}-wal').exists() else 0:.1f} MB")

        # Start: a fresh process's work on the big file, engine cache warm (the generation's Companion built it),
        # as `crumbs serve` does it: a database this big is integrity-checked in the background once serving.
        started = time.perf_counter()
        companion = Companion(data, defer_check_above=START_CHECK_MAX_BYTES)
        companion.start_background_check()
        made_companion = time.perf_counter()
        client = _app(companion)
        made_app = time.perf_counter()
        response = client.get("/?p=7d")
        response.get_data()
        done = time.perf_counter()
        response.close()  # as a WSGI server does once the body is sent (the period's sums start in the background)
        print(f"   first page after start (Companion + app + overview 7d): {done - started:.2f} s "
              f"(target <= {TARGET_START_S:.0f} s), status {response.status_code}: Companion {made_companion - started:.2f} s "
              f"(its integrity check in the background, as serve's), app and sign-in {made_app - made_companion:.2f} s, "
              f"the page {done - made_app:.2f} s; load average {os.getloadavg()[0]:.1f}")

        # The other periods are summed in the background once that page is sent: how long until a click on
        # "30 days" or "all" finds them summed, then those first loads.
        history = client.application.extensions["crumbs_history"]
        warming = history._warming
        if warming is not None:
            warming.join()
        warmed = time.perf_counter()
        firsts = []
        for key in ("30d", "all"):
            clicked = time.perf_counter()
            response = client.get(f"/?p={key}")
            response.get_data()
            response.close()
            firsts.append(f"{key} {(time.perf_counter() - clicked) * 1000:.0f} ms")
        print(f"   every period summed in the background {warmed - done:.1f} s after the first page; then the first "
              f"overview of {', '.join(firsts)}")

        # Two figures per page: loads one after another (the history keeps a period's sums until a
        # recorded batch touches their days), and loads each right after a 100-event batch recorded
        # through the companion (the person browsing meanwhile: today's sums are made again).
        batches = _corpus_batches()
        worst = worst_after = 0.0
        print(f"   load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f} (1 / 5 min) on {os.cpu_count()} cores")
        print(f"   {'page':38} {'median':>9} {'max':>9}  {'after a batch':>13}  status  (target: median <= {TARGET_PAGE_MS:.0f} ms)")
        for label, url in _pages(made):
            med, top, status = _time(client, url, loads)
            after = _time_after_batches(client, url, loads, companion, batches)
            if not label.startswith("sign-in"):
                worst, worst_after = max(worst, med), max(worst_after, after)
            print(f"   {label:38} {med:8.1f}ms {top:8.1f}ms  {after:11.1f}ms  {status:6}  "
                  f"{'ok' if med <= TARGET_PAGE_MS else 'SLOW'}{'' if after <= TARGET_PAGE_MS else ' (SLOW after a batch)'}")
        print(f"   slowest page median: {worst:.1f} ms ({'within' if worst <= TARGET_PAGE_MS else 'OVER'} the "
              f"{TARGET_PAGE_MS:.0f} ms target); right after a recorded batch: {worst_after:.1f} ms; load average "
              f"{os.getloadavg()[0]:.1f}")

        # The popup's answer for the busiest site: the first opening groups the site's whole detail; the next
        # ones, a 100-event batch recorded on that site between them (the person browsing it), use the groups
        # kept and followed by each batch (storage/sitegroups.py).
        bearer = {"Authorization": f"Bearer {companion.token}"}
        answers, statuses = [], set()
        for k in range(loads + 1):
            started = time.perf_counter()
            response = client.get(f"/api/v1/sites/{made['top_site']}", headers=bearer)
            response.get_data()
            answers.append((time.perf_counter() - started) * 1000)
            statuses.add(response.status_code)
            companion.report([dict(e, page_url=f"https://{made['top_site']}/") for e in batches[k % len(batches)]])
        print(f"   popup's answer for the busiest site (GET /api/v1/sites/...): first {answers[0]:.0f} ms, then median "
              f"{statistics.median(answers[1:]):.1f} ms with a batch on that site before each; status {sorted(statuses)}")

        _retention(companion, made, quick)
        _export(client, made, quick)
        companion.close()


def _corpus_batches() -> list[list[dict]]:
    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in load_corpus(12_000) if r["type"] != "main_frame"]
    return [events[i:i + 100] for i in range(0, len(events) - 99, 100)]


def _time_after_batches(client, url: str, loads: int, companion, batches: list[list[dict]]) -> float:
    """Median of ``loads`` loads of ``url``, each right after a 100-event batch recorded (not timed)."""
    times = []
    for k in range(loads):
        companion.report(batches[k % len(batches)])
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        response.close()
    return statistics.median(times)


def _retention(companion, made: dict, quick: bool) -> None:
    """Drop the oldest day of detail while a thread records 100-event batches; the slowest batch, with and without."""
    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in load_corpus(12_000) if r["type"] != "main_frame"]
    batches = [events[i:i + 100] for i in range(0, len(events) - 99, 100)]
    companion.start_checkpointer()  # as `crumbs serve` does
    companion.report(batches[0])

    def record_while(flag: threading.Event | None, times: list[float]) -> None:
        k = 0
        while (flag is None and k < 200) or (flag is not None and not flag.is_set()):
            started = time.perf_counter()
            companion.report(batches[1 + k % (len(batches) - 1)])
            times.append(time.perf_counter() - started)
            k += 1

    alone: list[float] = []
    record_while(None, alone)
    during: list[float] = []
    done = threading.Event()
    thread = threading.Thread(target=record_while, args=(done, during))
    thread.start()
    # How long each of retention's transactions holds the store (lock taken to commit done): the most a
    # recording batch can wait for retention. Timed in this thread only (the recorder runs in the other).
    store, held, retention_thread = companion.store, [], threading.get_ident()
    transaction = store.transaction

    class _Timed:
        def __init__(self):
            self.inner = transaction()

        def __enter__(self):
            self.inner.__enter__()
            self.started = time.perf_counter()

        def __exit__(self, *exc):
            try:
                return self.inner.__exit__(*exc)
            finally:
                if threading.get_ident() == retention_thread:
                    held.append(time.perf_counter() - self.started)

    store.transaction = _Timed
    started = time.perf_counter()
    try:
        removed = store.delete_detail_before((made["first_day"] + 1) * DAY_MS)
    finally:
        del store.transaction
    spent = time.perf_counter() - started
    done.set()
    thread.join()
    print(f"   retention: dropped a day of detail ({removed['requests']:,} rows, {removed['hosts']} orphan hosts) in "
          f"{spent:.1f} s, {store.RETENTION_BATCH_ROWS:,} rows / {store.RETENTION_BATCH_SITES} sites per transaction; "
          f"{len(held)} transactions held the store for at most {max(held) * 1000:.0f} ms (p99 "
          f"{percentile(held, 99) * 1000:.0f} ms, median {statistics.median(held) * 1000:.1f} ms; target: <= "
          f"{TARGET_HOLD_MS:.0f} ms, the most a recording batch waits for retention) | load {os.getloadavg()[0]:.1f}")
    print(f"   recording meanwhile: {len(during)} batches, slowest {max(during) * 1000:.0f} ms, p99 "
          f"{percentile(during, 99) * 1000:.0f} ms, median {statistics.median(during) * 1000:.1f} ms (target: none held > "
          f"{TARGET_HOLD_MS:.0f} ms) | peer without retention: slowest {max(alone) * 1000:.0f} ms, p99 "
          f"{percentile(alone, 99) * 1000:.0f} ms, median {statistics.median(alone) * 1000:.1f} ms")


def _export(client, made: dict, quick: bool) -> None:
    limit = made["requests"] if quick else 2_000_000
    before = rss_mb()
    response = client.get("/data/export.json")
    marks, size, rows = {}, 0, 0
    checkpoints = {limit // 10, limit // 2, limit}
    started = time.perf_counter()
    for chunk in response.response:
        size += len(chunk)
        rows += 1
        if rows in checkpoints:
            marks[rows] = rss_mb()
        if rows >= limit:
            break
    response.close()
    spent = time.perf_counter() - started
    shown = ", ".join(f"{k:,} rows {v - before:+.0f} MB" for k, v in sorted(marks.items()))
    print(f"   export (JSON, streamed): {rows:,} rows / {size / 1e6:,.0f} MB in {spent:.0f} s; resident memory "
          f"against before: {shown} (constant memory: the same figure at every mark)")


if __name__ == "__main__":
    run("--quick" in sys.argv)
