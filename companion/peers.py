"""Which user's process is at the other end of a loopback connection.

The companion listens on 127.0.0.1 only, so every client is a process of this machine; but not
necessarily one of the person's. Pairing is the one call a client makes before it holds the token,
and its tries are throttled so that an 8-digit code cannot be guessed. A throttle shared by every
client would let any local process, of any user, keep it full and starve the person's own try for
as long as it liked (issue 15). Keyed by the user owning the client's socket, a guesser only uses up
its own user's tries: another user's process, or a sandboxed one, cannot touch the person's. A
process of the person's own user shares their budget, but it can read the token file anyway.

On Linux the kernel lists every TCP socket of this network namespace, with its owner's uid, in
``/proc/net/tcp`` and ``/proc/net/tcp6``: the client's socket is the one whose local address is the
connection's remote end. Elsewhere (macOS, Windows) :func:`peer_uid` says ``None`` and the caller
falls back to one budget for all.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_ESTABLISHED = "01"  # the "st" column: TCP_ESTABLISHED


def peer_uid(client_ip: str, client_port: int, server_ip: str, server_port: int) -> int | None:
    """The uid owning the client socket of the established loopback connection ``client_ip:client_port``
    -> ``server_ip:server_port`` on this machine, or None when that cannot be told for sure.

    The whole four-tuple is matched, and only in the ESTABLISHED state: a local port may be shared by
    sockets connected elsewhere (another user's socket from the same port to 127.0.0.2 at our port
    number must not pass for the person's), and a closing socket's line no longer names its owner
    (uid 0). More than one matching line also gives None: the shared budget, never a wrong user's."""
    try:
        wanted = _plain(ipaddress.ip_address(client_ip))
        server = _plain(ipaddress.ip_address(server_ip))
    except ValueError:
        return None
    found: set[int] = set()
    for table in _TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or fields[3] != _ESTABLISHED:
                continue
            local, remote, uid = fields[1], fields[2], fields[7]
            if _port(remote) != server_port or _port(local) != client_port:
                continue
            if _address(local) == wanted and _address(remote) == server and uid.isdigit():
                found.add(int(uid))
    return found.pop() if len(found) == 1 else None


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """An IPv4 address written as IPv6 (``::ffff:127.0.0.1``, a dual-stack socket's view) as plain IPv4."""
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2], 16)


def _address(endpoint: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of ``/proc/net/tcp*``'s ``HEX:PORT``: 32-bit words in the machine's own byte order."""
    digits = endpoint.rpartition(":")[0]
    try:
        words = [int(digits[i:i + 8], 16) for i in range(0, len(digits), 8)]
        packed = b"".join(struct.pack("=I", word) for word in words)
        address = ipaddress.ip_address(socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6,
                                                        packed))
    except (ValueError, OSError, struct.error):
        return None
    return _plain(address)
