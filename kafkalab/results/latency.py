"""`kafkalab latency`: any window or subset of a stored run, re-merged from its histograms.

The figures stored with a run cover its window (every producer measuring, warm-up left
out). The interval histograms are stored too, so another window (the first ten seconds,
the time around a broker fault) or a subset of instances is merged again here, exactly,
rather than guessed from percentiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kafkalab.kafka import histograms, loadgen
from kafkalab.model import LatencySummary
from kafkalab.results.store import Store

KINDS = loadgen.PRODUCER_KINDS + loadgen.CONSUMER_KINDS


@dataclass(frozen=True)
class Remerged:
    run_id: int
    load_start: datetime | None  # the run's earliest interval: what from_s and to_s count from
    intervals: int  # histograms merged
    latency: list[LatencySummary]


def remerge(store: Store, run_id: int, *, kinds: Sequence[str] = KINDS, from_s: float | None = None,
            to_s: float | None = None, instances: Sequence[int] | None = None) -> Remerged:
    """The latency of each of `kinds` over [from_s, to_s] seconds of the run's load (default
    all of it), merged from the histograms of `instances` (default every instance)."""
    start, rows = store.latency_histograms(run_id, kinds=kinds, from_s=from_s, to_s=to_s, instances=instances)
    by_kind: dict[str, list[str]] = {}
    for kind, encoded in rows:
        by_kind.setdefault(kind, []).append(encoded)
    latency = [summary for kind in kinds if kind in by_kind
               and (summary := histograms.summarize(kind, histograms.merge(by_kind[kind]))) is not None]
    return Remerged(run_id, start, len(rows), latency)
