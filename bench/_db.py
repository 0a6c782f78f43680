"""A PostgreSQL database for a benchmark: on DATABASE_URL's server when set, else on an
embedded server of its own in a temporary data directory (started and stopped here, so a
benchmark never touches the user's results)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from kafkalab.results import database  # noqa: E402


@contextlib.contextmanager
def bench_database(name: str, *, keep: bool = False) -> Iterator[str]:
    """URL of a fresh database `name`, dropped afterwards unless `keep`."""
    external = os.environ.get("DATABASE_URL", "").strip()
    with contextlib.ExitStack() as stack:
        if external:
            server_url = database.libpq_url(external)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kafkalab-bench-")))
            server = database.EmbeddedServer(root / "postgres")
            server.start()
            stack.callback(server.stop)
            server_url = server.url("postgres")
        with psycopg.connect(server_url, autocommit=True) as conn:
            if not keep:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        url = database.ensure_database(name, server_url=server_url)
        try:
            yield url
        finally:
            if not keep:
                with psycopg.connect(server_url, autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
