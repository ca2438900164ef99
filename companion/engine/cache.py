"""On-disk cache of a compiled engine, safe against tampering and corruption.

File layout: MAGIC (8 bytes) | key (32 bytes, sha256 of the lists and Engine.VERSION) |
sha256 of the payload (32 bytes) | payload (a pickle).

Pickle runs code when it loads, so a cache file is unpickled only when:
- it is a regular file, opened without following a symlink, owned by the current user and not
  writable by group or others (checked on the open descriptor, so it cannot be swapped after the
  check);
- its key equals the key of the lists being loaded (otherwise it is stale);
- the payload's digest matches (otherwise it is truncated or corrupt).
Anything else means "no cache": the caller rebuilds and overwrites it atomically.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
import logging
import tempfile
from pathlib import Path

log = logging.getLogger("crumbs.engine")

MAGIC = b"CRUMBSE1"
_HEADER = len(MAGIC) + 32 + 32


def read(path: Path, key: bytes):
    """The cached object for `key`, or None if the file is absent, stale, unsafe or corrupt."""
    # O_NONBLOCK: opening a FIFO put at the cache's path would otherwise block start-up for ever.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            log.warning("ignoring the engine cache %s: not a regular file (rebuilding it)", path)
            return None
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return None
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) < _HEADER or not data.startswith(MAGIC):
        return None
    if data[8:40] != key:
        return None
    payload = memoryview(data)[_HEADER:]
    if hashlib.sha256(payload).digest() != data[40:72]:
        return None
    try:
        return pickle.loads(payload)
    except Exception:  # a valid digest over a pickle we cannot load: an old layout, rebuild
        return None


def write(path: Path, key: bytes, obj) -> bool:
    """Store `obj` atomically with mode 0600. Returns False (and leaves no file) on failure."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    blob = MAGIC + key + hashlib.sha256(payload).digest() + payload
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".engine-", dir=path.parent)  # created 0600
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
