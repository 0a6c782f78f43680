"""An empty database of its own on the tests' results server, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import sql

from kafkalab.results import database


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "test") -> Iterator[str]:
    """The URL of a new database on the server of `server_url`; dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = database.ensure_database(name, server_url=server_url)
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
