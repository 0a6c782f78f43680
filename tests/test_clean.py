"""`kafkalab clean`: run directories of dead kafkalab processes are found, what they left
running is stopped and their data is removed; a live owner's directory is left alone. A
temporary Prefect API whose starting process was killed is stopped; one whose process
still runs is left to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def _detached(*args: str) -> psutil.Process:
    """A process that is not our child (as a JVM whose kafkalab process died): init reaps it."""
    launcher = subprocess.run(
        ["sh", "-c", 'nohup "$@" >/dev/null 2>&1 & echo $!', "sh", *args], capture_output=True, text=True, timeout=30
    )  # fmt: skip
    return psutil.Process(int(launcher.stdout.strip()))


def _run_dir(root: Path, name: str, owner: int) -> tuple[Path, psutil.Process]:
    run_dir = root / "runs" / name
    (run_dir / "broker-0" / "data" / "topic-0").mkdir(parents=True)
    (run_dir / "broker-0" / "data" / "topic-0" / "00000.log").write_bytes(b"x" * 200_000)
    (run_dir / "broker-0" / "server.log").write_text("log\n")
    (run_dir / "cluster.json").write_text(json.dumps({"owner_pid": owner}))
    # Stands in for a JVM: its command line points into the run directory.
    orphan = _detached(sys.executable, "-c", "import time; time.sleep(300)", str(run_dir / "broker-0") + "/")
    (run_dir / "pids.json").write_text(json.dumps({"broker-0": orphan.pid}))
    return run_dir, orphan


def _clean(data_dir: Path) -> str:
    env = {**os.environ, "KAFKALAB_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "kafkalab", "clean"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_clean_stops_and_frees_stale_run_directories(tmp_path: Path) -> None:
    stale, orphan = _run_dir(tmp_path, "20261125-stale-1", _dead_pid())
    live, kept = _run_dir(tmp_path, "20261125-live-2", os.getpid())  # its owner (this test) runs
    try:
        out = _clean(tmp_path)
        assert f"stopped pid {orphan.pid}" in out
        assert f"cleaned {stale}: 0.2 MB of data removed" in out
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
        assert (stale / "STALE").exists() and not (stale / "pids.json").exists()
        assert not (stale / "broker-0" / "data").exists() and (stale / "broker-0" / "server.log").exists()
        # The live owner's directory is not touched.
        assert psutil.pid_exists(kept.pid) and (live / "broker-0" / "data").exists() and (live / "pids.json").exists()
        assert str(live) not in out
        assert _clean(tmp_path).strip() == "nothing to clean"
    finally:
        for process in (orphan, kept):
            if process.is_running():
                process.kill()
        psutil.wait_procs([orphan, kept], timeout=30)


TEMPORARY_API = """
import sys, time
from prefect.server.api.server import SubprocessASGIServer
server = SubprocessASGIServer()
server.start(timeout=180)
print(server.server_process.pid, flush=True)
time.sleep(600)
"""


def _start_temporary_api(data_dir: Path, prefect_home: Path) -> subprocess.Popen:
    """A Python process that starts Prefect's temporary API server (as `kafkalab run` did
    without a configured API) and prints the server's pid."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"KAFKALAB_DATA_DIR": str(data_dir), "PREFECT_HOME": str(prefect_home),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    return subprocess.Popen([sys.executable, "-c", TEMPORARY_API], env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)


def _server_of(owner: subprocess.Popen) -> psutil.Process:
    line = owner.stdout.readline()
    assert line.strip().isdigit(), f"the temporary API did not start (exit {owner.poll()})"
    return psutil.Process(int(line))


def test_clean_stops_a_temporary_prefect_api_whose_run_was_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    killed_owner, live_owner = (_start_temporary_api(data_dir, tmp_path / name) for name in ("killed", "live"))
    try:
        orphan, kept = _server_of(killed_owner), _server_of(live_owner)
        killed_owner.kill()  # SIGKILL: its temporary API is left without anyone who knows its port
        killed_owner.wait(timeout=30)
        time.sleep(0.5)  # until init has adopted it
        out = _clean(data_dir)
        assert f"stopped Prefect API pid {orphan.pid} (a temporary one whose kafkalab process is gone)" in out
        psutil.wait_procs([orphan], timeout=30)
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
        assert kept.is_running() and str(kept.pid) not in out  # its owner runs: it is the owner's to stop
        assert _clean(data_dir).strip() == "nothing to clean"
    finally:
        for owner in (killed_owner, live_owner):
            if owner.poll() is None:
                os.killpg(owner.pid, signal.SIGKILL)
            owner.wait(timeout=30)
        # killpg took the live owner's server with it; the orphan was stopped by `clean` (or here)
        left = [p for p in psutil.process_iter(["cmdline", "environ"])
                if "prefect.server.api.server:create_app" in (p.info["cmdline"] or [])
                and (p.info["environ"] or {}).get("KAFKALAB_DATA_DIR") == str(data_dir)]
        for process in left:
            process.kill()
        psutil.wait_procs(left, timeout=30)
