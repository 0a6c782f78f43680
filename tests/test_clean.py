"""`kafkalab clean`: run directories of dead kafkalab processes are found, what they left
running is stopped and their data is removed; a live owner's directory is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
