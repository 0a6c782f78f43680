"""Ports on loopback: kafkalab listens on 127.0.0.1 only, on ports the kernel hands out."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel says is free on `host` right now (never a fixed one)."""
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
