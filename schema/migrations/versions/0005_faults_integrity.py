"""Faults and integrity: fault_events, runs.records_acknowledged / records_consumed / records_lost / integrity_check, v_integrity.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

A run's broker faults (spec `faults:`, kafkalab.faults) are stored one row per fault with
what was planned and what happened (seconds from the producers' start). The integrity
columns say what the producers report acknowledged against what the topic holds; the view
v_integrity (views/v_integrity.sql) puts them beside the durability settings.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schema import execute_view_file

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_RUN_COLUMNS = (
    ("integrity_check", sa.Text,
     "how records_lost was counted: end_offsets (records_in_topic) | consume (records_consumed)"),
    ("records_acknowledged", sa.BigInteger,
     "records the producer instances report acknowledged (failed instances included)"),
    ("records_consumed", sa.BigInteger, "records read back from the topic (integrity check consume only)"),
    ("records_lost", sa.BigInteger,
     "records_acknowledged minus what the topic holds; < 0: more held than acknowledged"),
)


def upgrade() -> None:
    for name, type_, comment in _RUN_COLUMNS:
        op.add_column("runs", sa.Column(name, type_, comment=comment))
    op.create_table(
        "fault_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, comment="the fault's place in the spec's faults list"),
        sa.Column("action", sa.Text, nullable=False, comment="kill: SIGKILL / pod deleted at once; stop: clean shutdown"),
        sa.Column("broker", sa.Integer, nullable=False, comment="broker node id"),
        sa.Column("planned_at_s", sa.Double, nullable=False, comment="the spec's at_s"),
        sa.Column("planned_restart_after_s", sa.Double, comment="the spec's restart_after_s; NULL: stays down"),
        sa.Column("at_s", sa.Double, comment="when it was injected, s from the producers' start"),
        sa.Column("down_at", sa.DateTime(timezone=True), comment="when it was injected, wall clock"),
        sa.Column("restarted_at_s", sa.Double, comment="when the broker was started again, s from the producers' start"),
        sa.Column("ready_at_s", sa.Double, comment="when it served again, s from the producers' start"),
        sa.Column("outcome", sa.Text, nullable=False,
                  comment="restarted | down (left down, as asked) | skipped (producers finished first) | failed"),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_fault_events"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_fault_events_run_id_runs"),
        sa.UniqueConstraint("run_id", "seq", name="uq_fault_events_run_id_seq"),
        sa.CheckConstraint("action IN ('kill', 'stop')", name="ck_fault_events_action"),
        sa.CheckConstraint("outcome IN ('restarted', 'down', 'skipped', 'failed')", name="ck_fault_events_outcome"),
    )
    execute_view_file("v_integrity.sql")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_integrity")
    op.drop_table("fault_events")
    for name, _, _ in reversed(_RUN_COLUMNS):
        op.drop_column("runs", name)
