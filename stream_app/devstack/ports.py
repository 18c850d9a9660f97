"""Free loopback TCP ports for the embedded servers."""

from __future__ import annotations

import socket

__all__ = ["free_port", "port_accepts"]


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
