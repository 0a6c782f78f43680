"""Prefect tasks: thin wrappers of engine steps that add retries, names, logs and artifacts.

Tasks hand live objects (a running cluster) to each other in-process, so they neither
cache nor persist results: every task is a `kafkalab_task`, Prefect's `task` with that
default. Retries are one of the policies below, by what a task talks to.
"""

from __future__ import annotations

import functools
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

kafkalab_task = functools.partial(task, cache_policy=NO_CACHE)

# A broker call that can meet a leader election or a broker still joining.
KAFKA_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": [2, 5]}
# The results database: a restart or a network blip.
DATABASE_RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [2, 5, 10]}
# Maven Central: a download.
DOWNLOAD_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": [5, 20]}
