"""Setting names as Kafka spells them, whichever way the spec wrote them."""

from __future__ import annotations


def normalize_key(key: str) -> str:
    """`num_io_threads` (options.json) -> `num.io.threads` (Kafka); dotted keys are kept."""
    key = key.strip()
    return key if "." in key else key.replace("_", ".")
