"""The HTTP server in front of the Flask app: waitress, bounded by construction.

Flask's own checks (the Host allowlist, ``MAX_CONTENT_LENGTH``) only run once waitress has read a
whole request, body included, and waitress's defaults let any local process without the token
spool 1 GiB to a temp file or hold every connection slot (issue 15, finding 1). So the limits live
here, in the server, where bytes arrive:

- **Body cap before any byte is spooled**: ``max_request_body_size`` is the same 4 MiB as Flask's
  cap. waitress refuses a larger ``Content-Length`` as soon as the headers are parsed, and stops a
  chunked body once it passes the cap; either way the connection is closed, nothing more is read.
- **A foreign Host refused after the headers, before the body**: :class:`HostCheckingParser`
  checks Host right after waitress has parsed the headers and marks the request finished with a
  403, so not one byte of a DNS-rebinding page's body is read. This uses waitress's supported
  extension points (a channel's ``parser_class`` and ``error_task_class``, a server's
  ``channel_class``) rather than a WSGI middleware, because a WSGI app only runs after the body
  has been read.
- **Bounded connections and time**: at most ``CONNECTION_LIMIT`` open connections (polled, not
  ``select()``-ed, so more than 1,024 descriptors never break the loop). At the limit the connections
  with no request being served and nothing moving (idle, or an answer the client has not read for
  ``STALLED_S``) are shed, least recently active first (:meth:`CrumbsServer.shed_least_active`), so a new one
  is accepted: waitress alone stops accepting at its limit, so 513 idle sockets from any local process
  froze ``/api/v1/health`` for the whole idle timeout, again and again. An answer still flowing to a
  slow reader is never cut. An idle connection is closed after ``IDLE_TIMEOUT_S``, and so is one
  whose answer the client has not read for as long; a request whose headers and body have not all
  arrived within ``REQUEST_DEADLINE_S`` is dropped however steadily it trickles (waitress alone only
  times out silence, and never a client that sends and does not read); a connection queueing more
  than ``MAX_PIPELINED`` requests is dropped, so one read of 8 KiB cannot queue a hundred tasks ahead of
  everyone else's (520 connections sending 8 pipelined requests each held /health for good).
  Dropping shuts the socket down (:meth:`CrumbsChannel.drop`) rather than waiting for waitress's next write pass,
  which never comes for a client whose buffers are full. Each connection's kernel receive buffer is fixed, so hostile sockets cannot pin
  megabytes of kernel memory each. Slow clients never hold a worker thread: waitress hands a
  request to a thread only once it has arrived whole.
- **waitress's own refusals** (400, 413, 431, 501, the Host 403) are JSON with the same security
  headers as every answer of the app.

**Stopping** (issue 15): :meth:`CrumbsServer.stop` (from serve's SIGTERM/SIGINT handler) ends
:meth:`CrumbsServer.run`; :meth:`CrumbsServer.drain` then answers what was already received and
:meth:`CrumbsServer.close` closes the rest. waitress's own ``run()`` stops its workers as soon as
Ctrl+C reaches its loop: a batch a worker held was committed, but the part of its answer the kernel
had not taken yet waited for a loop that no longer ran, so the extension resent a batch already
counted.
"""

from __future__ import annotations

import functools
import socket
import time
from typing import Any

import orjson
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import Error

from . import MAX_BODY_BYTES
from .security import SECURITY_HEADERS, allowed_hosts

CONNECTION_LIMIT = 512  # the extension needs a handful; well under the default 1,024-descriptor soft limit
IDLE_TIMEOUT_S = 15  # keep-alive connections the extension left open are cheap to reopen
REQUEST_DEADLINE_S = 15  # a whole request, headers and up to 4 MiB of body, arrives in milliseconds on loopback
CLEANUP_INTERVAL_S = 1  # how often the two timeouts above are enforced
SHED_AT_LIMIT = 32  # connections closed at once when the limit is reached (room for the next arrivals)
STALLED_S = 2  # at the limit, a connection whose answer has not moved for this long may be shed too
MAX_PIPELINED = 2  # requests one connection may queue before its first is answered (no client of ours pipelines)
RECEIVE_BUFFER_BYTES = 128 * 1024  # per connection (the kernel doubles it); fixed, so not autotuned to MiBs
# How long a stop waits for the requests already received to be answered. What is in hand is at most
# MAX_PIPELINED requests per connection (a connection reads nothing more while it has one), a batch of
# MAX_BATCH events takes well under a second, and four workers share the queue: 5 s is ample for that,
# short enough that Ctrl+C still feels prompt, and with waitress's own 5 s wait for a worker still busy
# after it (TaskDispatcher.shutdown) it stays under launchd's 20 s and systemd's 90 s before they kill.
DRAIN_DEADLINE_S = 5.0


