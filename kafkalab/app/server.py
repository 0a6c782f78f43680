"""`kafkalab server up|down|status`: a Prefect server on PostgreSQL, a process worker, the deployments.

`up` starts, in the background and in this order:

1. PostgreSQL for Prefect: database `prefect` on the results server (the embedded one,
   started if it was not running, or the server of DATABASE_URL), or any PostgreSQL given
   with `--prefect-database-url` / KAFKALAB_PREFECT_DATABASE_URL. Prefect talks to it
   through asyncpg (`postgresql+asyncpg://`).
2. `prefect server start` (API and UI) on 127.0.0.1, on `--port`, else the port it had last
   time when free, else a free one the kernel picks.
3. deployments/register.py: the process work pool `kafkalab-local` and the deployments of
   deployments/prefect.yaml (`prefect deploy --all`).
4. `prefect worker start` on that pool.

Everything it owns lives in paths.data_dir()/"server": state.json (ports, URLs, pids with
their start times, whether `up` started PostgreSQL), server.pid / worker.pid, and the logs
server.log, worker.log (the worker and the flow runs it starts), register.log. Every state
change holds an flock on `lock`, so two `up` calls find one server. `down` stops the worker
(and the flow runs and JVMs under it), then the server, then PostgreSQL if `up` started it.

The processes are Prefect's own CLI; the API is asked through Prefect's client
(SyncPrefectClient), imported where it is used. The pieces that start, track and stop a
background process (Proc, spawn, stop_tree, locked) serve the lasting API of CLI runs
too (kafkalab/app/prefect_api.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from kafkalab.core import paths
from kafkalab.core.errors import EnvironmentProblem, SpecError
from kafkalab.core.net import free_port, port_is_free
from kafkalab.core.waiting import wait_until
from kafkalab.results import database

HOST = "127.0.0.1"
POOL = "kafkalab-local"
WORKER_NAME = "kafkalab-local-worker"
PREFECT_DATABASE = "prefect"
PROJECT_DIR = Path(__file__).resolve().parents[2]
REGISTER_SCRIPT = PROJECT_DIR / "deployments" / "register.py"
PREFECT_FILE = PROJECT_DIR / "deployments" / "prefect.yaml"

SERVER_START_TIMEOUT_S = 180  # first start on an empty database runs Prefect's migrations
WORKER_START_TIMEOUT_S = 90
REGISTER_TIMEOUT_S = 300
STOP_GRACE_S = 20
WORKER_QUERY_SECONDS = 2
API_TIMEOUT_S = 5  # one request to a loopback API

Say = Callable[[str], None]


def server_dir() -> Path:
    return paths.data_dir() / "server"


# --------------------------------------------------------------------------- state


@dataclass
class Proc:
    """A process we started, identified by pid and start time (pids get reused)."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        try:
            p = psutil.Process(self.pid)
            if abs(p.create_time() - self.create_time) > 1 or p.status() == psutil.STATUS_ZOMBIE:
                return None
            return p
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


@dataclass
class ServerState:
    port: int
    api_url: str
    ui_url: str
    prefect_database: str  # masked
    started_postgres: bool = False
    server: Proc | None = None
    worker: Proc | None = None
    pool: str = POOL
    max_runs: int = 1
    deployed: bool = False
    fingerprint: str = ""  # of what the registered deployments were made from
    database_key: str = ""  # which Prefect database: the embedded server's data dir, or the URL
    started_at: str = ""
    deployments: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerState:
        data = dict(data)
        for key in ("server", "worker"):
            data[key] = Proc(**data[key]) if data.get(key) else None
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _state_file() -> Path:
    return server_dir() / "state.json"


def read_state() -> ServerState | None:
    try:
        return ServerState.from_json(paths.read_json(_state_file()))
    except (ValueError, TypeError, KeyError):
        return None


def _write_state(state: ServerState) -> None:
    d = server_dir()
    paths.write_atomically(_state_file(), json.dumps(asdict(state), indent=2) + "\n")
    for name in ("server", "worker"):
        proc: Proc | None = getattr(state, name)
        pid_file = d / f"{name}.pid"
        if proc is not None and proc.alive():
            pid_file.write_text(f"{proc.pid}\n")
        else:
            pid_file.unlink(missing_ok=True)


def running_state() -> ServerState | None:
    """The state of a server `up` started that still runs, else None."""
    state = read_state()
    return state if state is not None and state.server is not None and state.server.alive() else None


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An flock on `directory`/lock: one kafkalab process at a time changes what it tracks there."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- up


