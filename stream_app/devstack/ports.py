"""Free loopback TCP ports for the embedded servers."""

from __future__ import annotations

import random
import socket

__all__ = ["free_cluster_port", "free_port", "port_accepts"]

CLUSTER_BUS_OFFSET = 10_000  # Redis 6.2 has no ``cluster-port``: the bus is port + 10000


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that the kernel just reported as unused.

    The port is released before returning, so another process can still take it
    before our server binds it; callers that spawn a server retry with a fresh
    port when the server exits early (see ``LoopbackServer``).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port`` right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_cluster_port(low: int = 12_000, high: int = 22_000, attempts: int = 200) -> int:
    """A free loopback port whose Redis Cluster bus port (``port + 10000``) is free too.

    The kernel's pick (``free_port``) often lies above 55535, leaving no room for the
    bus. Both ports here lie below the kernel's ephemeral range (32768 up), so
    outgoing connections rarely take them between this check and the bind.
    """
    for _ in range(attempts):
        port = random.randrange(low, high)
        if _bindable(port) and _bindable(port + CLUSTER_BUS_OFFSET):
            return port
    raise RuntimeError(f"no free port pair (p, p+{CLUSTER_BUS_OFFSET}) in [{low}, {high})")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
