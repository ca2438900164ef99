"""Which reported events were recorded already: the highest ``seq`` recorded per ``stream``.

Delivery from the extension is at least once: a batch whose answer was lost (the companion killed
between its commit and its answer, the extension's timeout), or a saved copy of the queue a moment
older than its delivery, comes again. The extension numbers its events (one ``stream`` per worker
start, a ``seq`` growing in queue order, which is delivery order), so an event at or below its
stream's high-water mark was recorded before and is not recorded again (:meth:`EventsMixin.record`).

The marks move in the recording transaction itself (a crash leaves both the rows and the mark, or
neither). :meth:`_undelivered` and the commit run under the store's lock, so two copies of a batch
sent at once (a resend while the first is still being recorded) are told apart too.

What this process keeps of the marks (``_marks``: read per stream at its first sight, moved after each
commit) is what the file holds: only the server records, one per data folder under its lock
(companion/instance.py), so no other process moves them meanwhile.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .schema import DAY_MS, now_ms

if TYPE_CHECKING:
    from .events import RecordedEvent

# A stream unseen this long is forgotten (with retention: history/data.py). A worker's stream ends
# when the worker stops; only a saved queue outliving the browser for longer could still name it.
STREAM_KEEP_DAYS = 30
STREAM_KEEP_MS = STREAM_KEEP_DAYS * DAY_MS

_NONE = -1  # no seq of the stream recorded (seqs start at 0)
_MOVE_MARK = """INSERT INTO delivered (stream, seq, seen) VALUES (?, ?, ?)
                ON CONFLICT (stream) DO UPDATE SET seq = max(seq, excluded.seq), seen = excluded.seen"""


class DeliveredMixin:
    """Part of :class:`companion.storage.Store`: the ``delivered`` table (migration 10)."""

    _marks: dict[str, int] | None = None

    def _undelivered(self, events: Sequence[RecordedEvent]) -> tuple[list[RecordedEvent], set[int], dict[str, int]]:
        """The events not recorded before, the positions of those that were, and the marks the new ones
        move (stream -> highest seq). An event without a stream (an older extension) is always new.
        Per event one dict lookup and a comparison; the caller holds the lock."""
        marks = self._marks
        if marks is None:
            marks = self._marks = {}
        tops: dict[str, int] = {}  # per stream of the batch: the highest seq recorded, this batch's included
        fresh: list[RecordedEvent] = []
        again: set[int] = set()
        for n, event in enumerate(events):
            stream = event.stream
            if stream is None:
                fresh.append(event)
                continue
            top = tops.get(stream)
            if top is None:
                top = marks.get(stream)
                if top is None:
                    top = marks[stream] = self._stored_mark(stream)
            if event.seq <= top:  # in queue order a seq only grows: at or below the mark, it was recorded
                again.add(n)
            else:
                tops[stream] = event.seq
                fresh.append(event)
        return fresh, again, tops

    def _stored_mark(self, stream: str) -> int:
        row = self.conn.execute("SELECT seq FROM delivered WHERE stream = ?", (stream,)).fetchone()
        return _NONE if row is None else row[0]

    def _move_marks(self, tops: dict[str, int]) -> None:
        """One upsert per stream of the batch (the caller holds the recording transaction)."""
        seen = now_ms()
        for stream, seq in tops.items():
            self.conn.execute(_MOVE_MARK, (stream, seq, seen))

    def _marks_moved(self, tops: dict[str, int]) -> None:
        """After the commit: memory follows the file."""
        self._marks.update(tops)

    def delivered_mark(self, stream: str) -> int | None:
        """The highest seq of ``stream`` recorded, or None when none is known."""
        with self.lock:
            mark = (self._marks or {}).get(stream)
            if mark is None:
                mark = self._stored_mark(stream)
            return None if mark == _NONE else mark

    def forget_quiet_streams(self, now: int | None = None) -> int:
        """Forget the marks of streams no batch named for :data:`STREAM_KEEP_DAYS`; how many went."""
        cutoff = (now_ms() if now is None else now) - STREAM_KEEP_MS
        with self.transaction():
            gone = [s for (s,) in self.conn.execute("DELETE FROM delivered WHERE seen < ? RETURNING stream", (cutoff,))]
            for stream in gone:
                (self._marks or {}).pop(stream, None)
        return len(gone)
