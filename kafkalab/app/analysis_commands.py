"""`kafkalab compare`, `kafkalab noise` and the change-point method of `kafkalab check`.

The statistics are kafkalab.analysis's; this module reads the arguments, runs the noise
runs through the experiment flow, and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from kafkalab.core.errors import SpecError

EXIT_REGRESSION = 3


def add_parsers(sub: argparse._SubParsersAction, with_db: Callable, cli: ModuleType) -> None:
    """The compare and noise commands; `with_db` adds --database-url, `cli` is kafkalab.app.cli, whose
    run preparation `noise` shares (passed in: cli imports this module)."""
    compare = with_db(sub.add_parser(
        "compare", help="is B faster than A? window throughput and merged p99 with 95%% confidence intervals",
        description="A and B: run:12 | 12,13,14 | run:12..15 | sweep:3 | sweep:3/cell:2 | experiment:NAME | NAME | "
                    "NAME@2026-11-01..2026-11-15 | NAME@last:5 (docs/comparing.md)"))
    compare.add_argument("a", metavar="A", help="the baseline side, e.g. experiment:quickstart@last:5")
    compare.add_argument("b", metavar="B", help="the side compared against it, e.g. run:42")
    compare.add_argument("--kind", choices=("corrected", "send", "end_to_end"),
                         help="latency kind of the p99 (default corrected, else send)")
    compare.add_argument("--format", choices=("text", "json"), default="text")
    compare.add_argument("--html", type=Path, metavar="DIR", help="also write DIR/compare.html with the charts")
    compare.set_defaults(func=cmd_compare, cli=cli)

    noise = with_db(sub.add_parser(
        "noise", help="run a spec N times (identical runs) and store their run-to-run spread: the noise floor"))
    noise.add_argument("spec", type=Path, help="experiment YAML, e.g. experiments/noise-small.yaml")
    noise.add_argument("--runs", type=int, default=5, metavar="N", help="identical runs (at least 2; default 5)")
    noise.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec setting")
    noise.set_defaults(func=cmd_noise, cli=cli)


def add_check_arguments(chk: argparse.ArgumentParser) -> None:
    chk.add_argument("--method", choices=("changepoints", "threshold"), default="changepoints",
                     help="changepoints (default): E-divisive means over the history (Apache Otava), exit 3 when the "
                          "newest change point is a regression; threshold: the newest run against the median of the "
                          "previous ones (--window, --drop, --min-previous)")
    chk.add_argument("--max-pvalue", type=float, default=None, metavar="P",
                     help="changepoints: significance a change point needs (default 0.0001)")
    chk.add_argument("--min-runs", type=int, default=None, metavar="N",
                     help="changepoints: fewest ok runs for a verdict (default 5); fewer: no verdict, exit 0")


def cmd_compare(args: argparse.Namespace) -> int:
    args.cli._use_database(args.database_url)
    from kafkalab.analysis.compare import compare
    from kafkalab.results.store import Store

    with Store() as store:
        comparison = compare(store, args.a, args.b, kind=args.kind)
    print(comparison.json_text() if args.format == "json" else comparison.text())
    if args.html is not None:
        from kafkalab.reports.compare_page import write_compare_page

        print(f"kafkalab: {write_compare_page(comparison, args.html)}", file=sys.stderr)
    return 0


def cmd_noise(args: argparse.Namespace) -> int:
    from kafkalab.spec import load_spec

    cli = args.cli
    if args.runs < 2:
        raise SpecError(f"noise: --runs {args.runs}: a spread needs at least 2 runs")
    from kafkalab.analysis import noise

    base = load_spec(args.spec, args.set)  # validated before anything starts
    # The runs go under an experiment of their own, apart from the spec's history (and its change points).
    spec = load_spec(args.spec, [*args.set, f"repetitions={args.runs}", f"name={noise.experiment_name(base.name)}"])
    from kafkalab.platforms import check_spec

    check_spec(spec, source=str(args.spec))
    cli._check_env_secrets([spec])
    cli._check_broker_settings([spec])
    cli._use_database(args.database_url)
    from kafkalab.results.store import Store

    with Store() as store:
        store.migrate()
    cli._prefect_defaults()
    from flows.experiment import experiment

    print(f"kafkalab: noise floor of {base.name}: {args.runs} identical runs on one cluster, stored as experiment "
          f"{spec.name}", file=sys.stderr)
    with cli._cancellation_is_an_error(spec.name):
        run_ids = [r for r in experiment(spec) if r is not None]
    with Store() as store:
        floor = noise.measure(store, base.name, run_ids)
        noise.save(store, floor)
    print(floor.message())
    return 0


def cmd_check_change_points(args: argparse.Namespace) -> int:
    from kafkalab.analysis import changepoints
    from kafkalab.results.store import Store

    options = {}
    if args.max_pvalue is not None:
        options["max_pvalue"] = args.max_pvalue
    if args.min_runs is not None:
        options["min_runs"] = args.min_runs
    with Store() as store:
        analysis = changepoints.analyse(store, args.experiment, **options)
        changepoints.save(store, analysis)
    print(analysis.message())
    return EXIT_REGRESSION if analysis.regression else 0