class ForeignHost(Error):
    code = 403
    reason = "Forbidden"


class HostCheckingParser(HTTPRequestParser):
    """waitress's request parser, refusing a Host other than our own loopback address and port as soon
    as the headers are parsed, before the body is read. Also remembers when the request began."""

    def __init__(self, adj: Adjustments, hosts: frozenset[str]) -> None:
        super().__init__(adj)
        self.hosts = hosts
        self.started = time.monotonic()

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.headers.get("HOST", "").lower() not in self.hosts:
            # completed with an error: the channel answers it and closes; the body is never read.
            self.error = ForeignHost("this server answers only to its own loopback address")
            self.completed = True
            self.content_length = 0
            self.body_rcv = None
            self.expect_continue = False  # never invite the body with "100 Continue"


class JSONErrorTask(ErrorTask):
    """waitress's error answer, as JSON with the security headers, like every error of the app."""

    def execute(self) -> None:
        error = self.request.error
        body = orjson.dumps({"error": f"{error.reason}: {error.body}"})
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), *SECURITY_HEADERS])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class CrumbsChannel(HTTPChannel):
    error_task_class = JSONErrorTask
    dropped = False  # drop() was called: the socket is shut down, the loop's next poll closes the channel

    def readable(self) -> bool:
        # Once stopping, no new request is read: the drain waits only for what was received before.
        return not self.server.stopping and super().readable()

    def received(self, data: bytes) -> bool:
        done = super().received(data)
        if len(self.requests) > MAX_PIPELINED:  # answers piling up for a client that sends and does not read
            self.drop()
        return done

    def drop(self) -> None:
        """Close this connection now, whatever it waits for: its socket is shut down at once (the peer sees
        the end, a worker still writing to it stops with ClientDisconnected) and the loop's next poll, which
        reports the hang-up, closes the channel and frees its slot. waitress's ``will_close`` alone waits
        for a write pass, which never comes while the client's buffers are full."""
        if self.dropped:
            return
        self.dropped = True
        self.will_close = True
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:  # already gone
            pass

    def __init__(self, server: "CrumbsServer", sock: socket.socket, addr: Any, adj: Adjustments,
                 map: dict | None = None) -> None:
        # bound per server: the allowed Host names carry the port actually listened on
        self.parser_class = functools.partial(HostCheckingParser, hosts=server.crumbs_hosts)
        super().__init__(server, sock, addr, adj, map)


class _Waker(wasyncore.dispatcher):
    """Wakes the loop out of its poll when :meth:`CrumbsServer.stop` is called from a signal handler.

    waitress's trigger cannot: its pipe write blocks when full, and the handler runs on the very thread
    that empties it. This write end never blocks (a full buffer means the loop is due to wake anyway)."""

    def __init__(self, map: dict) -> None:
        reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        super().__init__(reader, map=map)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        try:
            self.recv(512)
        except OSError:
            pass

    def wake(self) -> None:
        try:
            self._writer.send(b"x")
        except OSError:  # full: a wake-up is already pending; closed: nothing left to wake
            pass

    def close(self) -> None:
        super().close()
        self._writer.close()


