"""free_port / port_accepts: the building blocks of the embedded stack's port choice."""

from __future__ import annotations

import socket

import pytest

from stream_app.devstack.ports import (
    CLUSTER_BUS_OFFSET,
    free_cluster_port,
    free_port,
    port_accepts,
)


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


def test_free_cluster_port_leaves_room_for_the_cluster_bus() -> None:
    port = free_cluster_port()
    assert port + CLUSTER_BUS_OFFSET < 32768  # below the kernel's ephemeral range
    for taken in (port, port + CLUSTER_BUS_OFFSET):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", taken))


def test_free_cluster_port_skips_a_port_whose_bus_port_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        bus = squatter.getsockname()[1]
        squatter.listen()
        # The only candidate's bus port is taken: no pair can be found.
        with pytest.raises(RuntimeError, match="no free port pair"):
            free_cluster_port(bus - CLUSTER_BUS_OFFSET, bus - CLUSTER_BUS_OFFSET + 1, attempts=5)
