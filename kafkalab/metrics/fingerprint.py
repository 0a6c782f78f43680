"""What a run ran on and with: the machine, the software, the platform and the effective settings.

`take` describes them before the load starts; the run stores the result as JSON
(runs.fingerprint, view v_environment). Its `id` is a short hash of everything that
describes the machine, software, platform and settings, and nothing volatile (the load
average before the run, the time it was taken): two runs with the same id ran on the same
kind of machine with the same software and settings. `differences(a, b)` says in words
what differs between two fingerprints.

What cannot be read is None (missing, never zero or a guess) and said in `missing`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

import kafkalab

if TYPE_CHECKING:
    from kafkalab.platforms import Cluster
    from kafkalab.spec import ExperimentSpec

FORMAT = 1
ID_LENGTH = 12  # hex digits: plenty to tell apart a project's machines and settings, short in a table
UNKNOWN = "unknown"
# Parts that describe the run's conditions but not what it ran on or with: left out of the id.
VOLATILE = ("id", "settings_hash", "before_run", "missing", "format")
_TOOL_TIMEOUT_S = 20  # a `java -XshowSettings` or `git` that takes longer is reported missing


def take(cluster: Cluster, spec: ExperimentSpec) -> dict[str, Any]:
    """The fingerprint of a run about to start on `cluster` with `spec` (see the module doc)."""
    missing: list[str] = []
    settings = effective_settings(cluster, spec)
    java = java_description(cluster.broker_java) if cluster.broker_java else None
    if java is None:
        missing.append("java: the brokers do not run on this machine" if not cluster.broker_java
                       else f"java: {cluster.broker_java} did not say its version")
        java = {"vendor": None, "version": None, "runtime": None}
    git = git_description()
    if git["commit"] == UNKNOWN:
        missing.append(f"git: {git.pop('why')}")
    try:
        nodes = cluster.node_descriptions()
    except Exception as exc:  # noqa: BLE001 - a fingerprint without nodes still describes the rest
        nodes = []
        missing.append(f"nodes: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    described = {
        "machine": machine_description(),
        "software": {
            "java": java, "kafka": cluster.kafka_version, "kafkalab": {"version": kafkalab.__version__, **git},
            "python": platform.python_version(), "python_implementation": platform.python_implementation(),
        },
        "platform": {"name": cluster.platform, "nodes": nodes},
        "settings": settings,
    }
    load_1m, load_5m, load_15m = os.getloadavg()
    return {
        "format": FORMAT, "id": digest(described), "settings_hash": digest(settings),
        **described,
        "before_run": {"taken_at": datetime.now(UTC).isoformat(timespec="seconds"), "load_1m": load_1m,
                       "load_5m": load_5m, "load_15m": load_15m},
        "missing": missing,
    }


def fingerprint_id(fingerprint: dict[str, Any]) -> str:
    """The id of a fingerprint: the hash of its describing parts (not of VOLATILE ones)."""
    return digest({k: v for k, v in fingerprint.items() if k not in VOLATILE})


def digest(value: Any) -> str:
    """A short, stable hash of a JSON-able value (keys sorted, so order does not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


# -- the parts ------------------------------------------------------------------------------

def effective_settings(cluster: Cluster, spec: ExperimentSpec) -> dict[str, Any]:
    """The settings the run's brokers, topic and clients get: the brokers' as kafkalab applies
    them (its small-cluster defaults under the spec's), not the load's shape (record size,
    rate, instances), which a sweep's cells vary on purpose."""
    broker = {**cluster.settings.defaults_for(len(cluster.brokers)), **cluster.settings.applied}
    return {
        "broker": {k: str(v) for k, v in sorted(broker.items())},
        "broker_skipped": dict(sorted(cluster.settings.skipped.items())),
        "cluster": {"brokers": len(cluster.brokers), "controllers": spec.cluster.controllers,
                    "broker_heap_mb": spec.cluster.heap_mb, "controller_heap_mb": spec.cluster.controller_heap_mb},
        "topic": {"partitions": spec.topic.partitions, "replication_factor": spec.topic.replication_factor,
                  **{k: str(v) for k, v in sorted(spec.topic.config.items())}},
        "producer": {"tool": spec.producer.tool, "heap_mb": spec.producer.heap_mb,
                     **{k: str(v) for k, v in sorted(spec.producer.props.items())}},
        "consumer": {"tool": spec.consumer.tool, "heap_mb": spec.consumer.heap_mb,
                     **{k: str(v) for k, v in sorted(spec.consumer.props.items())}},
    }


def machine_description() -> dict[str, Any]:
    """The machine running the flow (on the local platform also the brokers and the load)."""
    return {
        "cpu_model": _cpu_model(), "cores": psutil.cpu_count(logical=False), "logical_cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total, "architecture": platform.machine() or None,
        "kernel": platform.release() or None, "os": _os_name(),
    }


@functools.lru_cache(maxsize=8)
def java_description(java: str) -> dict[str, Any] | None:
    """Vendor and version of `java`, from its own system properties; None when it does not say."""
    try:
        out = subprocess.run([java, "-XshowSettings:properties", "-version"], capture_output=True, text=True,
                             timeout=_TOOL_TIMEOUT_S, check=False).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    props = dict(re.findall(r"^\s*(java\.[\w.]+) = (.*)$", out, flags=re.MULTILINE))
    if "java.version" not in props:
        return None
    return {"vendor": props.get("java.vendor"), "version": props["java.version"],
            "runtime": props.get("java.runtime.version"), "vm": props.get("java.vm.name")}


def git_description(root: Path | None = None) -> dict[str, Any]:
    """The commit kafkalab runs from and whether its tracked files differ from it; commit
    "unknown" (with `why`) outside a git checkout or without git."""
    root = root or Path(kafkalab.__file__).resolve().parent.parent
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if Path(top).resolve() != root.resolve():
            return {"commit": UNKNOWN, "dirty": None, "why": f"{root} is not the root of a git checkout"}
        commit = _git(root, "rev-parse", "HEAD")
        # --no-optional-locks: a status that leaves the index alone (other commands may run)
        dirty = bool(_git(root, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"))
    except FileNotFoundError:
        return {"commit": UNKNOWN, "dirty": None, "why": "no git command on this machine"}
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        return {"commit": UNKNOWN, "dirty": None, "why": f"{root} is no git checkout ({type(exc).__name__})"}
    return {"commit": commit, "dirty": dirty}


def _git(root: Path, *args: str) -> str:
    if args[0].startswith("--"):
        command = ["git", args[0], "-C", str(root), *args[1:]]
    else:
        command = ["git", "-C", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S, check=True).stdout.strip()


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or None
    match = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or None)


def _os_name() -> str | None:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        return f"{platform.system()} {platform.version()}".strip() or None


# -- differences ------------------------------------------------------------------------------

_LABELS = {
    "machine.cpu_model": "CPU model", "machine.cores": "CPU cores", "machine.logical_cpus": "logical CPUs",
    "machine.memory_bytes": "memory (bytes)", "machine.architecture": "architecture", "machine.kernel": "kernel",
    "machine.os": "OS", "software.java.vendor": "Java vendor", "software.java.version": "Java version",
    "software.java.runtime": "Java runtime", "software.java.vm": "Java VM", "software.kafka": "Kafka version",
    "software.kafkalab.version": "kafkalab version", "software.kafkalab.commit": "kafkalab commit",
    "software.kafkalab.dirty": "kafkalab uncommitted changes", "software.python": "Python version",
    "software.python_implementation": "Python implementation", "platform.name": "platform",
}


def differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """What differs between fingerprints `a` and `b`, one line each ("broker setting
    num.io.threads: 8 -> 16"); volatile parts (the load before the run) are not compared."""
    if a is None or b is None:
        if a is b:
            return []
        return [f"fingerprint: {'none' if a is None else 'stored'} -> {'none' if b is None else 'stored'}"]
    flat_a, flat_b = _flatten(_describing(a)), _flatten(_describing(b))
    lines = []
    for path in sorted(flat_a.keys() | flat_b.keys()):
        before, after = flat_a.get(path, _ABSENT), flat_b.get(path, _ABSENT)
        if before != after:
            lines.append(f"{_label(path)}: {_shown(before)} -> {_shown(after)}")
    return lines


_ABSENT = object()


def _describing(fingerprint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fingerprint.items() if k not in VOLATILE}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat or {prefix: "[]"}
    return {prefix: value}


def _label(path: str) -> str:
    if path in _LABELS:
        return _LABELS[path]
    for kind in ("broker_skipped", "broker", "cluster", "topic", "producer", "consumer"):
        if path.startswith(f"settings.{kind}."):
            what = "broker setting skipped" if kind == "broker_skipped" else f"{kind} setting"
            return f"{what} {path[len(f'settings.{kind}.'):]}"
    if path.startswith("platform.nodes"):
        return "node " + path[len("platform.nodes"):].lstrip(".")
    return path


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(not set)"
    if value is None:
        return "(missing)"
    return str(value)
