"""Giving memory back to the system after a known peak (glibc only; nothing elsewhere).

Some work makes a large, short-lived peak of small objects: summing a period's history (hundreds of
thousands of rows), reading the filter lists to index the hosts they name. Python frees those objects,
but glibc's allocator keeps the freed pages for later unless asked (``malloc_trim``): measured on a
million-request history, 5-10 MB per such peak stayed in the server's resident memory (issue 14).
The callers are the few places such a peak ends, a few times a day; a trim costs a millisecond or two.
"""
from __future__ import annotations

import ctypes
import sys
import threading

_lock = threading.Lock()
_trim = None


def _malloc_trim():
    global _trim
    if _trim is None:
        _trim = False
        if sys.platform.startswith("linux"):
            try:
                fn = ctypes.CDLL(None).malloc_trim  # glibc; musl has none
            except (OSError, AttributeError):
                return False
            fn.argtypes = (ctypes.c_size_t,)
            fn.restype = ctypes.c_int
            _trim = fn
    return _trim


def give_back_freed() -> None:
    """Return the memory freed since the last peak to the system, where the C library allows it."""
    trim = _malloc_trim()
    if trim:
        with _lock:
            trim(0)
