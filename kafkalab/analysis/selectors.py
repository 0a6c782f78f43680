"""Which stored runs one side of `kafkalab compare` names.

    run:12   12              one run
    12,13,14   run:12..15    several runs (a list, or an inclusive range)
    sweep:3                  every run of sweep 3
    sweep:3/cell:2           the runs (repetitions) of cell 2 of sweep 3
    experiment:quickstart    every run of the experiment (also just `quickstart`)
    quickstart@2026-11-01..2026-11-15   its runs started in that window: a date as the end
                             takes that whole day, a time (2026-11-15T06:00) is exclusive;
                             either end may be left out (quickstart@2026-11-01..)
    quickstart@last:5        its newest 5 runs

Only runs with status ok count (a failed run has no figures). Resolving a selector names
what is wrong in one line: an unknown run or experiment, a side with no ok run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from kafkalab.core.errors import SpecError
from kafkalab.results.store import Store

_NAME = r"[^\s@/:,][^\s@,]*"


@dataclass(frozen=True)
class Selector:
    text: str
    kind: str  # runs | sweep | experiment
    run_ids: tuple[int, ...] = ()
    sweep_id: int | None = None
    cell_index: int | None = None
    experiment: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    last: int | None = None

    def describe(self) -> str:
        if self.kind == "runs":
            return "run " + ", ".join(map(str, self.run_ids)) if len(self.run_ids) > 1 else f"run {self.run_ids[0]}"
        if self.kind == "sweep":
            return f"sweep {self.sweep_id}" + (f" cell {self.cell_index}" if self.cell_index is not None else "")
        when = ""
        if self.last is not None:
            when = f", newest {self.last} runs"
        elif self.since or self.until:
            when = f", {_moment_text(self.since) or 'start'} to {_moment_text(self.until) or 'now'}"
        return f"experiment {self.experiment}{when}"


@dataclass(frozen=True)
class Side:
    """A selector and the ok runs it names, oldest first."""

    label: str  # A or B
    selector: Selector
    run_ids: tuple[int, ...]

    def describe(self) -> str:
        return f"{self.label} = {self.selector.text} ({self.selector.describe()}: {len(self.run_ids)} ok runs)"


def parse(text: str, label: str = "A") -> Selector:
    """A selector from its text (see the module doc); SpecError naming the side when it is none."""
    value = text.strip()
    if not value:
        raise SpecError(f"compare: {label}: empty selector (give e.g. run:12, sweep:3/cell:2 or experiment:NAME)")
    if value.startswith("run:") or re.fullmatch(r"[\d,.\s]+", value):
        return Selector(value, "runs", run_ids=_run_ids(value.removeprefix("run:"), label, value))
    if match := re.fullmatch(r"sweep:(\d+)(?:/cell:(\d+))?", value):
        return Selector(value, "sweep", sweep_id=int(match[1]),
                        cell_index=int(match[2]) if match[2] is not None else None)  # fmt: skip
    if value.startswith("sweep:"):
        raise SpecError(f"compare: {label}: {value!r} is not a sweep selector: write sweep:ID or sweep:ID/cell:N")
    name, _, window = value.removeprefix("experiment:").partition("@")
    if not re.fullmatch(_NAME, name):
        raise SpecError(f"compare: {label}: {value!r} is not a selector: write run:ID, ID,ID, sweep:ID/cell:N, "
                        "experiment:NAME, NAME@FROM..UNTIL or NAME@last:N")
    if not window:
        return Selector(value, "experiment", experiment=name)
    if match := re.fullmatch(r"last:(\d+)", window):
        if int(match[1]) < 1:
            raise SpecError(f"compare: {label}: {value!r}: last:N needs N of at least 1")
        return Selector(value, "experiment", experiment=name, last=int(match[1]))
    if ".." not in window:
        raise SpecError(f"compare: {label}: {value!r}: write the window as FROM..UNTIL (dates or times) or last:N")
    since_text, until_text = window.split("..", 1)
    since = _moment(since_text, label, value, end=False) if since_text else None
    until = _moment(until_text, label, value, end=True) if until_text else None
    if since is None and until is None:
        raise SpecError(f"compare: {label}: {value!r}: the window needs a start or an end")
    if since is not None and until is not None and until <= since:
        raise SpecError(f"compare: {label}: {value!r}: the window ends ({until_text}) before it starts ({since_text})")
    return Selector(value, "experiment", experiment=name, since=since, until=until)


def resolve(store: Store, selector: Selector, label: str) -> Side:
    """The ok runs `selector` names; SpecError for an unknown run or experiment or no ok run."""
    if selector.kind == "runs":
        rows = _rows(store, "SELECT id, status FROM runs WHERE id = ANY(:ids)", {"ids": list(selector.run_ids)})
        found = {row[0]: row[1] for row in rows}
        if missing := [r for r in selector.run_ids if r not in found]:
            raise SpecError(f"compare: {label}: no run {', '.join(map(str, missing))} stored")
        if failed := [r for r in selector.run_ids if found[r] != "ok"]:
            raise SpecError(f"compare: {label}: run {', '.join(map(str, failed))} did not finish ok "
                            f"(status {found[failed[0]]}): it has no figures to compare")
        return Side(label, selector, tuple(sorted(selector.run_ids)))
    if selector.kind == "sweep":
        if not _rows(store, "SELECT 1 FROM sweeps WHERE id = :id", {"id": selector.sweep_id}):
            raise SpecError(f"compare: {label}: no sweep {selector.sweep_id} stored")
        sql = ("SELECT id FROM runs WHERE sweep_id = :sweep AND status = 'ok'"
               " AND (CAST(:cell AS integer) IS NULL OR cell_index = :cell) ORDER BY started_at, id")
        ids = [row[0] for row in _rows(store, sql, {"sweep": selector.sweep_id, "cell": selector.cell_index})]
    else:
        known = _rows(store, "SELECT id FROM experiments WHERE name = :name", {"name": selector.experiment})
        if not known:
            raise SpecError(f"compare: {label}: no experiment {selector.experiment!r} stored")
        sql = ("SELECT id FROM runs WHERE experiment_id = :experiment AND status = 'ok'"
               " AND (CAST(:since AS timestamptz) IS NULL OR started_at >= :since)"
               " AND (CAST(:until AS timestamptz) IS NULL OR started_at < :until)"
               " ORDER BY started_at DESC, id DESC LIMIT :limit")
        params = {"experiment": known[0][0], "since": selector.since, "until": selector.until,
                  "limit": selector.last if selector.last is not None else None}
        ids = sorted(row[0] for row in _rows(store, sql, params))
    if not ids:
        raise SpecError(f"compare: {label} ({selector.text}): {selector.describe()} has no ok run")
    return Side(label, selector, tuple(ids))


def _rows(store: Store, sql: str, params: dict[str, Any]) -> list[tuple]:
    return store.query(sql, params)[1]


def _run_ids(text: str, label: str, whole: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if match := re.fullmatch(r"(\d+)\.\.(\d+)", part):
            low, high = int(match[1]), int(match[2])
            if high < low:
                raise SpecError(f"compare: {label}: {whole!r}: the range {part} runs backwards")
            ids.extend(range(low, high + 1))
        elif part.isdigit():
            ids.append(int(part))
        else:
            raise SpecError(f"compare: {label}: {whole!r}: {part!r} is not a run id (run:12, 12,13,14 or run:12..15)")
    if len(set(ids)) != len(ids):
        raise SpecError(f"compare: {label}: {whole!r} names a run twice")
    return tuple(ids)


def _moment(text: str, label: str, whole: str, *, end: bool) -> datetime:
    """A window end: a date (the start of that day, or for the end the start of the next) or a time."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text) + (timedelta(days=1) if end else timedelta())
            return datetime.combine(day, time()).astimezone()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SpecError(f"compare: {label}: {whole!r}: {text!r} is not a date (2026-11-01) or time "
                        "(2026-11-01T06:00)") from None
    return moment if moment.tzinfo else moment.astimezone()


def _moment_text(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else ""
