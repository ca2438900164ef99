"""The native messaging host: the browser starts it, it makes sure the companion runs, and hands over
the companion's address and token so the extension pairs without a code.

Protocol (Chromium and Firefox alike): each message is a 4-byte length in native byte order, then
that many bytes of UTF-8 JSON, in both directions over stdin/stdout. Messages from the browser are
capped at :data:`MAX_IN` bytes (the only request is tiny); a bigger one ends the host. Nothing but
protocol frames is ever written to stdout: diagnostics go to stderr, which the browser logs.

Requests: ``{"type": "companion"}``. Answer: ``{"ok": true, "companion": "http://127.0.0.1:PORT",
"token": "...", "version": "..."}`` or ``{"ok": false, "error": "one line"}``.

Exactly one companion per data folder: a host first takes ``native-host.lock`` (so two browsers
starting at once cannot both spawn one), then looks at the companion's own lock
(:mod:`companion.instance`): if a companion holds it, the host waits until its address file appears
and its health answer carries a valid proof of the token; if none does, it starts ``crumbs serve``
detached (its own session via setsid, stdin from /dev/null, stdout and stderr appended to
``companion.log`` in the data folder, mode 0600), so the browser killing the host, or its process
group, never takes the companion down with it. ``crumbs serve``'s lock settles any race that is left.

Who may call: the browser starts the host only for the extensions its manifest names (see
:mod:`companion.hostsetup`); as a second check the host refuses a caller that the browser names as another
extension (Chromium passes the caller's origin first, Firefox the manifest path and the add-on id).

Run by the launcher ``crumbs setup`` writes: ``python -I -m companion.native_host [--data-dir DIR] [browser args]``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from . import __version__
from .config import DEFAULT_PORT, HOST, DataPaths
from .instance import Running, owner_alive, running
from .remote import proves_itself
from .resources import EXTENSION_ID, GECKO_ID

MAX_IN = 64 * 1024  # browser -> host: a request is a few dozen bytes
MAX_OUT = 1024 * 1024  # host -> browser: Chromium's own limit
START_TIMEOUT_S = 45.0
LOG_NAME = "companion.log"
LOG_MAX_BYTES = 1024 * 1024
SPAWN_LOCK_NAME = "native-host.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class ProtocolError(Exception):
    """The browser sent something that is not a native messaging frame we accept."""


class HostError(Exception):
    """The companion could not be reached or started; the message is for the extension."""


# -- framing ----------------------------------------------------------------------------------------


def read_message(stream: BinaryIO, limit: int = MAX_IN) -> dict[str, Any] | None:
    """One message from the browser, or None at end of input. Raises ProtocolError on a bad frame."""
    header = _read_exactly(stream, 4)
    if header is None:
        return None
    (length,) = struct.unpack("=I", header)
    if length > limit:
        raise ProtocolError(f"message of {length} bytes is over the {limit}-byte limit")
    body = _read_exactly(stream, length) if length else b""
    if body is None:
        raise ProtocolError("input ended inside a message")
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("a message is not UTF-8 JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            if got == 0:
                return None
            raise ProtocolError("input ended inside a message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_OUT:
        raise ProtocolError("an answer is over the browser's 1 MiB limit")
    stream.write(struct.pack("=I", len(body)) + body)
    stream.flush()


# -- the companion ----------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def spawn_companion(root: Path) -> subprocess.Popen:
    """Start ``crumbs serve`` for ``root``, detached from the browser and from this host."""
    log_path = root / LOG_NAME
    try:
        if log_path.stat().st_size > LOG_MAX_BYTES:
            log_path.replace(root / (LOG_NAME + ".1"))  # keep one old log, never grow without bound
    except FileNotFoundError:
        pass
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    # The usual port when it is free (bookmarks of the history page keep working), else any free one.
    port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else 0
    command = [sys.executable, "-I", "-m", "companion", "serve", "--port", str(port), "--data-dir", str(root)]
    try:
        os.write(fd, f"--- started by the native messaging host at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, close_fds=True,
                                start_new_session=True, cwd=root)
    finally:
        os.close(fd)


def ensure_companion(root: Path, token: str, timeout: float = START_TIMEOUT_S) -> Running:
    """The running companion of ``root``, started first if none runs. Raises HostError with the reason."""
    lock_fd = os.open(root / SPAWN_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # another host starting the companion: wait for it
        found = running(root)
        if found is not None and proves_itself(found, token):
            return found
        child = None
        if not owner_alive(root):
            child = spawn_companion(root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = running(root)
            if found is not None and proves_itself(found, token):
                return found
            if child is not None and child.poll() is not None:
                raise HostError(f"the companion did not start (exit {child.returncode}); see {root / LOG_NAME}")
            time.sleep(0.1)
        raise HostError(f"the companion did not answer within {int(timeout)} s; see {root / LOG_NAME}")
    finally:
        os.close(lock_fd)  # drops the flock


def answer(message: dict[str, Any], root: Path) -> dict[str, Any]:
    """The answer to one request from the extension."""
    if message.get("type") != "companion":
        return {"ok": False, "error": "unknown request: the host answers {\"type\": \"companion\"}"}
    from .auth import load_or_create_token

    try:
        token = load_or_create_token(DataPaths.at(root).token)
        found = ensure_companion(root, token)
    except (HostError, OSError, ValueError) as exc:
        return {"ok": False, "error": str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}
    _note_paired(root, token)
    return {"ok": True, "companion": found.address, "token": token, "version": __version__}


def _note_paired(root: Path, token: str) -> None:
    """The browser now holds the token: the next `crumbs serve` prints no pairing code (auth.is_paired).
    Written through Companion, like every other write outside the server."""
    import sqlite3

    from .service import Companion

    try:
        companion = Companion(root, with_engine=False)
    except (sqlite3.Error, OSError, ValueError) as exc:  # the companion runs: its own checks will speak
        print(f"crumbs native host: could not note the pairing: {exc}", file=sys.stderr)
        return
    try:
        if companion.token == token:  # rotated in between: the browser holds the old one, which is no pairing
            companion.mark_paired()
    except sqlite3.Error as exc:
        print(f"crumbs native host: could not note the pairing: {exc}", file=sys.stderr)
    finally:
        companion.close()


def caller_allowed(args: list[str]) -> bool:
    """Chromium passes the caller's origin first; Firefox passes the manifest's path and the add-on id.
    Anything else (a person testing by hand) is allowed: the browser's own allow-list is the real gate."""
    if args and args[0].startswith("chrome-extension://"):
        return args[0].rstrip("/") == f"chrome-extension://{EXTENSION_ID}"
    if len(args) >= 2 and args[0].endswith(".json"):
        return args[1] == GECKO_ID
    return True


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    data_dir = None
    if len(args) >= 2 and args[0] == "--data-dir":
        data_dir, args = args[1], args[2:]
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol stream
    if not caller_allowed(args):
        print(f"crumbs native host: refusing caller {args[0]!r}", file=sys.stderr)
        return 1
    try:
        root = DataPaths.at(data_dir).root
    except OSError as exc:
        write_message(stdout, {"ok": False, "error": f"cannot use the data folder: {exc}"})
        return 1
    try:
        while True:
            message = read_message(stdin)
            if message is None:
                return 0
            write_message(stdout, answer(message, root))
    except ProtocolError as exc:
        print(f"crumbs native host: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the browser went away
        return 0


if __name__ == "__main__":
    sys.exit(main())
