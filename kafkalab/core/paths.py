"""Where kafkalab keeps things on the user's machine.

Cache (Kafka jars) and data (embedded PostgreSQL, run directories) follow the platform's
conventions; KAFKALAB_CACHE_DIR / KAFKALAB_DATA_DIR move them (tests use this to stay
isolated from a user's real history).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs


def cache_dir() -> Path:
    return Path(os.environ.get("KAFKALAB_CACHE_DIR") or platformdirs.user_cache_dir("kafkalab"))


def data_dir() -> Path:
    return Path(os.environ.get("KAFKALAB_DATA_DIR") or platformdirs.user_data_dir("kafkalab"))


def runs_dir() -> Path:
    """One sub-directory per cluster: configs, data and logs of its brokers, tool output."""
    return data_dir() / "runs"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader sees the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable (a state file not yet written)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
