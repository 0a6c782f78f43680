"""kafkalab: Kafka load-testing studies as repeatable, orchestrated experiments.

The `kafkalab` package is the engine: plain Python, no Prefect import. Prefect tasks and
flows live in the top-level `tasks` and `flows` packages and call into it.
"""

__version__ = "0.1.0"
