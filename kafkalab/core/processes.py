"""JVMs kafkalab starts, and the guarantee that they stop.

Every process gets its own session (so a terminal's Ctrl-C reaches kafkalab, which then
stops them in order), writes its output to a file in the run directory, and is registered
in a process-wide registry that an exit handler and SIGTERM/SIGINT handling empty.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()


class ManagedProcess:
    """A child process whose output goes to `log_path` (and, line by line, to `on_line`)."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        *,
        on_line: Callable[[str], None] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin_pipe: bool = False,
        append: bool = False,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab" if append else "wb")  # append: a restarted process keeps the old output
        self._reader: threading.Thread | None = None
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE if on_line else self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        with _live_lock:
            _live.add(self)
        if on_line:
            self._reader = threading.Thread(target=self._pump, args=(on_line,), name=f"{name}-output", daemon=True)
            self._reader.start()

    def _pump(self, on_line: Callable[[str], None]) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            self._log.write(raw)
            self._log.flush()
            try:
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))
            except Exception:  # noqa: BLE001 - a logging hiccup must not lose the tool's output
                pass

    def send(self, line: str) -> None:
        """Write one line to the process's stdin (started with stdin_pipe=True)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died already: its exit code and output tell why

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit; on timeout the process is stopped and TimeoutError raised."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(grace_s=2)
            raise TimeoutError(f"{self.name} still running after {timeout:.0f}s, stopped") from None
        self._finish()
        return code

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace_s`; idempotent."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._finish()
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL at once (a crash: no shutdown hooks), wait for the exit; idempotent."""
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._finish()
        return self.proc.returncode

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # the JVM and anything it started
        except ProcessLookupError:
            pass

    def _finish(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=10)
        if not self._log.closed:
            self._log.close()
        with _live_lock:
            _live.discard(self)

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def detach(self) -> None:
        """Let the process outlive this one (`kafkalab cluster up`): no stop at exit or on a
        signal. Its output still goes to its log (started without `on_line`)."""
        with _live_lock:
            _live.discard(self)
        if not self._log.closed:
            self._log.close()  # the child writes through its own descriptor


def stop_all(grace_s: float = 5.0) -> None:
    """Stop every process still registered (exit handler, signal handler)."""
    with _live_lock:
        procs = list(_live)
    threads = [threading.Thread(target=p.stop, args=(grace_s,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


atexit.register(stop_all)


def _terminate(signum, _frame):  # pragma: no cover - exercised by the Ctrl-C tests
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """Make SIGTERM raise, so `finally:` teardown runs (main thread only).

    A handler someone installed already is kept: inside a Prefect flow run the engine's own
    turns SIGTERM into TerminationSignal and tells a cancellation from the UI from a crash,
    so the run ends Cancelled rather than Crashed. Only the default (exit at once) is replaced.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL, None, _terminate,
    ):
        signal.signal(signal.SIGTERM, _terminate)
