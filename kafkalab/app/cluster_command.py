"""`kafkalab cluster up|down|status`: a local KRaft cluster left running, outside any flow.

For manual work, and as the target of `platform: external`. It prints where the cluster
answers and, with security, where the credentials are (files readable by the user only),
never the credentials themselves. The clusters live in kafkalab.platforms.local.kept.
"""

from __future__ import annotations

import argparse
import sys

from kafkalab.platforms.local import kept

DEFAULT_NAME = "default"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cluster", help="a local KRaft cluster left running (for manual work, or as a "
                                            "platform external target): up | down | status")
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"which cluster (default: {DEFAULT_NAME})")
    parser.add_argument("--brokers", type=int, default=1, metavar="N", help="brokers of a new cluster (default 1)")
    parser.add_argument("--security", choices=tuple(kept.SECURITY_CHOICES), default="plaintext",
                        help="listener security of a new cluster (default plaintext)")
    parser.add_argument("--kafka-version", metavar="V", help="Apache Kafka 4.x version (default: the pinned one)")
    parser.add_argument("--heap-mb", type=int, default=256, metavar="MB", help="heap per broker (default 256)")
    parser.add_argument("--controller-heap-mb", type=int, default=192, metavar="MB",
                        help="heap of the controller (default 192)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "up":
        cluster = kept.up(args.name, brokers=args.brokers, security=args.security, kafka_version=args.kafka_version,
                          heap_mb=args.heap_mb, controller_heap_mb=args.controller_heap_mb,
                          on_progress=lambda line: print(f"kafkalab: {line}", file=sys.stderr))
        print("\n".join(describe(cluster)))
        print(f"stop it with `kafkalab cluster down --name {cluster.name}`")
    elif args.action == "down":
        cluster = kept.down(args.name)
        print(f"cluster {cluster.name} stopped; ports {', '.join(map(str, cluster.ports))} free")
    else:
        print("\n".join(status_lines()))
    return 0


def describe(cluster: kept.KeptCluster) -> list[str]:
    """Where the cluster answers and where its credentials are (paths, never the secrets)."""
    lines = [
        f"cluster {cluster.name}: Kafka {cluster.kafka_version}, {cluster.brokers} broker(s), {cluster.protocol}"
        + (f" {cluster.mechanism} user {cluster.username}" if cluster.mechanism else ""),
        f"bootstrap servers: {cluster.bootstrap_servers}",
        f"client properties: {cluster.client_properties}",
    ]
    if cluster.ca_file:
        lines.append(f"CA certificate:    {cluster.ca_file}")
    if cluster.password_file:
        lines.append(f"password file:     {cluster.password_file}   "
                     f"(a spec: password: env:KAFKA_PASSWORD after export KAFKA_PASSWORD=$(cat {cluster.password_file}))")
    return lines


def status_lines() -> list[str]:
    clusters = kept.every()
    if not clusters:
        return ["no kept clusters (`kafkalab cluster up` starts one)"]
    return [f"{c.name}: {c.bootstrap_servers} {c.protocol}, Kafka {c.kafka_version}, up {format_age(c.age_s)}, "
            + ("running" if c.running() else "NOT running (its JVMs died; `cluster down` clears it)")
            for c in clusters]


def format_age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{int(seconds)} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"


def clean_kept(*, stop: bool, say) -> list[str]:
    """`kafkalab clean`: name every kept cluster and leave it running, unless asked (--clusters) to stop them."""
    names = []
    for cluster in kept.every():
        if stop:
            kept.down(cluster.name)
            say(f"cluster {cluster.name} ({cluster.bootstrap_servers}) stopped")
        else:
            say(f"cluster {cluster.name} ({cluster.bootstrap_servers}, up {format_age(cluster.age_s)}) left running: "
                "`kafkalab clean --clusters` or `kafkalab cluster down` stops it")
        names.append(cluster.name)
    return names
