"""The lasting local Prefect API that `kafkalab run` / `kafkalab sweep` record their flow runs on.

Without a configured API (PREFECT_API_URL, a Prefect profile's, or `kafkalab server up`'s),
Prefect would start a temporary API server for every command (15-20 s on a small machine)
as a child in the terminal's process group: a Ctrl-C killed it at once, and the flow then
spent minutes retrying against it. Instead the first CLI command that runs a flow starts
this API, and later ones reuse it, as the embedded PostgreSQL is started once and reused
(kafkalab/results/database.py):

- Prefect's API app (`uvicorn prefect.server.api.server:create_app`, the command Prefect's
  temporary server runs, with its single-user set of services and no UI) on 127.0.0.1 and
  a port the kernel hands out (the last one again when free), detached in a session of its
  own, so a terminal's Ctrl-C or a killed run does not take it down;
- its database is SQLite, a file under paths.data_dir()/"prefect-api" (prefect.db), not the
  embedded PostgreSQL: it starts fastest (no server to wait for, no database to create,
  Prefect's migrations on a local file), depends on nothing that `kafkalab db stop` or
  DATABASE_URL (a user's own PostgreSQL, where kafkalab would otherwise create a database)
  can take away, and one server process writing to its own file is the case SQLite handles
  well (it is Prefect's default);
- everything it owns lives in that directory: state.json (port, URL, pid with its start
  time), api.log, the database; state changes hold an flock on `lock`, so CLI commands
  started at once find one API;
- `kafkalab server down` and `kafkalab db stop` stop it; `kafkalab server status` and
  `kafkalab clean` show it.

`kafkalab clean` also stops Prefect API servers that kafkalab processes started and that
nobody can use any more: a temporary API (Prefect's own, e.g. from a `kafkalab run` of an
earlier kafkalab, killed with SIGKILL) whose starting process is gone, or an API server of
this data directory that no state file tracks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil

from kafkalab.app import server
from kafkalab.app.server import Proc, Say
from kafkalab.core import paths
from kafkalab.core.net import LOOPBACK, free_port

START_TIMEOUT_S = 120  # the first start creates the database (Prefect's migrations) on a busy machine
STOP_GRACE_S = 10
APP = "prefect.server.api.server:create_app"
# Environment that marks a Prefect API process kafkalab started, and whose data dir it serves.
MARK = "KAFKALAB_PREFECT_API"


def api_dir() -> Path:
    return paths.data_dir() / "prefect-api"


@dataclass
class ApiState:
    port: int
    api_url: str
    database: str
    process: Proc | None = None
    started_at: str = ""

    @classmethod
    def from_json(cls, data: dict) -> ApiState:
        data = dict(data)
        data["process"] = Proc(**data["process"]) if data.get("process") else None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _state_file() -> Path:
    return api_dir() / "state.json"


def read_state() -> ApiState | None:
    try:
        return ApiState.from_json(paths.read_json(_state_file()))
    except (ValueError, TypeError, KeyError):
        return None


def _write_state(state: ApiState) -> None:
    paths.write_atomically(_state_file(), json.dumps(asdict(state), indent=2) + "\n")


def running() -> ApiState | None:
    """The state of the lasting API when its process runs (answering or still starting), else None."""
    state = read_state()
    return state if state is not None and state.process is not None and state.process.alive() else None


# --------------------------------------------------------------------------- start, reuse, stop


def ensure(say: Say = print) -> str:
    """The URL of the lasting API: the running one, or one started now."""
    with server.locked(api_dir()):
        state = running()
        if state is not None:
            log = api_dir() / "api.log"
            server.wait_healthy(state.api_url, state.process, log, "the Prefect API for CLI runs", START_TIMEOUT_S)
            return state.api_url
        previous = read_state()
        state = _start(previous.port if previous else None, say)
        return state.api_url


def _start(remembered_port: int | None, say: Say) -> ApiState:
    directory = api_dir()
    database = directory / "prefect.db"
    port = free_port(LOOPBACK, preferred=remembered_port)
    state = ApiState(port=port, api_url=f"http://{LOOPBACK}:{port}/api", database=str(database),
                     started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    say(f"starting a local Prefect API for CLI runs on {state.api_url} (kept running for the next runs; "
        "`kafkalab server down` stops it)")
    site = Path(importlib.util.find_spec("prefect").origin).parents[1]  # where Prefect is installed (not imported here)
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(site), "--factory", APP,
               "--host", LOOPBACK, "--port", str(port), "--log-level", "warning", "--lifespan", "on"]
    log = directory / "api.log"
    state.process = server.spawn(command, log, _server_env(database))
    _write_state(state)
    try:
        server.wait_healthy(state.api_url, state.process, log, "the Prefect API for CLI runs", START_TIMEOUT_S)
    except BaseException:
        server.stop_tree(state.process, grace_s=STOP_GRACE_S)
        state.process = None
        _write_state(state)
        raise
    return state


def _server_env(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE")}
    env.update({
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
        # What Prefect's temporary server sets: no UI, and only the services a single user's
        # runs need (no scheduler, no late-run marking: there are no deployments here).
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no route to Prefect's telemetry here
        MARK: str(paths.data_dir()),
    })
    return env


def stop(say: Say = print) -> bool:
    """Stop the lasting API; False when it was not running."""
    with server.locked(api_dir()):
        state = read_state()
        if state is None or state.process is None:
            return False
        stopped = server.stop_tree(state.process, grace_s=STOP_GRACE_S)
        if stopped:
            say(f"Prefect API for CLI runs stopped (pid {state.process.pid})")
        state.process = None
        _write_state(state)
        return stopped


def status_line() -> str:
    state = running()
    if state is None:
        return "Prefect API for CLI runs: stopped (started by the next `kafkalab run` or `sweep`)"
    health = "ready" if server.api_healthy(state.api_url) else "not answering"
    return (f"Prefect API for CLI runs: running (pid {state.process.pid}), {health}; {state.api_url}  "
            f"database {state.database}")


# --------------------------------------------------------------------------- clean


def _is_prefect_api(process: psutil.Process) -> bool:
    return APP in (process.info["cmdline"] or [])


def _serves_this_data_dir(environ: dict[str, str]) -> bool:
    """Whether a process with `environ` was started for this data dir (KAFKALAB_DATA_DIR, or both default)."""
    if environ.get(MARK):
        return environ[MARK] == str(paths.data_dir())
    return environ.get("KAFKALAB_DATA_DIR", "") == os.environ.get("KAFKALAB_DATA_DIR", "")


def _orphaned(process: psutil.Process) -> bool:
    """Its starting process is gone: it was handed to init or a subreaper, not a Python process."""
    try:
        parent = process.parent()
        return parent is None or parent.pid == 1 or not (parent.name() or "").startswith("python")
    except psutil.Error:
        return True


def unowned() -> list[tuple[psutil.Process, str]]:
    """Prefect API processes of this data dir that nobody owns any more, each with why.

    The lasting API that state.json names is owned. Of the others: an API kafkalab marked as
    its lasting one that no state file names (a state lost), or a temporary API (Prefect's,
    PREFECT__SERVER_EPHEMERAL) whose starting process is gone: nobody can reach or stop it.
    A temporary API whose process runs (e.g. a test harness's) is left to that process.
    """
    state = running()
    tracked = state.process.pid if state is not None else None
    found = []
    for process in psutil.process_iter(["cmdline", "status", "uids"]):
        try:
            if (process.pid == tracked or process.info["status"] == psutil.STATUS_ZOMBIE
                    or process.info["uids"] is None or process.info["uids"].real != os.getuid()
                    or not _is_prefect_api(process)):
                continue
            environ = process.environ()
        except psutil.Error:
            continue
        if not _serves_this_data_dir(environ):
            continue
        if environ.get(MARK):
            found.append((process, "a lasting one no state file tracks"))
        elif environ.get("PREFECT__SERVER_EPHEMERAL") and _orphaned(process):
            found.append((process, "a temporary one whose kafkalab process is gone"))
    return found


def clean(say: Say = print) -> list[int]:
    """`kafkalab clean`: stop the Prefect API processes nobody owns; name the lasting one, kept."""
    stopped = []
    with server.locked(api_dir()):  # not while `ensure` starts one (its state is written after the spawn)
        for process, why in unowned():
            try:
                proc = Proc(process.pid, process.create_time())
            except psutil.Error:
                continue  # gone meanwhile
            if server.stop_tree(proc, grace_s=STOP_GRACE_S):
                say(f"stopped Prefect API pid {process.pid} ({why})")
                stopped.append(process.pid)
        state = running()
    if state is not None:
        say(f"kept the Prefect API for CLI runs: pid {state.process.pid} on {state.api_url} "
            "(`kafkalab server down` stops it)")
    return stopped
