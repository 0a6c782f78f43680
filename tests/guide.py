"""The user's guide's real perf-tool output, shared by tests as fixture text.

The guide's fenced blocks of ProducerPerformance / ConsumerPerformance output are copied, one
file per block, into tests/data/guide/ (its README says where they come from). `BLOCKS` names
each file with the guide's heading line it follows and which fenced block after that heading
it is, in the guide's order, so tests (and guide.yaml's `section` / `block`) can still point at
a block the way a reader of the guide finds it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

GUIDE_DIR = Path(__file__).resolve().parent / "data" / "guide"

# file name (without .txt) -> (the guide's heading line before the block, fenced block number after it)
BLOCKS: dict[str, tuple[str, int]] = {
    "producer-step6-250b": ("Output of the test should look similar to below:", 1),
    "consumer-default": ("Example Output (Edited for readability):", 1),
    "producer-baseline-250b": ("**Record Size: 250 bytes**:", 1),
    "producer-baseline-500b": ("**Record Size: 500 bytes**:", 1),
    "producer-baseline-1kb": ("**Record Size: 1 kB**", 1),
    "producer-tuning-lower": ("#### Lets try the lower end range parameters of the recommendations above:", 2),
    "producer-tuning-upper": ("#### Lets try the upper end range parameters of the recommendations above:", 2),
    "consumer-fetch-min-bytes": ("### Consumer Test", 2),
    "producer-6-brokers": ("### Run the Kafka Performance Test", 2),
    "producer-service-log": (
        "Navigate to the UI --> Services --> confluent-producer --> logs --> Output (stdout) "
        "to view performance test results:", 1,
    ),
    "producers-3-parallel": ("### Example output from 3 Producers", 1),
    "producers-10-parallel": ("### Example output from 10 Producers", 2),
    "producers-15-parallel": ("### Example output from 15 Producers", 2),
    "producers-25-parallel": ("25 Producers Output:", 1),
}


@cache
def block(name: str) -> str:
    """The text of one fixture block, as in the guide (no trailing newline)."""
    return (GUIDE_DIR / f"{name}.txt").read_text(encoding="utf-8").removesuffix("\n")


def block_after(heading: str, *, count: int = 1) -> str:
    """The `count`-th fenced block after the first heading line of the guide containing `heading`."""
    for name, (line, number) in BLOCKS.items():
        if heading in line and number == count:
            return block(name)
    raise KeyError(f"no fixture for block {count} after {heading!r}: see BLOCKS in tests/guide.py")


@cache
def guide_text() -> str:
    """All of the guide's tool output, block after block in the guide's order."""
    return "\n".join(block(name) for name in BLOCKS)


def guide_lines() -> list[str]:
    return guide_text().splitlines()


def records_sent_lines() -> list[str]:
    """Every line of real ProducerPerformance output in the guide."""
    return [line for line in guide_lines() if "records sent" in line]
