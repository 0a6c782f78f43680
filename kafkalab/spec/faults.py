"""The rules a spec's broker `faults:` must follow, and what they will do to the test.

A fault is "kill (SIGKILL) or stop (clean shutdown) broker K at T seconds into the producer
test, start it again after D seconds (or leave it down)". The model is platform-neutral:
broker K is the node id / ordinal (kafka-K). Injecting them is the platform's job
(kafkalab.platforms.faults).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafkalab.spec.models import ExperimentSpec, FaultSpec


# ---------------------------------------------------------------------------------------
# Rules


def _down_intervals(faults: list[FaultSpec]) -> list[tuple[float, float, int, int]]:
    """(from, until, broker, index) per fault; until = inf when the broker stays down."""
    return [
        (f.at_s, f.at_s + f.restart_after_s if f.restart_after_s is not None else float("inf"), f.broker, i)
        for i, f in enumerate(faults)
    ]


def _most_down_at_once(faults: list[FaultSpec]) -> tuple[int, set[int]]:
    """The largest number of brokers down at the same moment, and which."""
    intervals = _down_intervals(faults)
    best: tuple[int, set[int]] = (0, set())
    for start, _, _, _ in intervals:
        down = {b for s, u, b, _ in intervals if s <= start < u}
        if len(down) > best[0]:
            best = (len(down), down)
    return best


def min_insync_replicas(spec: ExperimentSpec) -> int:
    """The topic's effective min.insync.replicas: its own setting, the brokers', else Kafka's 1."""
    for value in (spec.topic.config.get("min.insync.replicas"), spec.cluster.broker_config.get("min.insync.replicas")):
        if value is not None and str(value).isdigit():
            return int(value)
    return 1


def acks_all(spec: ExperimentSpec) -> bool:
    return str(spec.producer.props.get("acks", "all")).strip().lower() in ("all", "-1")  # Kafka 4's default is all


def check_faults(spec: ExperimentSpec) -> None:
    """Reject faults that cannot run; raise ValueError naming the field (the spec model's rule).

    Rejected: a broker the cluster does not have; an at_s past the producers' timeout; a
    fault on a broker that is still down from an earlier one; and brokers left down for good
    that hold every replica of some partitions (as many as the replication factor), since the
    producers could then never finish. What only slows the test down (writes waiting for a
    broker to come back) is allowed, with a warning (`fault_warnings`). Whether the spec's
    platform can inject faults at all is the platform's to say (kafkalab.platforms.check_spec).
    """
    faults = spec.faults
    if not faults:
        return
    brokers = spec.cluster.brokers
    for i, fault in enumerate(faults):
        if fault.broker >= brokers:
            raise ValueError(
                f"faults.{i}.broker: {fault.broker} is not a broker of this cluster "
                f"(node ids 0..{brokers - 1} for cluster.brokers {brokers})"
            )
        if fault.at_s >= spec.producer.timeout_s:
            raise ValueError(f"faults.{i}.at_s: {fault.at_s:g} is past producer.timeout_s ({spec.producer.timeout_s:g})")
    intervals = _down_intervals(faults)
    for start, until, broker, i in intervals:
        for other_start, other_until, other_broker, j in intervals:
            if j != i and other_broker == broker and other_start <= start < other_until and (other_start, j) < (start, i):
                still = "stays down" if other_until == float("inf") else f"is down until {other_until:g}s"
                raise ValueError(f"faults.{i}.at_s: broker {broker} {still} after faults.{j}")
    forever = sorted({f.broker for f in faults if f.restart_after_s is None})
    rf = spec.topic.replication_factor
    if len(forever) >= rf:
        raise ValueError(
            f"faults: brokers {forever} stay down (no restart_after_s) with topic.replication_factor {rf}: "
            "some partitions would keep no replica and the producers could never finish"
        )


def fault_warnings(spec: ExperimentSpec) -> list[str]:
    """What the faults will do to the test, said before it starts (the injector logs these)."""
    if not spec.faults:
        return []
    warnings: list[str] = []
    rf = spec.topic.replication_factor
    most, down = _most_down_at_once(spec.faults)
    if rf == 1:
        warnings.append(
            "faults with topic.replication_factor 1: the partitions of a broker that is down take no writes "
            "until it is back, and records it acknowledged but had not flushed may be lost"
        )
    elif most >= rf:
        warnings.append(
            f"faults: brokers {sorted(down)} are down at the same time with topic.replication_factor {rf}: "
            "some partitions have no replica until one is back; their records wait in the producers"
        )
    elif acks_all(spec) and most > rf - (min_isr := min_insync_replicas(spec)):
        warnings.append(
            f"faults: {most} brokers down at once with acks=all and min.insync.replicas "
            f"{min_isr} (replication {rf}): writes to some partitions are refused "
            "(NotEnoughReplicas) until a broker is back"
        )
    p = spec.producer
    if p.throughput > 0:
        expected_s = p.num_records / p.throughput
        for i, fault in enumerate(spec.faults):
            if fault.at_s >= expected_s:
                warnings.append(
                    f"faults.{i}.at_s: {fault.at_s:g}s is past the producer test's expected length "
                    f"(~{expected_s:.0f}s at {p.throughput:g} records/s): skipped if the producers finish first"
                )
    return warnings
