"""companion.peers: which user owns the other end of a loopback connection (the pairing throttle's key)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

from companion.auth import PairingThrottle
from companion.peers import peer_uid


def test_the_owner_of_a_real_loopback_connection_from_another_process_is_found():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = subprocess.Popen([sys.executable, "-c", "import socket, sys; s = socket.create_connection(('127.0.0.1', "
                                   f"{port})); sys.stdin.read()"], stdin=subprocess.PIPE)
        try:
            accepted, (address, client_port) = server.accept()
            with accepted:
                assert peer_uid(address, client_port, "127.0.0.1", port) == os.getuid()
                other_port = port + 1 if port < 65535 else port - 1
                assert peer_uid(address, client_port, "127.0.0.1", other_port) is None  # another server
                assert peer_uid(address, 1, "127.0.0.1", port) is None  # no such client
                assert peer_uid("not an address", client_port, "127.0.0.1", port) is None
        finally:
            client.communicate(b"", timeout=10)


def test_a_socket_from_the_same_port_to_another_address_is_not_taken_for_the_client():
    """The whole four-tuple is matched: a socket from 127.0.0.1:P to 127.0.0.2 at the companion's port number
    (another user's decoy, sharing the local port) must not name its owner for a connection from P."""
    with socket.socket() as elsewhere, socket.socket() as server:
        elsewhere.bind(("127.0.0.2", 0))  # a listener at another loopback address ...
        elsewhere.listen()
        port = elsewhere.getsockname()[1]
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))  # ... and "the companion" on the same port number at 127.0.0.1
        server.listen()
        with socket.create_connection(("127.0.0.2", port)) as decoy:
            client_port = decoy.getsockname()[1]
            assert peer_uid("127.0.0.1", client_port, "127.0.0.2", port) == os.getuid()  # the decoy's own tuple
            assert peer_uid("127.0.0.1", client_port, "127.0.0.1", port) is None  # not a connection to us


def test_each_user_has_a_throttle_budget_of_its_own():
    now = [0.0]
    throttle = PairingThrottle(tries=2, window_s=10, clock=lambda: now[0])
    assert [throttle.take(1001) for _ in range(3)] == [0.0, 0.0, 10.0]  # the guesser's user is full
    assert throttle.take(0) == 0.0 and throttle.take(None) == 0.0  # the person's user, and the unknown, are not
    now[0] = 10.0
    assert throttle.take(1001) == 0.0  # the window passed
    assert set(throttle._recent) == {1001}  # budgets whose window passed are forgotten
