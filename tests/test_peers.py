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
                assert peer_uid(address, client_port, port) == os.getuid()
                assert peer_uid(address, client_port, port + 1 if port < 65535 else port - 1) is None  # another server
                assert peer_uid(address, 1, port) is None  # no such client
                assert peer_uid("not an address", client_port, port) is None
        finally:
            client.communicate(b"", timeout=10)


def test_each_user_has_a_throttle_budget_of_its_own():
    now = [0.0]
    throttle = PairingThrottle(tries=2, window_s=10, clock=lambda: now[0])
    assert [throttle.take(1001) for _ in range(3)] == [0.0, 0.0, 10.0]  # the guesser's user is full
    assert throttle.take(0) == 0.0 and throttle.take(None) == 0.0  # the person's user, and the unknown, are not
    now[0] = 10.0
    assert throttle.take(1001) == 0.0  # the window passed
    assert set(throttle._recent) == {1001}  # budgets whose window passed are forgotten
