"""How long the server path takes: `kafkalab server up` until the UI and the worker are
ready, and "Run" on a deployment until the first producer record, against the same
experiment started with `kafkalab run`.

    .venv/bin/python bench/server_latency.py [--repeat 3] [--records 50000]

Everything runs in a temporary data directory with nothing configured, as on a new
machine: `server up` starts the embedded PostgreSQL, migrates Prefect's database, registers
the deployments and starts the worker (cold); `server down` then `server up` again is the
warm start. "First producer record" is the moment the first progress line of
ProducerPerformance (reporting every 200 ms) appears in producer-0.log of the run
directory: the cluster is up, the topic made, the producers started and sending. Both
paths run experiments/quickstart.yaml (3 brokers, 3 producers) with fewer records; the
server path includes the worker's poll (every 2 s) and the start of the flow-run process.
With the server up, `kafkalab run` records its flow run there; without a server it starts
a temporary Prefect API of its own: both are measured. Also from the flow runs' own start
times: "Run" (or the command) until the flow run is Running, the part the path itself
adds before the same cluster bring-up. Medians over --repeat runs of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SPEC = "experiments/quickstart.yaml"


def cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kafkalab", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def first_record_seen(runs_dir: Path, known: set[Path], t0: float, timeout_s: float = 600) -> float:
    """Seconds from t0 until a new run directory's producer-0.log shows its first progress line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for log in runs_dir.glob("*/**/producer-0.log"):
            if log in known:
                continue
            try:
                if "records sent" in log.read_text(errors="replace"):
                    known.add(log)
                    return time.monotonic() - t0
            except OSError:
                pass
        time.sleep(0.05)
    raise TimeoutError("no producer record seen")


def timed_up(env: dict[str, str], data_dir: Path) -> dict[str, float]:
    """`server up` wall time, and when the API answered and the UI served its page."""
    marks: dict[str, float] = {}
    t0 = time.monotonic()
    done = threading.Event()

    def watch() -> None:
        state_file = data_dir / "server" / "state.json"
        while not done.is_set():
            try:
                ui = json.loads(state_file.read_text())["ui_url"]
                if "api" not in marks and urllib.request.urlopen(ui + "/api/health", timeout=1).read() == b"true":
                    marks["api"] = time.monotonic() - t0
                if "ui" not in marks and b"<html" in urllib.request.urlopen(ui + "/", timeout=1).read().lower():
                    marks["ui"] = time.monotonic() - t0
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = cli(env, "server", "up")
    marks["up_total"] = time.monotonic() - t0
    done.set()
    watcher.join()
    if result.returncode != 0:
        raise SystemExit(f"server up failed: {result.stderr}")
    return marks


async def run_from_deployment(api_url: str, records: int, runs_dir: Path, known: set[Path]) -> float:
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        deployment = await client.read_deployment_by_name("experiment/experiment")
        t0, wall0 = time.monotonic(), time.time()
        created = await client.create_flow_run_from_deployment(
            deployment.id, parameters={"spec_file": SPEC, "overrides": {
                "name": "bench-server-path", "num_records": records, "settings": ["producer.reporting_interval_ms=200"]}})
        latency = await asyncio.to_thread(first_record_seen, runs_dir, known, t0)
        while not (run := await client.read_flow_run(created.id)).state.is_final():
            await asyncio.sleep(1)
        if not run.state.is_completed():
            raise SystemExit(f"flow run {run.name}: {run.state.type} {run.state.message}")
        return latency, run.start_time.timestamp() - wall0


async def flow_start_delay(api_url: str, data_dir: Path, wall0: float) -> float:
    """Seconds from wall0 until the newest stored run's flow run started (Running)."""
    from prefect.client.orchestration import PrefectClient

    from kafkalab.results import database
    from kafkalab.results.store import Store

    url = database.EmbeddedServer(data_dir / "postgres").status().url(database.RESULTS_DATABASE)
    with Store(url) as store:
        _, rows = store.query("SELECT flow_run_id FROM runs ORDER BY id DESC LIMIT 1", {})
    async with PrefectClient(api_url) as client:
        run = await client.read_flow_run(rows[0][0])
    return run.start_time.timestamp() - wall0


