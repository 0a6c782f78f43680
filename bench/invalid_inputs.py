"""Invalid inputs tried, and the share kafkalab rejected cleanly (target 100%).

    .venv/bin/python bench/invalid_inputs.py [--examples 2000]

The property tests' generators (tests/spec_strategies.py) with many more examples: a value of
any type at any spec path, `--set` items, YAML text, whole-spec values, sweep axes, and
garbled perf-tool output. Each input ends one of three ways:

    accepted   a valid spec (or a parsed tool result)
    rejected   a SpecError of one line naming the problem (or "no result" from a parser)
    crashed    anything else: an exception kafkalab did not explain, a multi-line message

"Rejected cleanly" is rejected / (rejected + crashed).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafkalab.core.errors import SpecError  # noqa: E402
from kafkalab.kafka import perftools  # noqa: E402
from kafkalab.plan import plan_sweep  # noqa: E402
from kafkalab.spec import apply_override, load_spec, parse_spec, parse_sweep  # noqa: E402
from tests.spec_strategies import BASE, KEYS, values  # noqa: E402

REAL_PRODUCER_LINE = ("3000 records sent, 11583.011583 records/sec (1.10 MB/sec), 34.65 ms avg latency, "
                      "236.00 ms max latency, 28 ms 50th, 96 ms 95th, 103 ms 99th, 236 ms 99.9th.")


def spec_outcome(call) -> str:
    try:
        call()
    except SpecError as exc:
        message = str(exc).strip()
        return "rejected" if message and "\n" not in message else "crashed"
    except Exception:  # noqa: BLE001 - counted: this is what the benchmark looks for
        return "crashed"
    return "accepted"


def parser_outcome(text: str) -> str:
    try:
        summary = perftools.parse_producer_output(text).summary
        consumer = perftools.parse_consumer_output(text)
    except Exception:  # noqa: BLE001
        return "crashed"
    return "accepted" if summary is not None or consumer is not None else "rejected"


def at_path(key: str, value) -> dict:
    data = copy.deepcopy(BASE)
    parts = key.split(".")
    head = 3 if parts[0] in ("cluster", "topic", "producer") and len(parts) > 2 else len(parts)
    *path, last = parts[:head - 1] + [".".join(parts[head - 1:])] if head < len(parts) else parts
    node = data
    for part in path:
        node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
    node[last] = value
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=2000, help="examples per generator")
    args = parser.parse_args()
    tally: dict[str, Counter] = {}
    config = settings(max_examples=args.examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
    spec_dir = Path(tempfile.mkdtemp(prefix="kafkalab-invalid-"))

    def count(kind: str, outcome: str) -> None:
        tally.setdefault(kind, Counter())[outcome] += 1

    @config
    @given(st.sampled_from(KEYS), values)
    def value_at_path(key, value):
        count("value at a spec path", spec_outcome(lambda: parse_spec(at_path(key, value))))

    @config
    @given(st.sampled_from(KEYS + ["", ".", "a..b"]), st.text(max_size=30))
    def set_item(key, raw):
        def call():
            data = copy.deepcopy(BASE)
            apply_override(data, f"{key}={raw}")
            parse_spec(data)
        count("--set item", spec_outcome(call))

    @config
    @given(st.text(max_size=120))
    def yaml_text(text):
        path = spec_dir / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        count("YAML text", spec_outcome(lambda: load_spec(path)))

    @config
    @given(values)
    def whole_value(value):
        count("whole spec / section", spec_outcome(lambda: parse_spec(value)))
        count("whole spec / section", spec_outcome(lambda: parse_spec({**BASE, "cluster": value})))

    @config
    @given(st.dictionaries(st.sampled_from(KEYS), st.lists(values, max_size=3), max_size=3))
    def sweep_axes(axes):
        count("sweep axes", spec_outcome(lambda: plan_sweep(parse_sweep({"name": "s", "base": BASE, "axes": axes}))))

    @config
    @given(st.text(max_size=200), st.integers(0, len(REAL_PRODUCER_LINE)), st.text(max_size=5))
    def tool_output(noise, cut, insert):
        count("perf-tool output", parser_outcome(noise))
        count("perf-tool output", parser_outcome(REAL_PRODUCER_LINE[:cut] + insert + REAL_PRODUCER_LINE[cut:]))

    for run in (value_at_path, set_item, yaml_text, whole_value, sweep_axes, tool_output):
        run()

    print("| input | tried | accepted | rejected cleanly | crashed | rejected cleanly, share |")
    print("|---|---:|---:|---:|---:|---:|")
    total = Counter()
    for kind, c in tally.items():
        total.update(c)
        invalid = c["rejected"] + c["crashed"]
        share = f"{c['rejected'] / invalid:.1%}" if invalid else "n/a"
        print(f"| {kind} | {sum(c.values())} | {c['accepted']} | {c['rejected']} | {c['crashed']} | {share} |")
    invalid = total["rejected"] + total["crashed"]
    print(f"| all | {sum(total.values())} | {total['accepted']} | {total['rejected']} | {total['crashed']} | "
          f"{total['rejected'] / invalid:.1%} |")


if __name__ == "__main__":
    main()
