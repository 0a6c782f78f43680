"""Ports on loopback: kafkalab listens on 127.0.0.1 only, on ports the kernel hands out."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK, *, preferred: int | None = None) -> int:
    """A port free on `host` right now: `preferred` (e.g. the one a server had last time) when
    it is free, else one the kernel hands out (never a fixed one)."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether `port` can be bound on `host`; TIME_WAIT leftovers do not count as taken
    (SO_REUSEADDR, as the servers kafkalab starts set it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