def up(
    *,
    port: int | None = None,
    prefect_database_url: str | None = None,
    max_runs: int = 1,
    redeploy: bool = False,
    say: Say = print,
) -> ServerState:
    """Start what is not running yet (server, deployments, worker); return the state."""
    with locked(server_dir()):
        state = running_state()
        if state is not None:
            say(f"Prefect server already running (pid {state.server.pid}) at {state.ui_url}")
            if port is not None and port != state.port:
                say(f"--port {port} not applied: the running server keeps port {state.port} "
                    "(`kafkalab server down` first to move it)")
            _wait_healthy(state, timeout_s=SERVER_START_TIMEOUT_S)
        else:
            previous = read_state()
            _stop_leftovers(previous, say)
            state = _start_server(port, prefect_database_url, max_runs, say)
            if previous is not None and previous.deployed and previous.database_key == state.database_key:
                # Same Prefect database: its deployments are still there from the last `up`.
                state.deployed, state.fingerprint = True, previous.fingerprint
                state.deployments, state.max_runs = previous.deployments, previous.max_runs
        fingerprint = deployment_fingerprint()
        if (redeploy or not state.deployed or state.max_runs != max_runs or state.fingerprint != fingerprint
                or not _deployments_present(state)):
            state.max_runs = max_runs
            _register(state, say)
            state.fingerprint = fingerprint
            _write_state(state)
        else:
            say("deployments already registered (deployments/prefect.yaml and the flows unchanged)")
        if state.worker is None or not state.worker.alive():
            _start_worker(state, say)
        else:
            say(f"worker already running (pid {state.worker.pid}) on work pool {state.pool}")
        _wait_ui(state)
        _write_state(state)
        return state


def deployment_fingerprint() -> str:
    """A digest of what the deployments are made from: prefect.yaml, the registration script,
    the flows and the models behind their parameter forms. A change means registering again."""
    digest = hashlib.sha256()
    sources = [PREFECT_FILE, REGISTER_SCRIPT, *sorted((PROJECT_DIR / "flows").glob("*.py")),
               *sorted((PROJECT_DIR / "kafkalab" / "spec").glob("*.py")),
               PROJECT_DIR / "kafkalab" / "experiment" / "launch.py"]
    for source in sources:
        with contextlib.suppress(OSError):
            digest.update(str(source.relative_to(PROJECT_DIR)).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _deployments_present(state: ServerState) -> bool:
    wanted = {d["name"] for d in state.deployments}
    return bool(wanted) and wanted <= {d["name"] for d in deployments(state)}


def _prefect_prog() -> str:
    found = Path(sys.executable).with_name("prefect")
    if found.exists():
        return str(found)
    which = shutil.which("prefect")
    if not which:
        raise EnvironmentProblem("the `prefect` command is not installed next to this Python (pip install prefect)")
    return which


def asyncpg_url(url: str) -> str:
    """A PostgreSQL URL in the form Prefect's server takes (SQLAlchemy with asyncpg)."""
    return "postgresql+asyncpg://" + database.libpq_url(url).partition("://")[2]


def _prefect_database(explicit: str | None, say: Say) -> tuple[str, bool]:
    """(libpq URL of Prefect's database, whether the embedded PostgreSQL was started for it)."""
    given = (explicit or os.environ.get("KAFKALAB_PREFECT_DATABASE_URL") or "").strip()
    if given:
        url = database.libpq_url(given, source="--prefect-database-url")
        database.check_connection(url)
        return url, False
    embedded = not os.environ.get("DATABASE_URL", "").strip()
    started = embedded and not database.status().running
    url = database.ensure_database(PREFECT_DATABASE)
    if started:
        say(f"embedded PostgreSQL started on {database.server_address(url)} (data in {database.status().data_dir})")
    return url, started


def _choose_port(requested: int | None, remembered: int | None) -> int:
    if requested is None and os.environ.get("KAFKALAB_SERVER_PORT", "").strip():
        try:
            requested = int(os.environ["KAFKALAB_SERVER_PORT"])
        except ValueError:
            raise EnvironmentProblem(f"KAFKALAB_SERVER_PORT is not a port number: {os.environ['KAFKALAB_SERVER_PORT']}") from None
    if requested is not None:
        if not 0 < requested < 65536:
            raise EnvironmentProblem(f"--port {requested}: not a port number")
        if not port_is_free(requested):
            raise EnvironmentProblem(f"port {requested} on {HOST} is in use; choose another with --port")
        return requested
    return free_port(HOST, preferred=remembered)


def spawn(command: list[str], log: Path, env: dict[str, str]) -> Proc:
    """A background process in its own session, output appended to `log`."""
    with open(log, "ab") as out:
        out.write(f"\n--- {datetime.now(timezone.utc).isoformat(timespec='seconds')} {' '.join(command)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, cwd=PROJECT_DIR, start_new_session=True,
        )  # fmt: skip
    try:
        return Proc.of(proc.pid)
    except psutil.Error:
        return Proc(proc.pid, 0.0)


def _base_env(state: ServerState) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PREFECT_API_URL": state.api_url,
        "PREFECT_UI_URL": state.ui_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no route to Prefect's telemetry here
        "PREFECT_LOGGING_LOG_PRINTS": "true",
    })
    env.pop("PREFECT_API_KEY", None)
    env.pop("PREFECT_PROFILE", None)
    return env


