"""What `kafkalab check` says before its verdict when the runs it compares ran on different
machines, software or settings: the newest run's fingerprint against those of the runs before
it (kafkalab.metrics.fingerprint.differences), in words.

A regression found across a changed fingerprint may be the change, not the code: the user
should see that first.
"""

from __future__ import annotations

from typing import Any

from kafkalab.metrics.fingerprint import differences
from kafkalab.results.store import Store

MAX_LINES = 20  # a fingerprint can differ in many settings; the first ones say enough


def fingerprint_notes(store: Store, experiment: str, *, window: int = 30) -> list[str]:
    """Lines saying how the newest measured run's fingerprint differs from the `window` runs
    before it; [] when they all share it (or the runs carry none)."""
    columns, rows = store.query(
        "SELECT r.id, r.fingerprint_id, r.fingerprint FROM runs r JOIN experiments e ON e.id = r.experiment_id"
        " WHERE e.name = :experiment AND r.source = 'measured'"
        " ORDER BY r.started_at DESC, r.id DESC LIMIT :n",
        {"experiment": experiment, "n": window + 1},
    )
    runs = [dict(zip(columns, row, strict=True)) for row in rows]
    if len(runs) < 2 or runs[0]["fingerprint_id"] is None:
        return []
    newest, previous = runs[0], runs[1:]
    other = [r for r in previous if r["fingerprint_id"] is not None and r["fingerprint_id"] != newest["fingerprint_id"]]
    if not other:
        return []
    latest = other[0]
    head = (f"note: the fingerprints of the compared runs differ: run {newest['id']} ({newest['fingerprint_id']}) "
            f"ran otherwise than {len(other)} of the {len(previous)} runs before it; against run {latest['id']} "
            f"({latest['fingerprint_id']}), the latest of them:")
    lines = [head]
    said = differences(_fingerprint(latest), _fingerprint(newest))
    lines += [f"  {line}" for line in said[:MAX_LINES]]
    if len(said) > MAX_LINES:
        lines.append(f"  ... and {len(said) - MAX_LINES} more (v_environment has them all)")
    return lines


def print_fingerprint_differences(experiment: str, *, window: int = 30) -> None:
    with Store() as store:
        for line in fingerprint_notes(store, experiment, window=window):
            print(line)


def _fingerprint(run: dict[str, Any]) -> dict[str, Any]:
    return run["fingerprint"] or {}
