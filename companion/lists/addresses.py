"""Where a list may be downloaded from: https (or http the person allowed) to public addresses only.

A list URL is the person's input, but the companion runs on their machine, inside their network:
a URL naming ``127.0.0.1``, a router's admin page, a cloud metadata address (``169.254.169.254``) or
a name that resolves to one of them would make the companion a way to reach what only this machine
can reach (SSRF). So every address a host name resolves to is checked, for the first URL and for
every redirect hop, and the check is repeated on the address actually connected to (a DNS answer
that changes between the check and the connection - DNS rebinding - is caught there).

Refused: loopback, private (RFC 1918, ULA), link-local, multicast, reserved, unspecified, shared
(CGNAT) and any other non-global address, IPv4-mapped/compatible IPv6 forms of those, and 6to4 /
Teredo wrappers of them.

The test suite serves lists from ``127.0.0.1``: the environment variable
:data:`ALLOW_LOOPBACK_ENV` (``CRUMBS_TEST_ALLOW_LOOPBACK_LISTS=1``) lets loopback addresses through
(and plain ``http://`` to them). It exists for tests only; it is not a setting for people and opens
nothing but loopback (private and link-local addresses stay refused).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from .checks import ListError, check_url

ALLOW_LOOPBACK_ENV = "CRUMBS_TEST_ALLOW_LOOPBACK_LISTS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def loopback_allowed() -> bool:
    """True only under the test suite's explicit switch (see the module docstring)."""
    return os.environ.get(ALLOW_LOOPBACK_ENV) == "1"


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped, IPv4-compatible, 6to4 or Teredo IPv6 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:  # 64:ff9b::a.b.c.d reaches a.b.c.d through a NAT64 gateway
            return ipaddress.IPv4Address(ip.packed[12:])
        packed = ip.packed
        if packed[:12] == bytes(12) and packed[12:] not in (bytes(4), b"\0\0\0\1"):  # ::a.b.c.d (deprecated)
            return ipaddress.IPv4Address(packed[12:])
    return ip


def address_problem(address: str) -> str | None:
    """Why a list may not be fetched from ``address`` (an IP literal), or None if it may."""
    try:
        ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return f"{address[:60]!r} is not an IP address"
    if ip.is_loopback:
        return None if loopback_allowed() else "a loopback address (this machine)"
    for test, what in (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private network address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "a non-public address"),
    ):
        if test:
            return what
    return None


def resolve(host: str, port: int, shown: str | None = None) -> list[tuple]:
    """``getaddrinfo`` for a TCP connection; :class:`ListError` (naming the host, or ``shown``) when the
    name does not resolve."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ListError(f"cannot resolve {shown or host[:100]}: {getattr(exc, 'strerror', None) or exc}") from None


def check_host(host: str, port: int, shown: str | None = None) -> list[tuple]:
    """Resolve ``host`` and check EVERY address it has; return the address infos, or raise :class:`ListError`
    (naming the host, or ``shown``)."""
    shown = shown or host[:100]
    infos = resolve(host, port, shown)
    if not infos:
        raise ListError(f"{shown} has no address")
    for info in infos:
        problem = address_problem(info[4][0])
        if problem:
            raise ListError(f"refused: {shown} is {problem}; lists are only fetched from public addresses")
    return infos


def check_source(url: str, allow_http: bool = False, shown: str | None = None) -> str:
    """``url`` if a list may be fetched from it: https (http only with ``allow_http``, or to loopback
    under the tests' switch) to a host whose every address is public. Raises :class:`ListError`, whose
    message names the URL's host, or ``shown`` instead (a redirect's target: the server's words)."""
    check_url(url, shown)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ListError("the URL's port is not a number between 0 and 65535") from None
    host = parts.hostname or ""
    if scheme == "http" and not allow_http:  # said first: it is the person's fix whatever the address
        infos = resolve(host, port, shown)
        all_loopback = bool(infos) and all(
            _unwrap(ipaddress.ip_address(i[4][0].split("%", 1)[0])).is_loopback for i in infos)
        if not (loopback_allowed() and all_loopback):
            raise ListError(
                "plain http:// lists can be changed by anyone on the network path; use https://, or say so "
                "explicitly ('crumbs lists add --allow-http', or 'allow_http': true)"
            )
    check_host(host, port, shown)
    return url


def guarded_connection(address: tuple[str, int], timeout=None, source_address=None, **_ignored) -> socket.socket:
    """``socket.create_connection`` that connects only to checked addresses: http.client's
    connections use it, so the address actually connected to is the one checked (no rebinding)."""
    host, port = address
    last: OSError | None = None
    for family, kind, proto, _name, sockaddr in check_host(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None and timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot connect to {host}")
