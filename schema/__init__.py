"""The results database's shape: typed models, Alembic migrations and the documented views.

`upgrade(connection)` brings any PostgreSQL database to the latest schema; it is cheap
and safe to call on every connect (a no-op at head, serialised by an advisory lock).

View files (views/*.sql) are read by the migration that creates them. Once released, a
view file is history: to change a view, add `views/<view>.<revision>.sql` and a migration
that drops and recreates the view from it, so a fresh database still replays each step
against the tables of its time. A change that only appends columns may instead use
CREATE OR REPLACE VIEW in the new file, which keeps the views built on it (0003 does so).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

SCHEMA_DIR = Path(__file__).resolve().parent
VIEWS_DIR = SCHEMA_DIR / "views"
# The documented views (DESIGN.md), in creation order.
VIEWS = ("v_producer_results", "v_run_totals", "v_consumer_results")
# pg_advisory_xact_lock key: concurrent first connects would otherwise both create tables.
MIGRATION_LOCK_KEY = 0x6B61666B616C6162  # "kafkalab"


def view_statements(filename: str) -> list[str]:
    """The statements of a views/ file; each ends with `;` at the end of a line."""
    text = (VIEWS_DIR / filename).read_text(encoding="utf-8")
    return [part.strip() for part in re.split(r";[ \t]*$", text, flags=re.MULTILINE) if _has_sql(part)]


def execute_view_file(filename: str) -> None:
    """Inside a migration: run the statements of views/`filename` exactly as written.

    Not through sqlalchemy.text(), which would take a `:word` in a COMMENT for a parameter.
    """
    from alembic import context, op

    for statement in view_statements(filename):
        if context.is_offline_mode():
            op.execute(statement)
        else:
            op.get_bind().connection.driver_connection.execute(statement)


def _has_sql(part: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in part.splitlines())


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config for these migrations; with `connection`, env.py migrates through it."""
    from alembic.config import Config

    config = Config(str(SCHEMA_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(SCHEMA_DIR / "migrations"))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Migrate the database behind `connection` to head (committing), a no-op when there."""
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
