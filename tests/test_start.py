"""Start-up (issue 14, item 5): what ``crumbs serve`` does before its first answer, and what it leaves for later.

The integrity check at start (issue 15) runs before the server listens on a database up to
integrity.START_CHECK_MAX_BYTES; a bigger one is checked in the background, and damage found there
makes every answer a 503 with the one-line reason. A pending migration waits for a whole check.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from companion.service import Companion
from companion.storage import integrity

from test_damaged_db import corrupt_page, fill, leaf_page_of_requests


def test_a_check_deferred_at_start_runs_in_the_background_and_damage_then_makes_every_answer_503(make_app, data_dir):
    fill(data_dir, 3000)
    database = data_dir / "crumbs.sqlite3"
    corrupt_page(database, *leaf_page_of_requests(database))
    companion = Companion(data_dir, defer_check_above=0)  # as `crumbs serve` treats a big database
    try:
        assert companion.store.fully_checked is False
        client = make_app(companion).test_client()
        assert client.get("/api/v1/health").status_code == 200  # serving while the rest is checked
        found = companion.finish_integrity_check()
        assert found is not None and companion.damage is found
        for answer in (client.get("/api/v1/health"),
                       client.post("/api/v1/events", json={"events": []},
                                   headers={"Authorization": f"Bearer {companion.token}"}),
                       client.get("/")):
            assert answer.status_code == 503
            body = answer.get_json()
            assert body["kind"] == "database-damaged" and "crumbs repair" in body["error"]
    finally:
        companion.close()


def test_a_sound_database_checked_in_the_background_stays_in_service(make_app, data_dir):
    fill(data_dir, 500)
    companion = Companion(data_dir, defer_check_above=0)
    try:
        assert companion.finish_integrity_check() is None and companion.damage is None
        assert make_app(companion).test_client().get("/api/v1/health").status_code == 200
    finally:
        companion.close()


def test_serve_still_checks_a_small_history_whole_before_listening(data_dir):
    fill(data_dir, 2000)
    database = data_dir / "crumbs.sqlite3"
    assert database.stat().st_size < integrity.START_CHECK_MAX_BYTES
    assert integrity.check(database, defer_above=integrity.START_CHECK_MAX_BYTES) is True
    corrupt_page(database, *leaf_page_of_requests(database))
    done = subprocess.run([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "listening" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "crumbs repair" in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_a_migration_is_never_run_on_a_file_whose_check_was_deferred(data_dir):
    import sqlite3

    import pytest

    from companion.storage import DatabaseDamaged
    from companion.storage.schema import SCHEMA_VERSION

    fill(data_dir, 3000)
    database = data_dir / "crumbs.sqlite3"
    corrupt_page(database, *leaf_page_of_requests(database))
    conn = sqlite3.connect(database)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")  # as if written by the release before
    conn.close()
    with pytest.raises(DatabaseDamaged):
        Companion(data_dir, defer_check_above=0)


def test_a_complete_check_says_so_and_a_cut_one_does_not(data_dir):
    fill(data_dir, 3000)
    database: Path = data_dir / "crumbs.sqlite3"
    assert integrity.timed_quick_check(database, 60.0) == (None, True)
    assert integrity.timed_quick_check(database, -1.0) == (None, False)


def test_url_builders_are_compiled_on_first_use_and_build_what_werkzeug_builds(app):
    from werkzeug.routing import Rule

    from companion.web.lazyrules import LazyBuildRule

    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 40 and all(isinstance(r, LazyBuildRule) for r in rules)
    assert not any(r._build.compiled or r._build_unknown.compiled for r in rules)  # nothing compiled at start
    for rule in rules:
        values = {name: "x.example" for name in rule.arguments}
        for append_unknown, lazy in ((False, rule._build), (True, rule._build_unknown)):
            eager = Rule._compile_builder(rule, append_unknown)  # what a plain Werkzeug rule would use
            assert lazy(**values) == eager(rule, **values), rule.rule
            assert lazy(**values, extra="1") == eager(rule, **values, extra="1"), rule.rule
    with app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="a.css").endswith("/a.css")
    site_rules = [r for r in rules if "<" in r.rule]
    assert site_rules and all(r._build.compiled for r in site_rules)


def test_the_suffix_rules_read_without_tldextract_are_tldextracts_own():
    from companion import sites

    assert sorted(sites._snapshot_rules()) == sorted(sites._extractor().tlds)


def test_serving_needs_neither_tldextract_nor_requests_nor_sqlite_utils_at_start(tmp_path):
    # tldextract only for a host the set lookups cannot split; sqlite_utils only for a migration.
    Companion(tmp_path / "data").close()  # the schema is made (migrations ran) before the start measured
    # A fresh interpreter: build the whole app as `crumbs serve` does, classify plain hosts, then an IDN one.
    script = f"""
import sys
from companion.cli import main
from companion.web import create_app
app = create_app({{"DATA_DIR": {str(tmp_path / 'data')!r}, "PORT": 0}})
companion = app.extensions["crumbs"]
companion.check("https://www.google-analytics.com/collect", "https://news.example.co.uk/")
companion.check("https://printer.lan/status.js", "https://router.home.arpa/")  # no rule: the PSL's default
print(sorted(m for m in ("tldextract", "requests", "urllib3", "sqlite_utils") if m in sys.modules))
companion.check("https://xn--bcher-kva.example/a.js", "https://news.example.co.uk/")
print("tldextract" in sys.modules)
companion.close()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout


def test_serve_asks_glibc_for_two_malloc_arenas_unless_the_person_chose():
    import os
    import platform

    probe = "from companion.cli.serve import fewer_malloc_arenas; print(fewer_malloc_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    took = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert took.stdout.strip() == str(platform.libc_ver()[0] == "glibc"), took.stderr
    chosen = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env={**env, "MALLOC_ARENA_MAX": "4"})
    assert chosen.stdout.strip() == "False"


def test_crumbs_serve_listens_on_a_big_damaged_database_then_answers_503_once_the_background_check_finds_it(data_dir):
    import http.client
    import json
    import re
    import sqlite3
    import time

    fill(data_dir, 2000)
    database = data_dir / "crumbs.sqlite3"
    page = leaf_page_of_requests(database)  # found before the file grows: requests stay where they are
    conn = sqlite3.connect(database)  # grow the file past what serve checks before listening
    conn.execute("CREATE TABLE padding (blob BLOB)")
    conn.executemany("INSERT INTO padding VALUES (?)", [(bytes(4000),)] * (integrity.START_CHECK_MAX_BYTES // 4000 + 500))
    conn.commit()
    conn.close()
    assert database.stat().st_size > integrity.START_CHECK_MAX_BYTES
    corrupt_page(database, *page)
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stdout:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        assert port is not None, proc.stderr.read()
        deadline = time.monotonic() + 60
        while True:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            client.request("GET", "/api/v1/health")
            answer = client.getresponse()
            body = answer.read()
            if answer.status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.status == 503
        reason = json.loads(body)
        assert reason["kind"] == "database-damaged" and "crumbs repair" in reason["error"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "crumbs repair" in err  # the damage logged in one line, no traceback
