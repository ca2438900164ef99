"""Start-up (issue 14, item 5): what ``crumbs serve`` does before its first answer, and what it leaves for later.

The integrity check at start (issue 15) gets a short budget before the server listens; a check cut
short is finished in the background, and damage found there makes every answer a 503 with the
one-line reason. A small history is still checked whole before listening.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from companion.service import Companion
from companion.storage import integrity

from test_damaged_db import corrupt_page, fill, leaf_page_of_requests


def test_a_check_cut_short_at_start_is_finished_in_the_background_and_then_every_answer_is_503(make_app, data_dir):
    fill(data_dir, 3000)
    database = data_dir / "crumbs.sqlite3"
    corrupt_page(database, *leaf_page_of_requests(database))
    # A budget already spent: quick_check stops at its first progress tick, before the bad page.
    companion = Companion(data_dir, check_budget_s=-1.0)
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
    companion = Companion(data_dir, check_budget_s=-1.0)
    try:
        assert companion.finish_integrity_check() is None and companion.damage is None
        assert make_app(companion).test_client().get("/api/v1/health").status_code == 200
    finally:
        companion.close()


def test_the_start_budget_still_checks_a_small_history_whole(data_dir):
    fill(data_dir, 2000)
    database = data_dir / "crumbs.sqlite3"
    assert integrity.check(database, integrity.START_CHECK_BUDGET_S) is True
    corrupt_page(database, *leaf_page_of_requests(database))
    done = subprocess.run([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "listening" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "crumbs repair" in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_a_complete_check_says_so_and_a_cut_one_does_not(data_dir):
    fill(data_dir, 3000)
    database: Path = data_dir / "crumbs.sqlite3"
    assert integrity.timed_quick_check(database, 60.0) == (None, True)
    assert integrity.timed_quick_check(database, -1.0) == (None, False)