class CrumbsServer(TcpWSGIServer):
    """One listening socket on 127.0.0.1, with the channel above and a deadline for whole requests."""

    channel_class = CrumbsChannel

    def __init__(self, application: Any, adj: Adjustments) -> None:
        self.crumbs_hosts: frozenset[str] = frozenset()
        self.stopping = False
        super().__init__(application, adj=adj)
        # Set on the listening socket, so every accepted connection inherits it from its first byte.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.crumbs_hosts = frozenset(allowed_hosts(self.effective_port))
        self._waker = _Waker(self._map)

    def run(self) -> None:
        """Serve until :meth:`stop`. Unlike waitress's ``run()``, which stops the workers when Ctrl+C
        reaches its loop, this leaves the workers and connections to :meth:`drain` and :meth:`close`."""
        while not self.stopping:
            self.asyncore.loop(timeout=self.adj.asyncore_loop_timeout, map=self._map,
                               use_poll=self.adj.asyncore_use_poll, count=1)

    def stop(self) -> None:
        """Make :meth:`run` return. Safe in a signal handler: a flag and a write that never blocks,
        no lock, so no waitress state is left half-changed the way a KeyboardInterrupt raised in the
        middle of its loop could leave it. Calling it again does nothing."""
        if not self.stopping:
            self.stopping = True
            self._waker.wake()

    def drain(self, deadline_s: float = DRAIN_DEADLINE_S) -> int:
        """Answer the requests already received, for at most ``deadline_s``; returns how many
        connections still had one in hand (0: every answer was written to its socket).

        No new connection is accepted (the listening socket is closed, so a client is refused at once
        rather than left in the backlog) and no new request is read (:meth:`CrumbsChannel.readable`).
        A request in a worker or waiting in its queue is served, and its answer flushed by this loop
        as the client reads it: a batch that was committed gets its 200, so the extension does not
        send it again. A connection with nothing in hand is closed at once: an idle keep-alive, or a
        request still arriving (not received, so not recorded: the extension sends it again)."""
        self.stopping = True
        wasyncore.dispatcher.close(self)  # the listening socket only: the trigger stays for the workers
        end = time.monotonic() + deadline_s
        while True:
            in_hand = 0
            for channel in list(self.active_channels.values()):
                if channel.requests or channel.total_outbufs_len:
                    in_hand += 1
                else:
                    channel.handle_close()
            remaining = end - time.monotonic()
            if not in_hand or remaining <= 0:
                return in_hand
            # Wakes when a worker finishes (it pulls the trigger) or a client can take more of its answer.
            self.asyncore.loop(timeout=min(remaining, self.adj.asyncore_loop_timeout), map=self._map,
                               use_poll=self.adj.asyncore_use_poll, count=1)

    def close(self) -> None:
        """Close every connection, stop the workers, then close the trigger and the listening socket.

        Connections first: a worker still writing past the drain's deadline then stops at once
        (waitress raises ClientDisconnected in it) instead of waiting on a client. The workers are
        waited for (waitress gives them 5 s) before the caller closes the database under them."""
        self.stopping = True
        for channel in list(self.active_channels.values()):
            channel.handle_close()
        self.task_dispatcher.shutdown()
        self._waker.close()
        super().close()

    def readable(self) -> bool:
        # Called by the loop before each poll: the moment to make room, before waitress decides
        # whether to keep accepting.
        if self.accepting and len(self._map) >= self.adj.connection_limit:
            self.shed_least_active(SHED_AT_LIMIT)
        return super().readable()

    def shed_least_active(self, count: int) -> None:
        """Close the ``count`` least recently active connections that no worker is serving and that
        have nothing moving: an idle keep-alive, a body still trickling in, or an answer the client has
        not read a byte of for ``STALLED_S``, which is what an attacker holds; the extension reopens a
        closed keep-alive for free. A client whose request is in a worker's hands, or whose answer is
        still flowing to it however slowly, keeps its connection."""
        now = time.time()
        waiting = [channel for channel in self.active_channels.values()
                   if not channel.requests and not channel.dropped
                   and (not channel.total_outbufs_len or channel.last_activity < now - STALLED_S)]
        waiting.sort(key=lambda channel: channel.last_activity)
        for channel in waiting[:count]:
            channel.drop()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # marks connections idle longer than channel_timeout
        too_old = time.monotonic() - REQUEST_DEADLINE_S
        stalled = now - IDLE_TIMEOUT_S
        for channel in list(self.active_channels.values()):
            request = getattr(channel, "request", None)  # a request still arriving (a whole one is in .requests)
            if request is not None and getattr(request, "started", too_old) < too_old:
                channel.drop()
            elif channel.last_activity < stalled and (channel.will_close or channel.total_outbufs_len):
                # waitress closes a marked connection on its next write pass, which never comes while the
                # client's buffers are full: an idle timeout or an answer nobody reads ends here instead.
                channel.drop()


def make_server(app: Any, host: str, port: int, threads: int = 4) -> CrumbsServer:
    """The companion's server, listening (not yet serving: call ``run()``). Raises OSError when the port
    cannot be had. Sets ``app.config["PORT"]`` to the port actually bound (``port=0`` picks one)."""
    adj = Adjustments(
        host=host, port=port, threads=threads,
        clear_untrusted_proxy_headers=True,
        max_request_body_size=MAX_BODY_BYTES + 1,  # waitress refuses >= this; Flask allows up to the cap
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
        asyncore_use_poll=True,
        ident="crumbs",
    )
    server = CrumbsServer(app, adj)
    app.config["PORT"] = server.effective_port
    return server