def _start_server(port: int | None, prefect_database_url: str | None, max_runs: int, say: Say) -> ServerState:
    previous = read_state()
    chosen = _choose_port(port, previous.port if previous else None)  # a taken --port fails before anything starts
    db_url, started_pg = _prefect_database(prefect_database_url, say)
    base = f"http://{HOST}:{chosen}"
    embedded = not (prefect_database_url or os.environ.get("KAFKALAB_PREFECT_DATABASE_URL", "").strip()
                    or os.environ.get("DATABASE_URL", "").strip())
    state = ServerState(
        port=chosen, api_url=f"{base}/api", ui_url=base, prefect_database=database.mask_url(db_url),
        started_postgres=started_pg, max_runs=max_runs,
        database_key=f"embedded:{database.status().data_dir}" if embedded else database.mask_url(db_url),
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    env = _base_env(state)
    env.update({
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": asyncpg_url(db_url),
        "PREFECT_UI_API_URL": state.api_url,
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(chosen),
    })
    env.pop("PREFECT_UI_URL", None)
    command = [_prefect_prog(), "--no-prompt", "server", "start", "--host", HOST, "--port", str(chosen), "--analytics-off"]
    say(f"starting Prefect server on {base} (database {state.prefect_database})")
    state.server = spawn(command, server_dir() / "server.log", env)
    _write_state(state)
    try:
        _wait_healthy(state, timeout_s=SERVER_START_TIMEOUT_S)
    except BaseException:
        stop_tree(state.server)
        state.server = None
        if started_pg:
            database.stop()
            state.started_postgres = False
        _write_state(state)
        raise
    return state


def _register(state: ServerState, say: Say) -> None:
    if not REGISTER_SCRIPT.exists():
        raise EnvironmentProblem(f"{REGISTER_SCRIPT} not found: `server up` runs from a kafkalab checkout")
    say(f"registering deployments of {PREFECT_FILE.relative_to(PROJECT_DIR)} on work pool {state.pool}")
    log = server_dir() / "register.log"
    with open(log, "ab") as err:
        done = subprocess.run(
            [sys.executable, str(REGISTER_SCRIPT), "--pool", state.pool, "--max-runs", str(state.max_runs),
             "--prefect-file", str(PREFECT_FILE)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=_base_env(state),
            cwd=PROJECT_DIR, timeout=REGISTER_TIMEOUT_S, check=False,
        )  # fmt: skip
    try:
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"error": f"deployments/register.py exited {done.returncode}"}
    if done.returncode != 0 or "error" in result:
        _write_state(state)
        raise EnvironmentProblem(
            f"registering deployments failed: {result.get('error')}; see {log} "
            "(the server keeps running: fix and re-run `kafkalab server up`, or `kafkalab server down`)"
        )
    state.deployed = True
    state.deployments = result["deployments"]
    for restored in result.get("restored_schedules", []):
        say(f"kept schedule state {restored}")
    _write_state(state)


def _start_worker(state: ServerState, say: Say) -> None:
    command = [_prefect_prog(), "--no-prompt", "worker", "start", "--pool", state.pool, "--type", "process",
               "--name", WORKER_NAME]
    say(f"starting worker on work pool {state.pool}")
    started = time.time()
    env = _base_env(state)
    # Prefect's default poll is every 10 s; a loopback server can take a query every 2 s, and
    # "Run" in the UI then starts within seconds.
    env.setdefault("PREFECT_WORKER_QUERY_SECONDS", str(WORKER_QUERY_SECONDS))
    log = server_dir() / "worker.log"
    worker = state.worker = spawn(command, log, env)
    _write_state(state)

    def online() -> bool:
        if not worker.alive():
            raise EnvironmentProblem(f"the worker exited: {_log_tail(log)}")
        return _worker_online(state, since=started - 1)

    wait_until(online, WORKER_START_TIMEOUT_S, f"the worker online on work pool {state.pool}", interval=0.5,
               detail=lambda: f"see {log}", error=EnvironmentProblem)


# --------------------------------------------------------------------------- the API, through Prefect's client


def client(api_url: str):
    """Prefect's client of the API at `api_url`, with a short timeout (a loopback API answers at once)."""
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(api_url, httpx_settings={"timeout": API_TIMEOUT_S})


def api_healthy(api_url: str) -> bool:
    """Whether the Prefect API at `api_url` answers its health check."""
    try:
        with client(api_url) as api:
            return api.api_healthcheck() is None
    except Exception:  # noqa: BLE001 - an API that cannot even be asked is not healthy
        return False


def healthy(state: ServerState) -> bool:
    return api_healthy(state.api_url)


def wait_healthy(api_url: str, proc: Proc | None, log: Path, what: str, timeout_s: float) -> None:
    """Until the API at `api_url` answers; EnvironmentProblem naming the log when `proc` exits first
    or `timeout_s` passes."""
    def answering() -> bool:
        if api_healthy(api_url):
            return True
        if proc is None or not proc.alive():
            raise EnvironmentProblem(f"{what} exited: {_log_tail(log)}")
        return False

    wait_until(answering, timeout_s, f"{what} answering at {api_url}", interval=0.5, detail=lambda: f"see {log}",
               error=EnvironmentProblem)


def _wait_healthy(state: ServerState, timeout_s: float) -> None:
    wait_healthy(state.api_url, state.server, server_dir() / "server.log", "the Prefect server", timeout_s)


def ui_ready(state: ServerState) -> bool:
    """Whether the UI serves its page (a page, not the API: plain HTTP)."""
    import httpx

    try:
        page = httpx.get(state.ui_url + "/", timeout=API_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return page.status_code == 200 and "<html" in page.text.lower()


def _wait_ui(state: ServerState, timeout_s: float = 60) -> None:
    wait_until(lambda: ui_ready(state), timeout_s, f"the Prefect UI at {state.ui_url}", interval=0.5,
               detail=lambda: f"see {server_dir() / 'server.log'}", error=EnvironmentProblem)


def _worker_online(state: ServerState, since: float = 0) -> bool:
    """Whether our worker is ONLINE with a heartbeat at or after `since` (epoch seconds)."""
    try:
        with client(state.api_url) as api:
            workers = api.read_workers_for_work_pool(state.pool)
    except Exception:  # noqa: BLE001 - no pool yet, or no answer: not online
        return False
    return any(
        w.name == WORKER_NAME and w.status.value == "ONLINE"
        and w.last_heartbeat_time is not None and w.last_heartbeat_time.timestamp() >= since
        for w in workers
    )


def deployments(state: ServerState) -> list[dict[str, Any]]:
    """Deployments on the server: name (flow/deployment), id, schedules (slug, active, cron or interval)."""
    try:
        with client(state.api_url) as api:
            found = api.read_deployments(limit=200)
            flows = {f.id: f.name for f in api.read_flows(limit=200)}
    except Exception:  # noqa: BLE001 - a server that does not answer has no deployments to show
        return []
    out = []
    for d in found:
        out.append({
            "id": str(d.id), "name": f"{flows.get(d.flow_id, '?')}/{d.name}", "paused": d.paused,
            "schedules": [{"id": str(s.id), "slug": s.slug, "active": s.active, "schedule": _schedule_fields(s.schedule)}
                          for s in d.schedules or []],
        })
    return sorted(out, key=lambda d: d["name"])


def _schedule_fields(schedule: Any) -> dict[str, Any]:
    """A schedule as plain fields (cron, timezone, interval in seconds, rrule)."""
    if schedule is None:
        return {}
    fields = schedule.model_dump(mode="json", exclude_none=True)
    if getattr(schedule, "interval", None) is not None:
        fields["interval"] = schedule.interval.total_seconds()
    return fields


def set_schedules(name: str, active: bool) -> list[str]:
    """Turn the schedules of deployment `name` (`flow/deployment`, or the deployment's own
    name) on or off on the running server; one line per schedule changed."""
    from uuid import UUID

    state = running_state()
    if state is None or not healthy(state):
        raise EnvironmentProblem("no Prefect server runs: start it with `kafkalab server up`")
    known = deployments(state)
    found = [d for d in known if name in (d["name"], d["name"].split("/", 1)[-1])]
    if not found:
        raise SpecError(f"server schedule: no deployment {name!r} (deployments: {', '.join(d['name'] for d in known)})")
    lines = []
    with client(state.api_url) as api:
        for d in found:
            if not d["schedules"]:
                lines.append(f"{d['name']}: has no schedule")
            for sched in d["schedules"]:
                api.update_deployment_schedule(UUID(d["id"]), UUID(sched["id"]), active=active)
                lines.append(f"{d['name']}: schedule {sched['slug'] or sched['id']} ({_describe(sched['schedule'])}) "
                             + ("on" if active else "paused"))
    return lines


def _describe(schedule: dict[str, Any] | None) -> str:
    schedule = schedule or {}
    if schedule.get("cron"):
        return f"cron {schedule['cron']} {schedule.get('timezone') or 'UTC'}"
    if schedule.get("interval") is not None:
        return f"every {schedule['interval']} s"
    return "rrule" if schedule.get("rrule") else "schedule"


# --------------------------------------------------------------------------- status


def status_lines() -> list[str]:
    """What runs, for `kafkalab server status`."""
    state = read_state()
    if state is None or state.server is None:
        return [f"Prefect server: stopped (nothing started by `kafkalab server up`; state in {server_dir()})"]
    lines = []
    if state.server.alive():
        health = "ready" if healthy(state) else "not answering"
        lines.append(f"Prefect server: running (pid {state.server.pid}), {health}; UI {state.ui_url}  API {state.api_url}")
    else:
        lines.append(f"Prefect server: stopped (was pid {state.server.pid} on port {state.port})")
    lines.append(f"Prefect database: {state.prefect_database}"
                 + (" (embedded PostgreSQL started by `server up`)" if state.started_postgres else ""))
    pg = database.status()
    lines.append("embedded PostgreSQL: " + (f"running on {HOST}:{pg.port} (pid {pg.pid})" if pg.running else "stopped"))
    if state.worker is not None and state.worker.alive():
        online = "online" if _worker_online(state) else "not online"
        lines.append(f"worker: running (pid {state.worker.pid}) on work pool {state.pool} "
                     f"(max {state.max_runs or 'unlimited'} flow run(s) at a time), {online}")
    else:
        lines.append("worker: stopped")
    if state.server.alive():
        for d in deployments(state):
            schedules = ", ".join(
                f"{s['slug'] or 'schedule'} {'on' if s['active'] else 'paused'} ({_describe(s['schedule'])})"
                for s in d["schedules"]
            )
            lines.append(f"deployment {d['name']}" + (f" (schedules: {schedules})" if schedules else "")
                         + f"  {state.ui_url}/deployments/deployment/{d['id']}")
    lines.append(f"logs: {server_dir()}/server.log, worker.log, register.log")
    return lines


# --------------------------------------------------------------------------- down


def down(say: Say = print) -> list[str]:
    """Stop the worker (and its flow runs), the server, and PostgreSQL if `up` started it;
    return what was stopped (the caller says when that is nothing)."""
    stopped: list[str] = []
    with locked(server_dir()):
        state = read_state()
        if state is None:
            return stopped
        for name in ("worker", "server"):
            proc: Proc | None = getattr(state, name)
            if proc is not None and stop_tree(proc):
                say(f"{name} stopped (pid {proc.pid})")
                stopped.append(name)
            setattr(state, name, None)
        if state.started_postgres:
            if database.stop():
                say("embedded PostgreSQL stopped (`server up` had started it)")
                stopped.append("postgres")
            state.started_postgres = False
        elif database.status().running:
            say("embedded PostgreSQL left running (it was running before `server up`; `kafkalab db stop` stops it)")
        _write_state(state)
    return stopped


def _stop_leftovers(state: ServerState | None, say: Say) -> None:
    """A worker left from a server that died: stop it before starting anew."""
    if state is not None and state.worker is not None and stop_tree(state.worker):
        say(f"stopped a worker left from an earlier server (pid {state.worker.pid})")


def stop_tree(proc: Proc | None, grace_s: float = STOP_GRACE_S) -> bool:
    """SIGTERM `proc` and everything under it (flow runs, their JVMs); SIGKILL what outlives the grace."""
    root = proc.process() if proc is not None else None
    if root is None:
        return False
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        tree = [root]
    with contextlib.suppress(OSError):
        os.killpg(root.pid, signal.SIGTERM)  # the session `spawn` gave it
    for p in tree:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    # Processes started while stopping (a flow run spawning a JVM) are caught here.
    for p in list(alive):
        with contextlib.suppress(psutil.Error):
            alive.extend(c for c in p.children(recursive=True) if c not in alive)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=10)
    return True


def _log_tail(log: Path, lines: int = 3) -> str:
    try:
        text = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return f"no log at {log}"
    return " | ".join(text[-lines:]) + f" (see {log})"
