"""Processes left behind after 20 runs that include failures and cancellations (target 0).

    .venv/bin/python bench/leftovers.py [--runs 20]

Starts `kafkalab server up` in a data directory of its own (Prefect server, worker, embedded
PostgreSQL) and runs a tiny experiment `--runs` times, cycling through the ways a run ends:

    ok          `kafkalab run`, completes
    failed      `kafkalab run` whose producers fail (max.request.size below the record size)
    ctrl-c      SIGINT to `kafkalab run` while its producers run
    sigterm     SIGTERM to `kafkalab run` while its producers run
    kill -9     SIGKILL to `kafkalab run` while its producers run: its JVMs are orphans until
                the next run (or `kafkalab clean`) reaps them
    ui-cancel   a flow run of the `experiment` deployment, cancelled through the Prefect API
                while its producers run (what the UI's Cancel button does)

After each run it counts the JVMs whose command line points into the bench's run
directories; at the end, after `kafkalab server down`, the JVMs, the Prefect server and worker,
and any other Prefect API server (temporary, or the lasting one of CLI runs) of its data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
KAFKALAB = [sys.executable, "-m", "kafkalab"]
TINY = ["cluster.brokers=1", "cluster.heap_mb=256", "cluster.controller_heap_mb=192", "topic.partitions=2",
        "topic.replication_factor=1", "producer.instances=1", "producer.heap_mb=128", "consumer.heap_mb=128",
        "consumer.timeout_ms=10000", "producer.record_size=100"]
SHORT = ["producer.num_records=3000"]
LONG = ["producer.num_records=200000", "producer.throughput=2000"]  # ~100 s: interrupted in the middle
CYCLE = ["ok", "failed", "ctrl-c", "sigterm", "kill -9", "ui-cancel"]


def jvms_under(directory: Path) -> list[str]:
    """Command lines of the live JVMs whose command line points into `directory`."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "java" in (proc.info["name"] or "") and proc.info["status"] != psutil.STATUS_ZOMBIE and str(directory) in cmdline:
            found.append(cmdline)
    return found


def prefect_apis_of(data_dir: Path) -> list[int]:
    """Pids of the live Prefect API servers (uvicorn, temporary or lasting) started for `data_dir`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if ("prefect.server.api.server:create_app" in (proc.info["cmdline"] or [])
                    and proc.info["status"] != psutil.STATUS_ZOMBIE
                    and str(data_dir) in (proc.environ().get("KAFKALAB_DATA_DIR") or "")):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def wait_for_producers(runs: Path, name: str, timeout_s: float = 240) -> None:
    """Until the producers of run `name` are at work (not an earlier run's orphans)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any("ProducerPerformance" in cmdline and f"-{name}-" in cmdline for cmdline in jvms_under(runs)):
            time.sleep(2)  # well inside the producer test
            return
        time.sleep(0.5)
    raise SystemExit("the producer test did not start")


def cli_run(env: dict[str, str], name: str, sets: list[str], interrupt: int | None, runs: Path) -> int:
    args = [*KAFKALAB, "run", "experiments/quickstart.yaml", f"--set=name={name}", *(f"--set={s}" for s in sets)]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if interrupt is not None:
        wait_for_producers(runs, name)
        proc.send_signal(interrupt)
    return proc.wait(timeout=600)


def ui_cancel(env: dict[str, str], api_url: str, name: str, runs: Path) -> str:
    from prefect.client.orchestration import PrefectClient
    from prefect.states import Cancelling

    overrides = {"name": name, "settings": TINY + LONG}

    async def main() -> str:
        async with PrefectClient(api_url) as client:
            deployment = await client.read_deployment_by_name("experiment/experiment")
            run = await client.create_flow_run_from_deployment(deployment.id, parameters={"overrides": overrides})
            await asyncio.to_thread(wait_for_producers, runs, name)
            await client.set_flow_run_state(run.id, Cancelling(), force=True)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                run = await client.read_flow_run(run.id)
                if run.state and run.state.is_final():
                    return run.state.type.value
                await asyncio.sleep(1)
            return "not final after 180 s"

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    # Started in the background (`... &`), this process may ignore SIGINT, and its children
    # would inherit that: a handler of its own makes them start with the default again.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    root = Path(tempfile.mkdtemp(prefix="kafkalab-leftovers-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",) and not k.startswith("PREFECT_")}
    env.update({"KAFKALAB_DATA_DIR": str(root / "data"), "PREFECT_HOME": str(root / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1"})
    runs = root / "data" / "runs"
    up = subprocess.run([*KAFKALAB, "server", "up"], cwd=REPO, env=env, capture_output=True, text=True)
    if up.returncode != 0:
        raise SystemExit(up.stderr)
    state = json.loads((root / "data" / "server" / "state.json").read_text())
    started_pids = {state["server"]["pid"], state["worker"]["pid"]}
    rows = []
    try:
        for i in range(args.runs):
            kind = CYCLE[i % len(CYCLE)] if i < args.runs - 1 else "ok"  # the last one reaps a kill -9's orphans
            name = f"leftovers-{i:02d}"
            started = time.monotonic()
            if kind == "ui-cancel":
                outcome = ui_cancel(env, state["api_url"], name, runs)
            else:
                sets = TINY + (LONG if kind in ("ctrl-c", "sigterm", "kill -9") else SHORT)
                if kind == "failed":
                    sets = [*sets, "producer.props.max.request.size=50"]
                sig = {"ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM, "kill -9": signal.SIGKILL}.get(kind)
                outcome = f"exit {cli_run(env, name, sets, sig, runs)}"
            time.sleep(1)
            left = len(jvms_under(runs))
            rows.append((i + 1, kind, outcome, left, time.monotonic() - started))
            print(f"run {i + 1:2d} {kind:9s} {outcome:14s} JVMs left {left}  ({rows[-1][4]:.0f} s)", flush=True)
    finally:
        subprocess.run([*KAFKALAB, "server", "down"], cwd=REPO, env=env, capture_output=True, text=True)
    time.sleep(2)
    jvms = jvms_under(root)
    others = [pid for pid in started_pids if psutil.pid_exists(pid)]
    apis = prefect_apis_of(root / "data")
    pids_files = list(runs.glob("*/pids.json"))
    print()
    print("| run | how it ended | outcome | JVMs left after it |")
    print("|---:|---|---|---:|")
    for n, kind, outcome, left, _ in rows:
        print(f"| {n} | {kind} | {outcome} | {left} |")
    print()
    print(f"at the end: {len(jvms)} JVMs, {len(others)} server/worker processes, {len(apis)} other Prefect APIs, "
          f"{len(pids_files)} run directories "
          f"still claimed; {len(list(runs.glob('*/STALE')))} stale run directories found and reaped")


if __name__ == "__main__":
    main()
