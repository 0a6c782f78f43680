"""Results: what a run measured, its totals, and where it is kept (PostgreSQL, or the
spool while the database does not answer)."""
