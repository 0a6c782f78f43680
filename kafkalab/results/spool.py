"""Runs measured while the results database was down: spooled to disk, loaded exactly once.

`write` puts a RunRecord as JSON into `<run dir>/spool/run-<run_key>.json` (written to a
temp file, fsynced, renamed: a reader never sees half a file). `Store.load_spooled` stores every
spooled run it finds under the runs directory and deletes its file. The store inserts runs
with ON CONFLICT (run_key) DO NOTHING, so a file loaded twice (two commands at once, or a
crash between the commit and the delete) still makes one row.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kafkalab.core import paths
from kafkalab.model import (
    ConsumerOutcome,
    ConsumerSummary,
    Evidence,
    FaultEvent,
    LatencySummary,
    LoadInterval,
    MetricSample,
    ProducerOutcome,
    ProducerOutput,
    ProducerSummary,
    ProducerWindow,
    RunFigures,
    RunMetrics,
    RunRecord,
    StepTiming,
    Verdict,
)  # fmt: skip

log = logging.getLogger(__name__)

SPOOL_DIR = "spool"
FORMAT = 1


def write(record: RunRecord, run_dir: str | Path | None = None) -> Path:
    """Spool `record` into its run directory (or `run_dir`); returns the file."""
    base = Path(run_dir or record.run_dir or paths.runs_dir() / "_spool")
    directory = base / SPOOL_DIR
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"run-{record.run_key}.json"
    data = json.dumps({"format": FORMAT, "record": _encode(record)}, indent=1)
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read(path: Path) -> RunRecord:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown spool format {data.get('format')!r}")
    return _decode_record(data["record"])


def pending(root: Path | None = None) -> list[Path]:
    """Spool files under the runs directory, oldest first."""
    root = root or paths.runs_dir()
    if not root.is_dir():
        return []
    found = [p for p in root.glob(f"*/{SPOOL_DIR}/run-*.json") if p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)))


def save_or_spool(record: RunRecord, save: Callable[[RunRecord], int]) -> tuple[int | None, Path | None, Exception | None]:
    """The one place a measured run is kept: `save` it (e.g. Store.save_run, or a task that
    retries it), or spool it when that fails. Returns (run id, None, None) when stored and
    (None, spool file, the error) when spooled."""
    try:
        return save(record), None, None
    except Exception as exc:  # noqa: BLE001 - a measured run must never be lost
        return None, write(record), exc


# -- JSON

def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__datetime__"}:
            return datetime.fromisoformat(value["__datetime__"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _summary(cls: type, data: dict[str, Any] | None) -> Any:
    return cls(**data) if data is not None else None


def _decode_output(data: dict[str, Any]) -> ProducerOutput:
    return ProducerOutput(
        windows=[ProducerWindow(**w) for w in data["windows"]],
        summary=_summary(ProducerSummary, data["summary"]),
        steady_state=_summary(ProducerSummary, data.get("steady_state")),
    )


def _decode_record(raw: dict[str, Any]) -> RunRecord:
    data = _plain(raw)
    producers = [
        ProducerOutcome(**{**p, "output": _decode_output(p["output"]), "intervals": _intervals(p.get("intervals"))})
        for p in data.pop("producers", [])
    ]
    consumers = data.pop("consumers", None)
    if consumers is None:  # a spool file written before consumers were one per instance
        consumers = [c for c in [data.pop("consumer", None)] if c is not None]
    decoded_consumers = [
        ConsumerOutcome(**{**c, "summary": _summary(ConsumerSummary, c["summary"]),
                           "intervals": _intervals(c.get("intervals"))})
        for c in consumers
    ]
    figures = data.pop("figures", None)
    if figures is not None:
        figures = RunFigures(**{**figures, "latency": [LatencySummary(**s) for s in figures.get("latency", [])]})
    steps = [StepTiming(**s) for s in data.pop("steps", [])]
    faults = [FaultEvent(**f) for f in data.pop("fault_events", [])]
    metrics = data.pop("metrics", None)
    if metrics is not None:
        metrics = RunMetrics(**{**metrics, **{kind: [MetricSample(**m) for m in metrics.get(kind, [])]
                                              for kind in ("broker", "host", "client")}})
    verdict = data.pop("verdict", None)
    if verdict is not None:
        verdict = Verdict(**{**verdict, "evidence": [Evidence(**e) for e in verdict.get("evidence", [])]})
    return RunRecord(**data, producers=producers, consumers=decoded_consumers, figures=figures, steps=steps,
                     fault_events=faults, verdict=verdict, metrics=metrics)


def _intervals(data: list[dict[str, Any]] | None) -> list[LoadInterval]:
    return [LoadInterval(**i) for i in data or []]
