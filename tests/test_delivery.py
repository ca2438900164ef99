"""Exactly-once recording of reported requests: each event of the extension carries its worker's
``stream`` and a ``seq`` that grows with the queue's order; the companion keeps the highest ``seq`` it
recorded per stream (``delivered``, moved in the batch's own transaction), and an event at or below it,
sent again after a lost answer or from a stale copy of the queue, is answered but not recorded twice.
"""

from __future__ import annotations

import threading

import pytest

from companion.history import History, period
from companion.service import Companion
from companion.storage import now_ms

NEWS = "https://www.news.example/story.html"
GA = "https://www.google-analytics.com/analytics.js"
CDN = "https://cdn.example.net/lib.js"


def numbered(stream: str, seqs, tab_id: int = 3) -> list[dict]:
    """One event per seq, every other one a Google Analytics request (a tracker), the rest a CDN's."""
    when = now_ms() - 60_000
    return [{"url": (GA if n % 2 else CDN) + f"?n={n}", "page_url": NEWS, "type": "script", "tab_id": tab_id,
             "time": when + n, "outcome": "blocked" if n % 4 == 1 else "reached", "stream": stream, "seq": n}
            for n in seqs]


def post(client, auth, events) -> dict:
    r = client.post("/api/v1/events", json={"events": events, "answer": "short"}, headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def stored(companion: Companion) -> dict[str, int]:
    """The detail rows, the daily totals, and what the history pages show of them."""
    conn = companion.store.conn
    history = History(companion.store, companion.trackers)
    today = period("today", now_ms())
    ga = history.tracker("google-analytics.com", today)
    site = history.site("news.example", today)
    return {
        "detail": companion.store.count_requests(),
        "daily": conn.execute("SELECT coalesce(sum(requests), 0) FROM daily").fetchone()[0],
        "daily_blocked": conn.execute("SELECT coalesce(sum(blocked), 0) FROM daily").fetchone()[0],
        "tracker_page": ga["requests"] if ga else 0,
        "site_page": sum(p["requests"] for p in site["third_parties"]) if site else 0,
    }


def test_a_batch_sent_again_after_a_lost_answer_is_stored_once_and_answered_alike(client, auth, companion):
    batch = numbered("worker-a1", range(1, 101))
    first = post(client, auth, batch)
    once = stored(companion)
    assert once == {"detail": 100, "daily": 100, "daily_blocked": 25, "tracker_page": 50, "site_page": 100}
    again = post(client, auth, batch)  # the answer to the first was lost: the extension kept the batch
    assert stored(companion) == once
    assert again["results"] == first["results"] and all(r["ok"] for r in again["results"])
    assert again["about"] == first["about"]
    # 'tabs' counts what this batch recorded: nothing new
    assert first["tabs"] == {"3": {"trackers": 1, "blocked": 0, "reached": 1}}
    assert again["tabs"] == {}


def test_a_resend_overlapping_a_new_batch_records_only_the_new_events(client, auth, companion):
    post(client, auth, numbered("worker-b", range(1, 101)))
    body = post(client, auth, numbered("worker-b", range(51, 151), tab_id=8))  # 50 sent before, 50 new
    assert [r["ok"] for r in body["results"]] == [True] * 100
    assert stored(companion)["detail"] == stored(companion)["daily"] == 150
    assert body["tabs"] == {"8": {"trackers": 1, "blocked": 0, "reached": 1}}  # from the 50 new ones
    times = [t for (t,) in companion.store.conn.execute("SELECT time FROM requests ORDER BY time")]
    assert len(set(times)) == 150


def test_streams_are_apart_and_the_same_seq_twice_in_a_batch_counts_once(client, auth, companion):
    post(client, auth, numbered("older-worker", range(1, 11)) + numbered("newer-worker", range(1, 11)))
    assert stored(companion)["detail"] == 20
    twice = numbered("third", [1, 2, 2, 3])
    body = post(client, auth, twice)
    assert [r["ok"] for r in body["results"]] == [True] * 4
    assert stored(companion)["detail"] == 23


def test_the_marks_survive_a_restart(data_dir, make_app):
    batch = numbered("worker-c", range(1, 41))
    first = Companion(data_dir)
    app = make_app(first)
    post(app.test_client(), {"Authorization": f"Bearer {first.token}"}, batch)
    first.close()
    second = Companion(data_dir)  # a killed and restarted companion, or the next day's
    try:
        app = make_app(second)
        auth = {"Authorization": f"Bearer {second.token}"}
        post(app.test_client(), auth, batch + numbered("worker-c", range(41, 46)))
        assert stored(second)["detail"] == stored(second)["daily"] == 45
    finally:
        second.close()


@pytest.mark.parametrize("extra, reason", [
    ({"stream": "only-a-stream"}, "'stream' and 'seq' go together"),
    ({"seq": 4}, "'stream' and 'seq' go together"),
    ({"stream": "", "seq": 1}, "'stream' must be"),
    ({"stream": "x" * 65, "seq": 1}, "'stream' must be"),
    ({"stream": "a b", "seq": 1}, "'stream' must be"),
    ({"stream": "ab\n", "seq": 1}, "'stream' must be"),
    ({"stream": "é", "seq": 1}, "'stream' must be"),
    ({"stream": 12, "seq": 1}, "'stream' must be"),
    ({"stream": None, "seq": 1}, "'stream' must be"),
    ({"stream": "s", "seq": -1}, "'seq' must be"),
    ({"stream": "s", "seq": 2**53}, "'seq' must be"),
    ({"stream": "s", "seq": "3"}, "'seq' must be"),
    ({"stream": "s", "seq": True}, "'seq' must be"),
    ({"stream": "s", "seq": 1.5}, "'seq' must be"),
    ({"stream": "s", "seq": None}, "'seq' must be"),
])
def test_a_bad_stream_or_seq_refuses_that_event_and_the_rest_is_recorded(client, auth, companion, extra, reason):
    good = numbered("good-stream", [1, 2])
    bad = {"url": GA, "page_url": NEWS, "type": "script", **extra}
    body = post(client, auth, [good[0], bad, good[1]])
    assert [r["ok"] for r in body["results"]] == [True, False, True]
    assert reason in body["results"][1]["error"]
    assert stored(companion)["detail"] == 2


def test_the_widest_stream_and_seq_are_taken(client, auth, companion):
    widest = "Az09_-" + "q" * 58
    body = post(client, auth, [{"url": GA, "page_url": NEWS, "stream": widest, "seq": 2**53 - 1},
                               {"url": CDN, "page_url": NEWS, "stream": "z", "seq": 0}])
    assert [r["ok"] for r in body["results"]] == [True, True]
    post(client, auth, [{"url": GA, "page_url": NEWS, "stream": widest, "seq": 2**53 - 1},
                        {"url": CDN, "page_url": NEWS, "stream": "z", "seq": 0}])
    assert stored(companion)["detail"] == 2


def test_events_of_an_older_extension_are_recorded_each_time_they_come(client, auth, companion):
    """Without stream and seq there is nothing to know a resend by: recorded as before, every time."""
    old = [{"url": GA, "page_url": NEWS, "type": "script", "tab_id": 2, "outcome": "reached"}]
    batch = old + numbered("new-extension", [1])
    post(client, auth, batch)
    second = post(client, auth, batch)
    assert stored(companion)["detail"] == 3  # the old one twice, the numbered one once
    assert second["tabs"] == {"2": {"trackers": 1, "blocked": 0, "reached": 1}}


def test_the_same_batch_sent_twice_at_once_is_stored_once(companion):
    """The extension gives up on an answer after 5 s and sends again: the first may still be on its way
    to the database. The marks are read and moved under the store's lock, with the batch's commit."""
    batch = numbered("slow-answer", range(1, 201))
    start = threading.Barrier(4)
    answers = []

    def send():
        start.wait()
        answers.append(companion.report(batch))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stored(companion)["detail"] == stored(companion)["daily"] == 200
    assert len(answers) == 4 and all(len(results) == 200 and all(r["ok"] for r in results) for results, _ in answers)
    assert sorted(bool(tabs) for _results, tabs in answers) == [False, False, False, True]


def test_retention_forgets_streams_unseen_for_30_days(companion):
    from companion.storage.delivered import STREAM_KEEP_MS

    companion.report(numbered("gone-quiet", range(1, 6)) + numbered("still-here", range(1, 6)))
    conn = companion.store.conn
    conn.execute("UPDATE delivered SET seen = ? WHERE stream = 'gone-quiet'", (now_ms() - STREAM_KEEP_MS - 1,))
    removed = History(companion.store, companion.trackers).apply_retention()
    assert removed["streams"] == 1
    assert dict(conn.execute("SELECT stream, seq FROM delivered")) == {"still-here": 5}
    assert companion.store.delivered_mark("gone-quiet") is None  # forgotten in memory too
    companion.report(numbered("still-here", range(1, 6)))
    assert companion.store.count_requests() == 10


def test_the_openapi_document_describes_stream_and_seq(client, auth):
    event = client.get("/api/v1/openapi.json", headers=auth).get_json()["components"]["schemas"]["Event"]
    assert event["properties"]["stream"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert event["properties"]["seq"]["maximum"] == 2**53 - 1
    assert event["dependentRequired"] == {"stream": ["seq"], "seq": ["stream"]}
