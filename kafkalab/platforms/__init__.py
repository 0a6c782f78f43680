"""Where a Kafka cluster runs: local JVMs on 127.0.0.1 (local.py) or pods (kubernetes/).

Both have the shape below, which is all the experiment steps and the Prefect tasks use;
platform-specific steps dispatch on `platform` in kafkalab.experiment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Cluster(Protocol):
    platform: str  # "local" | "kubernetes"
    run_dir: Path  # configs, logs and tool output kept on the machine running the flow
    brokers: list[Any]
    settings: Any  # kafkalab.broker_config.BrokerSettings
    security: Any  # kafkalab.security.ClusterSecurity | None

    @property
    def bootstrap_servers(self) -> str: ...

    @property
    def broker_ids(self) -> list[int]: ...

    def deploy(self, brokers: int, controllers: int = 1, *, on_progress: Callable[[str], None] | None = None) -> None: ...

    def wait_ready(self, broker_ids: list[int] | None = None, *, timeout_s: float = 120,
                   on_ready: Callable[[Any], None] | None = None) -> list[Any]: ...

    def add_brokers(self, count: int, *, on_progress: Callable[[str], None] | None = None) -> list[int]: ...

    def remove_brokers(self, broker_ids: list[int], grace_s: float = 30) -> None: ...

    def stop(self, grace_s: float = 10) -> None: ...

    def remove_data(self) -> None: ...