def run_from_cli(env: dict[str, str], records: int, runs_dir: Path, known: set[Path],
                 api_url: str | None = None) -> tuple[float, float | None]:
    t0, wall0 = time.monotonic(), time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkalab", "run", SPEC, "--set", "name=bench-cli-path",
         "--set", f"producer.num_records={records}", "--set", "producer.reporting_interval_ms=200"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        latency = first_record_seen(runs_dir, known, t0)
    finally:
        _, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"kafkalab run failed: {err[-500:]}")
    start = asyncio.run(flow_start_delay(api_url, runs_dir.parent, wall0)) if api_url else None
    return latency, start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--records", type=int, default=50000, help="records per producer")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "server_latency.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-server-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "KAFKALAB_DATA_DIR") and not k.startswith("PREFECT_")}
        env.update(KAFKALAB_DATA_DIR=str(root / "data"), PREFECT_HOME=str(root / "prefect-home"),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false")
        data_dir, runs_dir = root / "data", root / "data" / "runs"
        try:
            cold = timed_up(env, data_dir)
            print(f"server up (cold: initdb, Prefect migrations, deploy): {cold}", file=sys.stderr)
            if cli(env, "server", "down").returncode != 0:
                raise SystemExit("server down failed")
            cli(env, "db", "url")  # the embedded PostgreSQL up again: measure Prefect's part only
            warm = timed_up(env, data_dir)
            print(f"server up (warm): {warm}", file=sys.stderr)
            api_url = json.loads((data_dir / "server" / "state.json").read_text())["api_url"]
            known: set[Path] = set()
            server_path, cli_path, ephemeral_path, server_start, cli_start = [], [], [], [], []
            for i in range(args.repeat):
                latency, start = asyncio.run(run_from_deployment(api_url, args.records, runs_dir, known))
                server_path.append(latency)
                server_start.append(start)
                latency, start = run_from_cli(env, args.records, runs_dir, known, api_url)
                cli_path.append(latency)
                cli_start.append(start)
                print(f"run {i + 1}: Run button -> flow running {server_start[-1]:.1f} s, first record "
                      f"{server_path[-1]:.1f} s; kafkalab run (server up) -> flow running {cli_start[-1]:.1f} s, "
                      f"first record {cli_path[-1]:.1f} s", file=sys.stderr)
            # Without a server, `kafkalab run` starts a temporary Prefect API of its own.
            cli(env, "server", "down")
            cli(env, "db", "url")
            for i in range(args.repeat):
                ephemeral_path.append(run_from_cli(env, args.records, runs_dir, known)[0])
                print(f"run {i + 1}: kafkalab run (no server) -> first record {ephemeral_path[-1]:.1f} s",
                      file=sys.stderr)
        finally:
            cli(env, "server", "down")
            cli(env, "db", "stop")

    result = {
        "machine": f"{os.cpu_count()} cores",
        "server_up_cold_s": {k: round(v, 1) for k, v in cold.items()},
        "server_up_warm_s": {k: round(v, 1) for k, v in warm.items()},
        "run_button_to_flow_running_s": [round(v, 1) for v in server_start],
        "cli_with_server_to_flow_running_s": [round(v, 1) for v in cli_start],
        "median_run_button_to_flow_running_s": round(statistics.median(server_start), 1),
        "median_cli_to_flow_running_s": round(statistics.median(cli_start), 1),
        "run_button_to_first_record_s": [round(v, 1) for v in server_path],
        "cli_with_server_to_first_record_s": [round(v, 1) for v in cli_path],
        "cli_without_server_to_first_record_s": [round(v, 1) for v in ephemeral_path],
        "median_run_button_s": round(statistics.median(server_path), 1),
        "median_cli_with_server_s": round(statistics.median(cli_path), 1),
        "median_cli_without_server_s": round(statistics.median(ephemeral_path), 1),
    }
    result["run_button_minus_cli_with_server_s"] = round(
        result["median_run_button_s"] - result["median_cli_with_server_s"], 1)
    result["run_button_minus_cli_without_server_s"] = round(
        result["median_run_button_s"] - result["median_cli_without_server_s"], 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
