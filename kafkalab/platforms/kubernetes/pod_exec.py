"""A command in a pod's container over the API's exec stream (pods/exec), its output read line by line.

This is how the flow runs its broker JMX sampler inside each broker pod, where the broker's
JMX listens on the pod's 127.0.0.1 only (docs/measuring.md, "Broker metrics on Kubernetes").

Stopping closes the command's stdin: the v5 stream protocol half-closes it; with v4, which
cannot, the whole stream is closed. Either way the container runtime then closes the
command's stdin (CRI exec is stdin-once), and the load generator's `jmx` ends when its stdin
ends, as it does locally. The flow going away closes the stream too, so the command cannot
outlive it. Everything that may block (connecting, reading) runs on one daemon thread, and
stop() is bounded.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from kubernetes import client as k8s
from kubernetes.stream import stream
from kubernetes.stream.ws_client import (
    ERROR_CHANNEL,
    STDERR_CHANNEL,
    STDOUT_CHANNEL,
    V5_CHANNEL_PROTOCOL,
)

STDIN_CHANNEL = 0
POLL_S = 0.2
NO_STATUS = -1  # the stream ended without the command's exit status (the pod went away, say)


class PodCommand:
    """`command` in `container` of `pod`, its stdout and stderr to `log_path` and to `on_line`."""

    def __init__(self, api: k8s.ApiClient, namespace: str, pod: str, container: str, command: Sequence[str],
                 log_path: Path, on_line: Callable[[str], None]) -> None:
        self.log_path = log_path
        self.what = f"exec in pod {namespace}/{pod}"
        # An ApiClient of its own: `stream` swaps the client's call_api while it connects, which
        # would divert the flow's other API calls made meanwhile on a shared one.
        self._api = k8s.ApiClient(api.configuration)
        self._call = (k8s.CoreV1Api(self._api).connect_get_namespaced_pod_exec, pod, namespace,
                      {"container": container, "command": list(command), "stdin": True, "stdout": True,
                       "stderr": True, "tty": False, "_preload_content": False})
        self._on_line = on_line
        self._stopping = threading.Event()
        self._grace_s = 10.0
        self._code: int | None = None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name=f"pod-exec-{pod}", daemon=True)
        self._thread.start()

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self._code

    def stop(self, grace_s: float = 10) -> None:
        """Close the command's stdin and wait up to `grace_s` for it to end, then drop the stream."""
        self._grace_s = grace_s
        self._stopping.set()
        self._thread.join(grace_s + 5)

    # -- the stream's thread ------------------------------------------------------------------

    def _run(self) -> None:
        with open(self.log_path, "w", encoding="utf-8") as log:
            try:
                method, pod, namespace, options = self._call
                ws = stream(method, pod, namespace, **options)
            except Exception as exc:  # noqa: BLE001 - ApiException, a refused upgrade: the reason, logged
                self._end(log, NO_STATUS, f"exec failed: {' '.join(str(exc).split())[:300]}")
                return
            try:
                self._pump(ws, log)
            except Exception as exc:  # noqa: BLE001 - a broken stream ends the command's output
                self._end(log, NO_STATUS, f"stream broke: {type(exc).__name__}: {exc}"[:300])
            finally:
                with contextlib.suppress(Exception):
                    ws.close()
                with contextlib.suppress(Exception):
                    self._api.close()

    def _pump(self, ws, log: IO[str]) -> None:
        partial = {STDOUT_CHANNEL: "", STDERR_CHANNEL: ""}
        stop_at: float | None = None
        while ws.is_open():
            if self._stopping.is_set() and stop_at is None:
                stop_at = time.monotonic()
                if ws.subprotocol != V5_CHANNEL_PROTOCOL:
                    break  # no half-close in v4: closing the stream closes the command's stdin
                ws.close_channel(STDIN_CHANNEL)
            if stop_at is not None and time.monotonic() - stop_at > self._grace_s:
                break
            ws.update(timeout=POLL_S)
            for channel, before in list(partial.items()):
                text = before + ws.read_channel(channel)
                *lines, partial[channel] = text.split("\n")
                for line in lines:
                    log.write(line + "\n")
                    self._on_line(line)
            log.flush()
        for rest in partial.values():
            if rest:
                log.write(rest + "\n")
                self._on_line(rest)
        if ws.is_open():  # left by stop(): the stream is closed on the way out
            self._end(log, 0, None)
        else:
            code = _exit_code(ws.read_channel(ERROR_CHANNEL))
            self._end(log, 0 if stop_at is not None and code == NO_STATUS else code, None)

    def _end(self, log: IO[str], code: int, reason: str | None) -> None:
        self._code = code
        if reason:
            log.write(f"kafkalab: {self.what}: {reason}\n")
        elif code != 0:
            log.write(f"kafkalab: {self.what}: exited with code {code}\n")


def _exit_code(status_text: str) -> int:
    """The exit code in the stream's status (its error channel): 0 on Success."""
    try:
        status = json.loads(status_text)
    except ValueError:
        return NO_STATUS
    if not isinstance(status, dict):
        return NO_STATUS
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(cause.get("message"))
    return NO_STATUS
