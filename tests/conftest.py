"""Shared fixtures: a real PostgreSQL for the results store (embedded, or given; no mocks).

`results_db_url` is the session's results database: the embedded server of
kafkalab.database in a temp data dir, or the server of KAFKALAB_TEST_DATABASE_URL when set
(to run the same tests against another PostgreSQL). `fresh_db_url` is an empty database
of its own per test. Neither touches DATABASE_URL or KAFKALAB_DATA_DIR.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql

from kafkalab import database


@pytest.fixture(scope="session")
def embedded_results_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[database.EmbeddedServer]:
    """kafkalab's embedded PostgreSQL in a temp data dir, running for the session."""
    data_dir = tmp_path_factory.mktemp("kafkalab-data")
    server = database.EmbeddedServer(data_dir / "postgres")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def results_db_url(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("KAFKALAB_TEST_DATABASE_URL", "").strip()
    if external:
        return database.libpq_url(external)
    server: database.EmbeddedServer = request.getfixturevalue("embedded_results_server")
    return server.url(database.RESULTS_DATABASE)


@pytest.fixture
def fresh_db_url(results_db_url: str) -> Iterator[str]:
    """A new, empty database on the results server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = database.ensure_database(name, server_url=results_db_url)
    yield url
    with psycopg.connect(results_db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session", autouse=True)
def _no_stray_embedded_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Stop any embedded server a test started under the session's temp dir and left running."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and "-D" in cmdline[:-1]:
            pgdata = Path(cmdline[cmdline.index("-D") + 1])
            if str(pgdata).startswith(base):
                database.EmbeddedServer(pgdata.parent).stop()
