"""Where kafkalab keeps things on the user's machine.

Cache (Kafka jars) and data (embedded PostgreSQL, run directories) follow the platform's
conventions; KAFKALAB_CACHE_DIR / KAFKALAB_DATA_DIR move them (tests use this to stay
isolated from a user's real history).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    return Path(os.environ.get("KAFKALAB_CACHE_DIR") or platformdirs.user_cache_dir("kafkalab"))


def data_dir() -> Path:
    return Path(os.environ.get("KAFKALAB_DATA_DIR") or platformdirs.user_data_dir("kafkalab"))


def runs_dir() -> Path:
    """One sub-directory per cluster: configs, data and logs of its brokers, tool output."""
    return data_dir() / "runs"
