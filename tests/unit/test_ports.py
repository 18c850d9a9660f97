"""free_port / port_accepts: the building blocks of the embedded stack's port choice."""

from __future__ import annotations

import socket

from stream_app.devstack.ports import free_port, port_accepts


def test_free_port_can_be_bound_on_loopback_right_away() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))  # raises if free_port left it bound


def test_free_port_returns_distinct_ports() -> None:
    # The kernel hands out ephemeral ports in sequence; a stuck constant would repeat.
    assert len({free_port() for _ in range(5)}) > 1


def test_port_accepts_tells_listening_from_closed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_accepts(port)
    assert not port_accepts(port)
