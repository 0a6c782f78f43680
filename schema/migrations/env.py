"""Alembic environment: migrate through the caller's connection, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from schema import MIGRATION_LOCK_KEY
from schema.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        # Held until commit: a second process migrating at the same moment waits here,
        # then finds the database at head and does nothing.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def _url() -> str:
    from kafkalab.results.database import resolve_url

    return resolve_url(context.get_x_argument(as_dictionary=True).get("url"))


if context.is_offline_mode():
    from kafkalab.results.database import sqlalchemy_url

    context.configure(url=sqlalchemy_url(_url()), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    from kafkalab.results.database import make_engine

    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()
