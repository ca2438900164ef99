"""The update pipeline of :class:`companion.lists.Lists`: fetch, check, build, replace, apply.

Anything failing on the way leaves the last good version in force and the reason in ``last_error``.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..storage import now_ms
from .checks import (DEFAULT_EXPIRES_MS, MIN_USABLE_SHARE, SHRINK_GUARD_MIN, ListError, Outcome, Progress,
                     check_name, check_text, parse_expires)
from .fetch import _file_signature, fetch, read_local

log = logging.getLogger("crumbs.lists")


class UpdatePipeline:
    """Part of :class:`companion.lists.Lists` (needs its registry reads, ``_path_in_force``, ``_file``,
    ``build_engine``, ``_record_stats``, ``_bump_rev`` and ``_apply``)."""

    def _update(
        self, names: list[str], force: bool, results: list[Outcome], progress: Progress | None = None
    ) -> Engine | None:
        """Fetch, check, build, replace, apply. Returns the new engine if one was put in force.

        Called WITHOUT the registry lock: the downloads run outside it (in parallel when there are
        several), each into a staging file; the lock is taken only to build the engine with the
        candidates and swap them in. So a slow server delays its own list only, never another update,
        ``crumbs check`` or the server's engine swap.
        """
        if not names:
            return None
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.dir))
        claimed: list[str] = []
        try:
            outcomes: dict[str, Outcome] = {}
            fetched: dict[str, dict[str, Any]] = {}
            for name in names:
                if self._claim(name):
                    claimed.append(name)
                else:
                    outcomes[name] = Outcome(name, "skipped", "an update of this list is already running")

            def one(name: str) -> None:
                row = self._rows(name)
                if not row:
                    outcomes[name] = Outcome(name, "skipped", "the list was removed")
                    return
                row = row[0]
                try:
                    fields = self._candidate(row, force, staging, progress)
                except ListError as exc:
                    if row["kind"] == "file":  # don't re-read a broken file until it changes again
                        self._write_row(name, {"etag": _file_signature(Path(row["source"]))})
                    outcomes[name] = self._failed(name, str(exc), [])
                    return
                finally:
                    self._progress_done(name)
                if fields is None:
                    outcomes[name] = Outcome(name, "not-modified")
                    return
                fields["_source"] = row["source"]
                fetched[name] = fields

            if len(claimed) > 1:
                with ThreadPoolExecutor(max_workers=min(4, len(claimed)), thread_name_prefix="crumbs-list-fetch") as pool:
                    list(pool.map(one, claimed))
            else:
                for name in claimed:
                    one(name)
            engine = None
            if fetched:
                with self._changing():
                    engine = self._swap_in(fetched, force, outcomes)
            results.extend(outcomes[name] for name in names if name in outcomes)
            return engine
        finally:
            self._release(claimed)
            shutil.rmtree(staging, ignore_errors=True)

    def _swap_in(self, fetched: dict[str, dict[str, Any]], force: bool, outcomes: dict[str, Outcome]) -> Engine | None:
        """Under the lock: build the engine with the candidates and put the good ones in force."""
        candidates: dict[str, tuple[Path, dict[str, Any]]] = {}
        for name, fields in fetched.items():
            rows = self._rows(name)
            if not rows or rows[0]["source"] != fields.pop("_source") or not rows[0]["enabled"]:
                outcomes[name] = Outcome(name, "skipped", "the list was removed or changed during the download")
                continue
            row = rows[0]
            if fields.get("sha256") == row["sha256"] and self._path_in_force(name, row["kind"], row["source"]):
                # Same content as the version in force (a server without validators, or a touched file).
                self._write_row(name, {k: v for k, v in fields.items() if k != "path"})
                outcomes[name] = Outcome(name, "unchanged", used=row["used"])
                continue
            candidates[name] = (fields.pop("path"), fields)
        if not candidates:
            return None
        failed: list[Outcome] = []
        engine = self._build_checked(candidates, force, failed)
        for outcome in failed:
            outcomes[outcome.name] = outcome
        if engine is None:
            return None
        for name, (path, fields) in candidates.items():
            os.replace(path, self._file(name))  # atomic: readers see the old file or the new one
            stats = engine.stats.get(name)
            self._write_row(name, fields | {"updated": now_ms(), "last_error": None})
            outcomes[name] = Outcome(name, "updated", used=stats.used if stats else None)
        self._record_stats(engine)
        self._bump_rev()
        self._apply(engine)
        self._prune_engine_caches()
        return engine

    def _candidate(
        self, row: dict[str, Any], force: bool, staging: Path, progress: Progress | None
    ) -> dict[str, Any] | None:
        """Get and check one list's new version into ``staging``; None if the server says not modified."""
        name, kind = row["name"], row["kind"]
        fields: dict[str, Any] = {"last_checked": now_ms()}
        if kind == "url":
            in_force = self._path_in_force(name, kind, row["source"]) is not None
            conditional = in_force and not force

            def noted(got: int, total: int | None) -> None:
                self._progress_note(name, got, total)
                if progress:
                    progress(name, got, total)

            self._progress_note(name, 0, None)
            download = staging / f"{check_name(name)}.download"
            fetched = fetch(
                row["source"],
                row["etag"] if conditional else None,
                row["last_modified"] if conditional else None,
                self.limits,
                noted,
                # The person typed http:// (adding it needed their explicit word): redirects may stay on http.
                allow_http=row["source"].lower().startswith("http:"),
                into=download,
            )
            if fetched.path is None:
                self._write_row(name, fields | {"last_error": None})
                return None
            raw = download.read_bytes()
            text = check_text(raw, kind, fetched.content_type)
            fields.update(etag=fetched.etag, last_modified=fetched.last_modified)
        elif kind == "file":
            path = Path(row["source"])
            signature = _file_signature(path)
            raw = read_local(path, self.limits)
            text = check_text(raw, kind)
            fields["etag"] = signature  # for local files: the size and mtime this version was read at
        else:
            raise ListError("shipped lists are not updated this way")
        fields["sha256"] = hashlib.sha256(raw).hexdigest()
        fields["expires_ms"] = parse_expires(text) or (DEFAULT_EXPIRES_MS if kind == "url" else None)
        path = staging / f"{check_name(name)}.txt"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        fields["path"] = path
        return fields

    def _build_checked(
        self, candidates: dict[str, tuple[Path, dict[str, Any]]], force: bool, results: list[Outcome]
    ) -> Engine | None:
        """Build the engine with the candidates in place; drop candidates whose parse looks wrong and retry."""
        while candidates:
            try:
                engine = self.build_engine({n: p for n, (p, _) in candidates.items()})
            except Exception as exc:  # the engine refusing a list must not take the companion down
                log.exception("building the engine failed")
                for name in list(candidates):
                    self._failed(name, f"the filter engine could not load it ({type(exc).__name__}: {exc})", results)
                return None
            bad = {}
            for name in candidates:
                problem = self._parse_problem(name, engine, force)
                if problem:
                    bad[name] = problem
            if not bad:
                return engine
            for name, problem in bad.items():
                del candidates[name]
                self._failed(name, problem, results)
        return None

    def _parse_problem(self, name: str, engine: Engine, force: bool) -> str | None:
        stats = engine.stats.get(name)
        if stats is None:
            return "the filter engine did not load it"
        if stats.used == 0:
            return "no network filter in it could be used"
        if stats.rejected > stats.used * (1 - MIN_USABLE_SHARE) / MIN_USABLE_SHARE:
            return f"too few usable filters ({stats.used:,} used, {stats.rejected:,} rejected): not a filter list?"
        before = self._rows(name)[0]
        if (
            not force
            and before["kind"] == "url"
            and before["used"]
            and before["used"] >= SHRINK_GUARD_MIN
            and stats.used < before["used"] * 0.5
        ):
            return (
                f"the new version has {stats.used:,} usable filters against {before['used']:,} before: "
                "probably truncated ('crumbs lists update --force' accepts it)"
            )
        return None

    def _failed(self, name: str, error: str, results: list[Outcome]) -> Outcome:
        log.warning("list %s: %s", name, error)
        self._write_row(name, {"last_checked": now_ms(), "last_error": error})
        outcome = Outcome(name, "failed", error)
        results.append(outcome)
        return outcome

    def _write_row(self, name: str, fields: Mapping[str, Any]) -> None:
        self.store.update_list(name, fields)
