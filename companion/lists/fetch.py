"""Getting a list's bytes: a bounded (size, wall-clock time), conditional HTTP download from public
addresses only (https, or http the person allowed; every redirect hop checked the same way, see
:mod:`.addresses`), and a careful read of a local file (no symlink swapped in later, no FIFO)."""
from __future__ import annotations

import http.client
import os
import socket
import stat
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from .. import __version__
from . import addresses
from .checks import Limits, ListError

class _Deadline:
    """A true wall-clock bound on one download: at the deadline a watchdog shuts every socket the
    download opened, so a server trickling one byte a second (which resets any per-read timeout)
    is cut off on time, whatever urllib or the TLS layer is doing at that moment."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            if self.expired:
                sock.close()
                raise TimeoutError("deadline passed")
            self._sockets.append(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cancel(self) -> None:
        self._timer.cancel()


def _connection_classes(deadline: _Deadline, guarded: bool):
    """HTTP(S) connection classes whose sockets are tracked by ``deadline`` and, when ``guarded``
    (no proxy in the way), connected only to addresses :func:`addresses.guarded_connection` checked."""

    def create(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kwargs):  # type: ignore[attr-defined]
        if guarded:
            sock = addresses.guarded_connection(address, timeout, source_address)
        else:
            sock = socket.create_connection(address, timeout, source_address, **kwargs)
        return deadline.track(sock)

    class HTTP(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = create

    class HTTPS(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = create

    return HTTP, HTTPS


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):  # noqa: ANN001 - urllib's signature
        http_class, _ = _connection_classes(self.deadline, guarded=not req.has_proxy())
        return self.do_open(http_class, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):  # noqa: ANN001 - urllib's signature
        via_proxy = req.has_proxy() or getattr(req, "_tunnel_host", None)
        _, https_class = _connection_classes(self.deadline, guarded=not via_proxy)
        return self.do_open(https_class, req, context=self._context)


class _RefusedRedirect(urllib.error.HTTPError):
    """A redirect hop refused by our own check: its message is ours, so it may be shown. Every other
    3xx error comes from urllib, whose messages carry the server's reason phrase (the answer's first
    line: "<reason> - Redirection to url ... is not allowed", the loop message, a 3xx with no
    Location), which is never repeated (issue 15, finding 3)."""


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows at most ``max_redirections`` redirects, each checked like the first URL: https (http
    only if the person allowed it for this list) to public addresses; never file:, ftp: or data:."""

    def __init__(self, limit: int, allow_http: bool) -> None:
        super().__init__()
        self.max_redirections = limit
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        try:
            # The target is the server's word (its Location): the refusal says what kind of address
            # it was, never the address itself.
            addresses.check_source(newurl, self.allow_http, shown="the redirect's target")
        except ListError as exc:
            raise _RefusedRedirect(newurl, code, f"redirect refused: {exc}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass
class Fetched:
    data: bytes | None  # None: not modified (304)
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    path: Path | None = None  # with ``into``: the file the body was written to (data is then None)


def fetch(
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: Limits = Limits(),
    progress: Callable[[int, int | None], None] | None = None,
    allow_http: bool = False,
    into: Path | None = None,
) -> Fetched:
    """Download ``url`` with a conditional request, within ``limits``; raise :class:`ListError` on any failure.

    Built on an opener with only the HTTP(S) handlers (no file:, ftp: or data:), and without
    ``Accept-Encoding`` so the size bound applies to what is parsed (no decompression bombs).
    ``limits.total_timeout`` is a wall-clock bound on the whole download, redirects included.
    Only https to public addresses (see :mod:`.addresses`); ``allow_http``: the person allowed plain
    http for this list. ``into``: stream the body to that file instead of memory. Error messages
    never quote what the server sent.
    """
    deadline = _Deadline(limits.total_timeout)
    box: dict[str, object] = {}

    def run() -> None:
        try:
            addresses.check_source(url, allow_http)
            box["result"] = _fetch(url, etag, last_modified, limits, progress, allow_http, into, deadline)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    # The watchdog cuts sockets; a name look-up (getaddrinfo) cannot be cut, so the caller waits for
    # the worker no longer than the deadline (plus a moment for the watchdog's cut to land) either way.
    worker = threading.Thread(target=run, name="crumbs-list-download", daemon=True)
    worker.start()
    try:
        worker.join(limits.total_timeout + 1.0)
    finally:
        deadline.cancel()
    if worker.is_alive():
        raise ListError(f"the download took longer than {limits.total_timeout:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def _fetch(url, etag, last_modified, limits, progress, allow_http, into, deadline) -> Fetched:  # noqa: ANN001
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),  # the person's proxy settings (HTTP(S)_PROXY, NO_PROXY)
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
        _RedirectHandler(limits.max_redirects, allow_http),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    headers = {"User-Agent": f"Crumbs/{__version__} (filter list updater)", "Accept": "text/plain, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    too_long = ListError(f"the download took longer than {limits.total_timeout:g} s")
    try:
        response = opener.open(request, timeout=limits.stall_timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return Fetched(None, etag, last_modified)
        if isinstance(exc, _RefusedRedirect):  # our own check's words
            raise ListError(f"refused redirect ({exc.code}): {exc.reason}") from None
        if 300 <= exc.code < 400:  # urllib's refusals: words chosen here, none of the server's
            if str(exc.reason).startswith(urllib.request.HTTPRedirectHandler.inf_msg):
                raise ListError(f"refused redirect ({exc.code}): a redirect loop or too many redirects") from None
            raise ListError(f"refused redirect ({exc.code}): no http(s) address to follow") from None
        # The status code only: the reason phrase and body are the server's words, not ours to repeat.
        raise ListError(f"the server answered {exc.code}") from None
    except ListError:
        raise
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: a server answering garbage (BadStatusLine) is a failed download of that list,
        # not an error that aborts the update of every other list (and answers 500).
        if deadline.expired:
            raise too_long from None
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ListError):  # an address refused by the guarded connection
            raise reason from None
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ListError(f"no answer within {limits.stall_timeout:g} s") from None
        if isinstance(exc, http.client.HTTPException):
            raise ListError(f"the server's answer is not HTTP ({type(exc).__name__})") from None
        detail = getattr(reason, "strerror", None) or type(reason).__name__
        raise ListError(f"cannot download: {str(detail)[:200]}") from None
    with response:
        length_header = response.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else None
        except ValueError:
            length = None
        if length is not None and length > limits.max_bytes:
            raise ListError(f"the list is too large ({length:,} bytes; the limit is {limits.max_bytes:,})")
        chunks: list[bytes] = []
        sink = open(into, "wb") if into is not None else None
        received = 0
        try:
            while True:
                if deadline.expired:
                    raise too_long
                chunk = response.read1(64 * 1024)  # returns what one read brought: progress and the deadline stay live
                if not chunk:
                    if deadline.expired:
                        raise too_long
                    break
                received += len(chunk)
                if received > limits.max_bytes:
                    raise ListError(f"the list is larger than the limit of {limits.max_bytes:,} bytes")
                if sink is not None:
                    sink.write(chunk)
                else:
                    chunks.append(chunk)
                if progress:
                    progress(received, length)
            if sink is not None:
                sink.flush()
                os.fsync(sink.fileno())
        except ListError:
            raise
        except Exception as exc:  # OSError, timeouts, http.client.HTTPException (IncompleteRead of a chunked body)
            if deadline.expired:
                raise too_long from None
            raise _read_error(exc, limits) from None
        finally:
            if sink is not None:
                sink.close()
        if length is not None and received != length:
            raise ListError(f"the download was cut short ({received:,} of {length:,} bytes)")
        return Fetched(
            b"".join(chunks) if into is None else None,
            response.headers.get("ETag"),
            response.headers.get("Last-Modified"),
            response.headers.get("Content-Type"),
            into,
        )


def _read_error(exc: Exception, limits: Limits) -> ListError:
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return ListError(f"the download stalled (nothing for {limits.stall_timeout:g} s)")
    return ListError(f"the download was cut short ({type(exc).__name__})")


def read_local(path: Path, limits: Limits = Limits()) -> bytes:
    """Read a local list: a regular file, not through a symbolic link, within the size bound."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang us
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise ListError(f"{path} is now a symbolic link; add the file it points to instead") from None
        raise ListError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ListError(f"{path} is not a regular file")
        if info.st_size > limits.max_bytes:
            raise ListError(f"{path} is too large ({info.st_size:,} bytes; the limit is {limits.max_bytes:,})")
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise ListError(f"{path} is larger than the limit of {limits.max_bytes:,} bytes")
    return data


def _file_signature(path: Path) -> str | None:
    """What tells us a local file changed: size and modification time (nanoseconds)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}"


# -- which lists name a host (for the history page) ------------------------------------------

# One scan of each file in C (findall) rather than a regex call per line: ~0.3 s for EasyList+EasyPrivacy.
