"""The `kafkalab` command.

Every failure a user can act on ends as one line on stderr and a non-zero exit:
2 for bad input (spec, --set, arguments), 1 for a run or environment that failed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kafkalab.core.errors import KafkalabError, SpecError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _prefect_defaults() -> None:
    """Prefect settings kafkalab relies on, unless the user chose otherwise."""
    # This machine class has no route to Prefect's telemetry endpoint; skip the attempt.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "true")
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:  # PREFECT_API_URL, or the user's Prefect profile
        return
    from kafkalab.app import prefect_api, server

    # With `kafkalab server up` running, CLI runs are recorded there (and linked from
    # `kafkalab results`); else on the lasting local API, started by the first run and reused.
    state = server.running_state()
    if state is not None and server.healthy(state):
        os.environ["PREFECT_API_URL"] = state.api_url
    else:
        os.environ["PREFECT_API_URL"] = prefect_api.ensure(say=lambda msg: print(f"kafkalab: {msg}", file=sys.stderr))
        # It serves no UI: no "View at" line or artifact link to a page that does not exist.
        os.environ.setdefault("PREFECT_UI_URL", "")
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()  # Prefect read its settings when imported above


# --------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps([{c: _plain(v) for c, v in zip(columns, row)} for row in rows], indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = lambda items: "  ".join(s.ljust(w) for s, w in zip(items, widths)).rstrip()  # noqa: E731
    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    return "\n".join(out)


RESULT_COLUMNS = (
    "run_id", "experiment", "started_at", "status", "brokers", "partitions", "record_size",
    "producer_instances", "total_records", "window_records_per_sec", "total_records_per_sec", "total_mb_per_sec",
    "corrected_p99_ms", "worst_p99_ms", "saturated", "records_in_topic", "bottleneck", "fingerprint_id",
)


# --------------------------------------------------------------------------- commands


def _check_env_secrets(specs: list) -> None:
    """env: secret references are read now, so a variable that is not set fails before any JVM
    starts; prefect-secret: ones are read by the flow, from the Prefect API it runs against."""
    from kafkalab.core import secrets

    for spec in specs:
        reference = spec.cluster.security.password
        if reference and reference.startswith("env:"):
            secrets.resolve(reference, "cluster.security.password")


def _check_broker_settings(specs: list) -> None:
    """Broker settings Kafka would refuse are refused now, in one line, before any JVM of a cluster starts."""
    from kafkalab.kafka import distribution
    from kafkalab.platforms import check_broker_settings

    dists: dict[str, distribution.KafkaDistribution] = {}
    for spec in specs:
        if spec.kafka_version not in dists:
            dists[spec.kafka_version] = distribution.resolve(
                spec.kafka_version, on_progress=lambda line: print(f"kafkalab: {line}", file=sys.stderr))
        check_broker_settings(spec, dists[spec.kafka_version])  # a config Kafka accepted once is not checked again


@contextlib.contextmanager
def _cancellation_is_an_error(name: str) -> Iterator[None]:
    """Cancel pressed in the Prefect UI on a CLI run: one line, and a failing exit."""
    from prefect.exceptions import CancelledRun

    try:
        yield
    except CancelledRun as exc:
        raise KafkalabError(f"{name}: {exc or 'cancelled'}; the cluster was stopped") from None


def cmd_run(args: argparse.Namespace) -> int:
    from kafkalab.platforms import check_spec
    from kafkalab.spec import load_spec

    spec = load_spec(args.spec, args.set)  # validated before anything starts
    check_spec(spec, source=str(args.spec))  # and what its platform cannot do yet
    if args.dry_run:
        from kafkalab.experiment.dry_run import run_lines

        print("\n".join(run_lines(spec)))
        return 0
    _check_env_secrets([spec])
    _check_broker_settings([spec])
    _use_database(args.database_url)
    from kafkalab.results.store import Store

    with Store() as store:
        store.migrate()  # an unreachable database fails here, before any JVM starts
    _prefect_defaults()
    from flows.experiment import experiment

    print(
        f"kafkalab: experiment {spec.name}: {spec.cluster.brokers} brokers, topic {spec.topic.partitions} partitions "
        f"RF {spec.topic.replication_factor}, {spec.producer.instances} producers x {spec.producer.num_records} "
        f"records of {spec.producer.record_size} B, {spec.repetitions} repetition(s)",
        file=sys.stderr,
    )
    with _cancellation_is_an_error(spec.name):
        run_ids = experiment(spec)
    _print_runs(run_ids)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from kafkalab.plan import plan_sweep, render_plan
    from kafkalab.platforms import check_plan
    from kafkalab.spec import load_sweep

    sweep_spec = load_sweep(args.spec, args.set)
    plan = plan_sweep(sweep_spec)  # every cell validated before anything starts
    check_plan(plan)  # and what its platform cannot do yet
    from kafkalab.analysis.capacity import sweep_study_plans

    sweep_study_plans(sweep_spec, plan.cells)  # capacity: each cell's objective, kind and rates
    _check_env_secrets([cell.spec for cell in plan.cells])
    _check_broker_settings([cell.spec for cell in plan.cells])
    if args.dry_run:
        from kafkalab.experiment.dry_run import sweep_lines

        print("\n".join([render_plan(plan), *sweep_lines(plan)]))
        return 0
    _use_database(args.database_url)
    from kafkalab.results.store import Store

    with Store() as store:
        store.migrate()
    _prefect_defaults()
    from flows.sweep import sweep

    print(render_plan(plan), file=sys.stderr)
    with _cancellation_is_an_error(sweep_spec.name):
        sweep_id = sweep(sweep_spec, resume=args.resume)
    print(f"sweep {sweep_id} completed")
    if sweep_spec.capacity is not None:
        from kafkalab.app.capacity_command import sweep_capacity_table

        print(render(*sweep_capacity_table(sweep_id)))
    else:
        _print_cells(sweep_id)
    return 0


def cmd_capacity(args: argparse.Namespace) -> int:
    from kafkalab.app import capacity_command

    spec, study, plan = capacity_command.check_request(args)  # before anything starts
    _check_env_secrets([spec])
    _check_broker_settings([spec])
    _use_database(args.database_url)
    from kafkalab.results.store import Store

    with Store() as store:
        store.migrate()
    _prefect_defaults()
    from flows.capacity import capacity

    print(capacity_command.announce(spec, plan), file=sys.stderr)
    with _cancellation_is_an_error(spec.name):
        study_id = capacity(study, spec=spec, resume=args.resume)
    columns, rows, line = capacity_command.study_table(study_id)
    print(render(columns, rows))
    print(line)
    return 0


def _print_cells(sweep_id: int) -> None:
    from kafkalab.results.store import Store

    with Store() as store:
        columns, rows = store.query(
            "SELECT cell_index, brokers, partitions, producer_instances, record_size, profile, repetitions, "
            "mean_records_per_sec, stddev_records_per_sec, mean_mb_per_sec, mean_avg_latency_ms, mean_worst_p99_ms "
            "FROM v_cell_summary WHERE sweep_id = :id ORDER BY cell_index", {"id": sweep_id}
        )
    print(render(columns, rows))


def _print_runs(run_ids: list[int]) -> None:
    from kafkalab.results.store import Store

    with Store() as store:
        totals = store.run_totals(i for i in run_ids if i is not None)  # None: spooled
    rows = [totals[run_id] for run_id in sorted(totals)]
    keep = [c for c in RESULT_COLUMNS if not rows or c in rows[0]]
    print(render(keep, [[row[c] for c in keep] for row in rows]))


def cmd_results(args: argparse.Namespace) -> int:
    _use_database(args.database_url)
    from kafkalab.results.store import Store

    if args.action == "import":  # spooled runs (kafkalab.spool): reaching the database loads them, once
        with Store() as store:
            store.migrate()
            created = sum(1 for loaded in store.spool_loaded if loaded.created)
        print(f"{created} spooled run(s) stored, {len(store.spool_loaded) - created} already present")
        return 0
    with Store() as store:
        rows = store.results(args.experiment)
    if args.limit:
        rows = rows[: args.limit]
    columns = list(RESULT_COLUMNS) if args.format == "table" else (list(rows[0]) if rows else list(RESULT_COLUMNS))
    from kafkalab.app.links import flow_run_links

    # Pages in the UI of the configured server (PREFECT_UI_URL / PREFECT_API_URL, else the
    # one `kafkalab server up` runs), for the runs it knows.
    links = flow_run_links([r.get("flow_run_id") for r in rows])
    if links:
        for r in rows:
            r["flow_run_url"] = links.get(r.get("flow_run_id") or "")
        columns.append("flow_run_url")
    print(render(columns, [[r.get(c) for c in columns] for r in rows], args.format))
    return 0


def cmd_latency(args: argparse.Namespace) -> int:
    _use_database(args.database_url)
    from kafkalab.results import latency
    from kafkalab.results.store import Store

    if args.from_s is not None and args.to_s is not None and args.to_s <= args.from_s:
        raise SpecError(f"--to: {args.to_s:g} s is not after --from ({args.from_s:g} s)")
    with Store() as store:
        if not store.run_totals([args.run]):
            raise SpecError(f"latency: no run {args.run} stored")
        result = latency.remerge(store, args.run, kinds=args.kind or latency.KINDS, from_s=args.from_s,
                                 to_s=args.to_s, instances=args.instances)
    if result.load_start is None:
        raise SpecError(f"latency: run {args.run} has no histograms (its producers ran Kafka's perf tool, "
                        "which keeps none; tool kafkalab does)")
    window = f"{args.from_s or 0:g} s to {'the end' if args.to_s is None else f'{args.to_s:g} s'}"
    if not result.latency:
        raise SpecError(f"latency: no reporting interval of run {args.run} has its middle within {window} of the load"
                        + ("" if args.instances is None else " for those instances"))
    who = "every instance" if args.instances is None else "instances " + ", ".join(map(str, args.instances))
    print(f"run {args.run}: {result.intervals} interval histograms merged, {window} of the load "
          f"(from {result.load_start.isoformat(timespec='seconds')}), {who}; latency in ms", file=sys.stderr)
    columns = ["kind", "count", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms"]
    rows = [[getattr(s, c) for c in columns] for s in result.latency]
    print(render(columns, rows, args.format))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from kafkalab.reports import queries

    if args.list:
        for cook in queries.cookbook():
            params = " ".join(f"{p.name}=" + ("REQUIRED" if p.required else str(p.default)) for p in cook.params)
            print(f"{cook.name:<20} {cook.title}\n{'':<20} params: {params or '-'}")
        return 0
    if (args.query is None) == (args.file is None):
        raise SpecError("sql: give a query or --file FILE (one of them)")
    given = queries.parse_assignments(args.param)
    query, params = args.query, (dict(given) if given else None)
    if args.file is not None:
        cook = queries.resolve(args.file)  # a path, or a cookbook query by name
        query = cook.sql
        if cook.params or given:
            params = cook.bind(given)  # converted to the declared types; bound, never formatted in
    _use_database(args.database_url)
    from kafkalab.results.store import Store

    with Store() as store:
        columns, rows = store.query(query, params)
    if columns:
        print(render(columns, rows, args.format))
    return 0


def cmd_reference(args: argparse.Namespace) -> int:
    _use_database(args.database_url)
    from kafkalab.reports import reference
    from kafkalab.results.store import Store

    data = reference.reference_runs()
    with Store() as store:
        if args.action == "load":
            loaded = reference.load(store, data)
            print(
                f"reference {data.key}: {loaded.added} runs stored, {loaded.present} already present; "
                f"{loaded.figures_added} printed figures stored",
                file=sys.stderr,
            )
        columns, rows = reference.check_rows(store)
    if not rows:
        raise KafkalabError("no reference loaded: run `kafkalab reference load` first")
    explanations = reference.explanations(data, columns, rows)
    keep = ["experiment", "statistic", "metric", "printed", "computed_rounded", "agrees"]
    # printed and computed_rounded as text: their decimals are the point (6865627.639, 267)
    table = [
        [*(str(v) if c in ("printed", "computed_rounded") else v for c, v in ((c, row[columns.index(c)]) for c in keep)),
         explanations.get((row[0], row[2]), "")]
        for row in rows
    ]  # fmt: skip
    print(render([*keep, "why"], table, args.format))
    disagree = sum(1 for row in rows if not row[columns.index("agrees")])
    print(f"{len(rows)} printed figures: {len(rows) - disagree} agree with the guide's lines, {disagree} do not",
          file=sys.stderr)  # fmt: skip
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    _use_database(args.database_url)
    from kafkalab.reports.htmlreport import write_report
    from kafkalab.results.store import Store

    with Store() as store:
        if args.capacity is not None:  # one study's page (kafkalab.reports.capacity_charts)
            from kafkalab.reports.capacity_charts import write_capacity_report

            print(write_capacity_report(store, args.out, args.capacity))
            return 0
        report = write_report(store, args.out, experiment=args.experiment, sweep_id=args.sweep)
    print(f"{report.path}  ({report.runs} runs, {report.cells} cells, {len(report.charts)} charts, "
          f"{report.seconds:.1f} s)")  # fmt: skip
    return 0


EXIT_REGRESSION = 3


def cmd_check(args: argparse.Namespace) -> int:
    _use_database(args.database_url)
    from kafkalab.reports.environment import print_fingerprint_differences

    print_fingerprint_differences(args.experiment, window=args.window)  # before the verdict: what it compares
    if args.method == "changepoints":  # the default (kafkalab.analysis.changepoints)
        from kafkalab.app.analysis_commands import cmd_check_change_points

        return cmd_check_change_points(args)
    from kafkalab.reports.trend import check
    from kafkalab.results.store import Store

    with Store() as store:
        verdict = check(store, args.experiment, window=args.window, drop=args.drop, min_previous=args.min_previous)
    print(verdict.message())
    return EXIT_REGRESSION if verdict.regression else 0


def cmd_db(args: argparse.Namespace) -> int:
    from kafkalab.results import database

    if args.action == "url":
        _use_database(args.database_url)
        url = database.resolve_url()  # starts the embedded server, which stays up for psql
        database.check_connection(url)
        print(database.mask_url(url))
    elif args.action == "stop":
        from kafkalab.app import prefect_api

        prefect_api.stop(say=print)  # the background services of CLI runs go together
        stopped = database.stop()
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    else:
        status = database.status()
        state = f"running on 127.0.0.1:{status.port} (pid {status.pid})" if status.running else "stopped"
        print(f"embedded PostgreSQL: {state}; data in {status.data_dir}")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from kafkalab.app import prefect_api
    from kafkalab.core.paths import runs_dir
    from kafkalab.platforms.local import clean_stale_runs

    cleaned = clean_stale_runs(runs_dir(), on_progress=lambda line: print(line))
    for run_dir, freed in cleaned:
        print(f"cleaned {run_dir}: {freed / 1e6:.1f} MB of data removed (configs and logs kept)")
    stopped_apis = prefect_api.clean(say=print)  # and names the lasting one, which it keeps
    from kafkalab.app.cluster_command import clean_kept

    kept = clean_kept(stop=args.clusters, say=print)  # listed, and left running unless --clusters
    if not cleaned and not stopped_apis and not kept:
        print("nothing to clean")
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    from kafkalab.kafka import distribution
    from kafkalab.platforms.local.class_archives import ensure_class_archives

    progress = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    dist = distribution.resolve(args.version, on_progress=progress)
    ensure_class_archives(dist, on_progress=progress)
    print(f"Apache Kafka {dist.version}: {dist.libs}")
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    _use_database(args.database_url)  # the worker's flow runs store their results there
    from kafkalab.app import server

    if args.action == "up":
        state = server.up(
            port=args.port, prefect_database_url=args.prefect_database_url, max_runs=args.max_runs,
            redeploy=args.redeploy, say=lambda msg: print(f"kafkalab: {msg}", file=sys.stderr),
        )
        print(f"Prefect UI:  {state.ui_url}")
        print(f"Prefect API: {state.api_url}   (export PREFECT_API_URL={state.api_url} for the prefect CLI)")
        print(f"worker:      pid {state.worker.pid if state.worker else '-'} on work pool {state.pool}")
        for d in state.deployments:
            paused = [s["slug"] for s in d["schedules"] if not s["active"]]
            note = f"  (schedule {', '.join(paused)} paused)" if paused else ""
            print(f"deployment:  {d['name']}{note}  {state.ui_url}/deployments/deployment/{d['id']}")
        print("stop it all with `kafkalab server down`")
    elif args.action == "down":
        from kafkalab.app import prefect_api

        stopped = server.down(say=print)
        if prefect_api.stop(say=print):
            stopped.append("prefect-api")
        if not stopped:
            print("nothing was running")
    elif args.action == "schedule":
        if len(args.target) != 2 or args.target[1] not in ("on", "off"):
            raise SpecError("server schedule: give a deployment and on|off, e.g. `kafkalab server schedule "
                            "experiment/guide-baseline-nightly on`")
        print("\n".join(server.set_schedules(args.target[0], args.target[1] == "on")))
    else:
        from kafkalab.app import prefect_api

        print("\n".join([*server.status_lines(), prefect_api.status_line()]))
    return 0


def _use_database(explicit: str | None) -> None:
    """--database-url reaches every step (and the flow's tasks) as DATABASE_URL, for this
    command only: main() puts the variable back when it returns."""
    if explicit:
        os.environ["DATABASE_URL"] = explicit


@contextlib.contextmanager
def _database_url_of_this_command() -> Iterator[None]:
    """An in-process caller of main() (a test, a notebook) keeps its own DATABASE_URL."""
    before = os.environ.get("DATABASE_URL")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafkalab", description="Kafka load-testing studies as Prefect flows, results in PostgreSQL."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--database-url", metavar="URL", help="results database (default: DATABASE_URL, else embedded)")
        return p

    run = with_db(sub.add_parser("run", help="run one experiment spec as a Prefect flow"))
    run.add_argument("spec", type=Path, help="experiment YAML, e.g. experiments/quickstart.yaml")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a spec setting, e.g. producer.num_records=100000 or producer.props.linger.ms=10")
    run.add_argument("--dry-run", action="store_true",
                     help="print what the run would create and write, and where, and exit (changes nothing)")
    run.set_defaults(func=cmd_run)

    sweep = with_db(sub.add_parser("sweep", help="run a sweep (cells x repetitions) as one resumable Prefect flow"))
    sweep.add_argument("spec", type=Path, help="sweep YAML, e.g. experiments/guide-scale-out-small.yaml")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting of the base experiment (repetitions=N: the sweep's)")
    sweep.add_argument("--resume", type=int, metavar="ID", help="run only what sweep ID has no successful run for")
    sweep.add_argument("--dry-run", action="store_true", help="print the plan (cells, order, records) and exit")
    sweep.set_defaults(func=cmd_sweep)

    results = with_db(sub.add_parser("results", help="stored runs, newest first (totals across producers)"))
    results.add_argument("action", nargs="?", choices=("import",),
                         help="import: store the runs spooled while the database was down (once each)")
    results.add_argument("--experiment", metavar="NAME")
    results.add_argument("--format", choices=("table", "csv", "json"), default="table")
    results.add_argument("--limit", type=int, default=0, metavar="N")
    results.set_defaults(func=cmd_results)

    lat = with_db(sub.add_parser("latency", help="a run's latency percentiles re-merged from its histograms: "
                                                 "any window, any instances"))
    lat.add_argument("run", type=int, help="the run id (kafkalab results)")
    lat.add_argument("--kind", action="append", choices=("send", "corrected", "schedule_delay", "end_to_end"),
                     help="latency kind (repeatable; default all): from the send, from the intended send time "
                          "(corrected), the generator's lag behind its schedule, or end to end")
    lat.add_argument("--from", dest="from_s", type=float, metavar="S", help="seconds into the load (default its start)")
    lat.add_argument("--to", dest="to_s", type=float, metavar="S", help="seconds into the load (default its end)")
    lat.add_argument("--instances", type=lambda text: [int(i) for i in text.split(",")], metavar="I,J",
                     help="only these instance numbers (producers; consumers for end_to_end)")
    lat.add_argument("--format", choices=("table", "csv", "json"), default="table")
    lat.set_defaults(func=cmd_latency)

    sql = with_db(sub.add_parser("sql", help="a read-only query against the results database"))
    sql.add_argument("query", nargs="?")
    sql.add_argument("--file", metavar="FILE",
                     help="read the query from a .sql file, or a cookbook query by name (see --list)")
    sql.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a parameter of the query (:NAME in the SQL), bound as a value, never formatted in")
    sql.add_argument("--list", action="store_true", help="list the cookbook queries (schema/queries) and their parameters")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.set_defaults(func=cmd_sql)

    ref = with_db(sub.add_parser("reference", help="the guide's published results as reference runs: load | check"))
    ref.add_argument("action", choices=("load", "check"),
                     help="load: store them (idempotent) and compare; check: compare printed and computed figures")
    ref.add_argument("--format", choices=("table", "csv", "json"), default="table")
    ref.set_defaults(func=cmd_reference)

    report = with_db(sub.add_parser("report", help="a self-contained HTML report with charts"))
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for report.html")
    which = report.add_mutually_exclusive_group()
    which.add_argument("--experiment", metavar="NAME", help="the runs of one experiment")
    which.add_argument("--sweep", type=int, metavar="ID", help="the runs of one sweep")
    which.add_argument("--capacity", type=int, metavar="ID", help="one capacity study: its latency-throughput curve")
    report.set_defaults(func=cmd_report)

    chk = with_db(sub.add_parser(
        "check", help="exit 3 when the newest change point of an experiment's history is a regression "
                      "(--method threshold: the newest run against the median of the previous runs)"))
    chk.add_argument("--experiment", required=True, metavar="NAME")
    chk.add_argument("--window", type=int, default=30, metavar="N", help="median over the N previous ok runs (30)")
    chk.add_argument("--drop", type=float, default=0.1, metavar="SHARE",
                     help="a regression falls more than this share below that median (0.1 = 10%%)")
    chk.add_argument("--min-previous", type=int, default=3, metavar="N",
                     help="fewest previous ok runs for a verdict (3); fewer: no verdict, exit 0")
    from kafkalab.app import analysis_commands

    analysis_commands.add_check_arguments(chk)
    analysis_commands.add_parsers(sub, with_db, sys.modules[__name__])
    chk.set_defaults(func=cmd_check)

    clean = sub.add_parser("clean", help="stop what run directories of dead kafkalab processes left running, free their data")
    clean.add_argument("--clusters", action="store_true", help="also stop the clusters `kafkalab cluster up` left running")
    clean.set_defaults(func=cmd_clean)

    from kafkalab.app import capacity_command, cluster_command

    cluster_command.add_parser(sub)
    capacity_command.add_parser(sub, cmd_capacity)

    kafka = sub.add_parser("kafka", help="fetch the Kafka jars into the cache (once) and show where they are")
    kafka.add_argument("--version", default=None, help="Apache Kafka version (default: the pinned one)")
    kafka.set_defaults(func=cmd_kafka)

    db = with_db(sub.add_parser("db", help="the results database: url | stop | status"))
    db.add_argument("action", choices=("url", "stop", "status"))
    db.set_defaults(func=cmd_db)

    srv = with_db(sub.add_parser("server", help="Prefect server on PostgreSQL + worker + deployments: up | down | status | schedule; down also stops the local Prefect API of CLI runs"))
    srv.add_argument("action", choices=("up", "down", "status", "schedule"))
    srv.add_argument("target", nargs="*", metavar="DEPLOYMENT on|off",
                     help="for `schedule`: turn a deployment's schedules on or off, e.g. guide-baseline-nightly on")
    srv.add_argument("--port", type=int, metavar="N",
                     help="port of the server and UI on 127.0.0.1 (default: KAFKALAB_SERVER_PORT, else the last one if free, else a free one)")
    srv.add_argument("--prefect-database-url", metavar="URL",
                     help="PostgreSQL for Prefect (default: KAFKALAB_PREFECT_DATABASE_URL, else database `prefect` on the results server)")
    srv.add_argument("--max-runs", type=int, default=1, metavar="N",
                     help="flow runs at a time on this machine: the work pool's concurrency limit (0: no limit; default 1)")
    srv.add_argument("--redeploy", action="store_true", help="register the deployments again on a running server")
    srv.set_defaults(func=cmd_server)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _database_url_of_this_command():
            return args.func(args)
    except SpecError as exc:
        print(f"kafkalab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KafkalabError as exc:
        print(f"kafkalab: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("kafkalab: interrupted; the cluster was stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
