"""Broker metrics on real pods (issue 13, part 7): the brokers' JMX sampled inside their pods.

One KRaft controller and one broker as StatefulSet pods from kafkalab.local/kafka on the test
bed's real node (tests/conftest.py kube_real_testbed), the flow's Kafka calls behind the node's
command prefix. A run goes through the engine's own steps (steps.run_metrics around
steps.producer_fanout, as flows/common.run_once does) into PostgreSQL, and the tests read what a
user would: v_broker_metrics. The broker's JMX listens on its pod's 127.0.0.1 only
(kafkalab/java/LoopbackJmx.java); the sampler runs inside the pod over pods/exec
(kafkalab/platforms/kubernetes/pod_exec.py) and is gone after the run.
"""

from __future__ import annotations

import ipaddress
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import psutil
import pytest
from kubernetes import client as k8s

from kafkalab.experiment import steps
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.metrics import names as n
from kafkalab.metrics.broker_jmx import BROKER_METRICS, BrokerJmxSampler
from kafkalab.platforms.base import MetricsTarget
from kafkalab.platforms.kubernetes import KubernetesCluster
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.kafka_calls import PrefixedKafka
from kafkalab.results.figures import run_figures
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.databases import fresh_database
from tests.metrics_checks import at, window_bytes

pytestmark = [pytest.mark.kube, pytest.mark.kube_real]

INTERVAL_MS = 1000
RECORD_SIZE = 4000  # a few KB: framing is about 1% of what BytesIn counts (as in tests/test_run_metrics.py)
LISTEN = "0A"  # the TCP state of a listening socket in /proc/<pid>/net/tcp*


def _spec(prefix: list[str]):
    return parse_spec({
        "name": "kube-metrics", "platform": "kubernetes",
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192,
                    # within the node's 2 CPUs, shared with the machine; the sampler runs in the broker's share
                    "kubernetes": {"broker_cpu": "800m", "controller_cpu": "250m", "producer_cpu": "300m",
                                   "storage": "ephemeral", "storage_size": "1Gi", "controller_storage_size": "1Gi",
                                   "schedule_timeout_s": 120, "kafka_calls_via": prefix}},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"tool": "kafkalab", "instances": 1, "num_records": 2000, "record_size": RECORD_SIZE,
                     "throughput": 250, "heap_mb": 128, "reporting_interval_ms": INTERVAL_MS,
                     "props": {"acks": "1"}, "timeout_s": 300},  # 1 MB/s for 8 s
        "load": {"warmup_s": 1.0},
    })


def _node_processes(node) -> list[psutil.Process]:
    """Processes in the node's pods (their cgroups are under kubelet's cgroupRoot)."""
    found = []
    for process in psutil.process_iter():
        try:
            if f"{node.cgroups.root}/kubepods" in Path(f"/proc/{process.pid}/cgroup").read_text():
                found.append(process)
        except OSError:
            continue
    return found


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _samplers(node) -> list[str]:
    return [" ".join(c) for p in _node_processes(node) if "dev.kafkalab.loadgen.Main" in (c := _cmdline(p))
            and "jmx" in c]


@pytest.fixture(scope="module")
def bed(kube_real_testbed, kafka_dist, results_db_url, tmp_path_factory):
    """The 1-broker cluster on the real node, and a results store."""
    plane = kube_real_testbed
    (node,) = plane.real_nodes
    spec = _spec(node.command_prefix())
    cluster = KubernetesCluster(kafka_dist, tmp_path_factory.mktemp("kube-metrics") / "run", BrokerSettings(),
                                spec.cluster.kubernetes, name="metrics", heap_mb=256, controller_heap_mb=192,
                                api=plane.api_client(), kafka=PrefixedKafka(node.command_prefix()))
    with fresh_database(results_db_url, "test_kube_real_metrics") as url, Store(url) as store:
        cluster.deploy(1, 1)
        try:
            cluster.wait_ready(timeout_s=300)
            yield {"cluster": cluster, "node": node, "store": store, "spec": spec}
        finally:
            cluster.stop()


def _run(bed, topic: str, *, during=None) -> dict:
    """One run as run_once makes it (metrics sampled around the producer), stored; waits (bounded)
    until the sampler's JVM has left the pod."""
    cluster, spec, node = bed["cluster"], bed["spec"], bed["node"]
    topic = cluster.create_topic(spec.topic, topic)
    record = steps.new_run_record(spec, cluster, 1, topic)
    progress: list[str] = []
    helper = threading.Thread(target=during, daemon=True) if during else None
    with steps.run_metrics(spec, cluster, record, on_progress=progress.append):
        if helper is not None:
            helper.start()
        record.producers, record.consumers = steps.producer_fanout(spec, cluster, topic)
    if helper is not None:
        helper.join(timeout=60)
    record.figures = run_figures(record.producers, record.consumers,
                                 target_per_instance=spec.producer.target_records_per_sec, warmup_s=spec.load.warmup_s)
    run_id = bed["store"].save_run(record)
    deadline = time.monotonic() + 30  # the exec'd JVM ends once its stdin is closed
    while _samplers(node) and time.monotonic() < deadline:
        time.sleep(0.5)
    return {**bed, "run_id": run_id, "record": record, "progress": progress, "samplers_left": _samplers(node)}


@pytest.fixture(scope="module")
def kube_metrics(bed):
    return _run(bed, "kube-metrics-t")


def _series(store: Store, run_id: int, metric: str) -> list[tuple]:
    _, rows = store.query(f"SELECT at, value FROM v_broker_metrics WHERE run_id = {run_id} "
                          f"AND source = 'broker-0' AND metric = '{metric}' ORDER BY at")
    return rows


def test_a_run_on_real_pods_stores_broker_series_for_every_interval(kube_metrics):
    record, store, run_id = kube_metrics["record"], kube_metrics["store"], kube_metrics["run_id"]
    assert [p.status for p in record.producers] == ["ok"], [p.error for p in record.producers]
    assert not [line for line in kube_metrics["progress"] if line.startswith("WARNING")], kube_metrics["progress"]
    assert record.metrics.missing == []
    _, sources = store.query(f"SELECT DISTINCT source, broker FROM v_broker_metrics WHERE run_id = {run_id}")
    assert sources == [("broker-0", 0)]  # the one broker pod
    load_start = min(at(p.intervals[0].start_ms) for p in record.producers)
    load_end = max(at(p.intervals[-1].end_ms) for p in record.producers)
    interval = timedelta(milliseconds=INTERVAL_MS)
    for metric in BROKER_METRICS:
        rows = _series(store, run_id, metric)
        times = [at for at, _ in rows]
        assert times[0] <= load_start + 2 * interval and times[-1] >= load_end - 2 * interval, metric
        assert max(b - a for a, b in pairwise(times)) < 2 * interval, metric
        assert any(value is not None for _, value in rows), metric  # Kafka has every metric, also on a pod
    for metric in (n.BYTES_IN, n.MESSAGES_IN, n.REQUEST_HANDLER_IDLE, n.BROKER_PROCESS_CPU, n.request_p99("produce")):
        assert all(value is not None for _, value in _series(store, run_id, metric)), metric
    assert max(v for _, v in _series(store, run_id, n.BYTES_IN)) > 0.5 * 250 * RECORD_SIZE  # the load shows


def test_the_pods_bytes_in_agree_with_the_bytes_the_generator_acknowledged(kube_metrics):
    record, store, run_id = kube_metrics["record"], kube_metrics["store"], kube_metrics["run_id"]
    spans, broker_bytes, acknowledged = window_bytes(_series(store, run_id, n.BYTES_IN), record)
    assert spans >= 4
    print(f"BytesIn {broker_bytes:,.0f} B / acknowledged {acknowledged:,.0f} B = {broker_bytes / acknowledged:.3f}")
    assert broker_bytes == pytest.approx(acknowledged, rel=0.10)  # the local test's tolerance


def test_the_sampler_leaves_no_process_in_the_pod(kube_metrics):
    assert kube_metrics["samplers_left"] == []
    logs = sorted(kube_metrics["cluster"].run_dir.glob("**/metrics-jmx-kafka-broker-0.log"))
    assert logs and "kafkalab-jmx-ready" in logs[0].read_text()  # it ran in the pod, and only there


def _listeners(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket in the network namespace of process `pid`."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != LISTEN:
                continue
            address, port = local.split(":")
            # hex of 32-bit words in host (little-endian) order; IPv4-mapped IPv6 counts as its IPv4
            raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
            ip = ipaddress.ip_address(raw)
            mapped = getattr(ip, "ipv4_mapped", None)
            found.add((str(mapped or ip), int(port, 16)))
    return found


def _broker_jvm(node) -> psutil.Process:
    (broker,) = [p for p in _node_processes(node) if "LoopbackJmx" in (c := _cmdline(p)) and "kafka.Kafka" in c]
    return broker


def test_broker_jmx_listens_on_the_pods_loopback_only(kube_metrics):
    node, cluster = kube_metrics["node"], kube_metrics["cluster"]
    listeners = _listeners(_broker_jvm(node).pid)  # the pod's network namespace, seen from the host
    assert ("127.0.0.1", m.JMX_PORT) in listeners, listeners
    assert {ip for ip, port in listeners if port != m.BROKER_PORT} == {"127.0.0.1"}, listeners  # nothing else open
    # From the node's network, where the flow's Kafka calls go: the broker port answers, JMX does not.
    core = k8s.CoreV1Api(cluster.api)
    pod_ip = core.read_namespaced_pod("kafka-broker-0", cluster.namespace).status.pod_ip
    probe = ("import socket,sys\nfor port in sys.argv[2:]:\n"
             "    s = socket.socket(); s.settimeout(3)\n"
             "    print(port, s.connect_ex((sys.argv[1], int(port))))\n")
    out = subprocess.run([*node.command_prefix(), sys.executable, "-c", probe, pod_ip, str(m.BROKER_PORT),
                          str(m.JMX_PORT)], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    answers = dict(zip(out[0::2], out[1::2], strict=True))
    assert answers[str(m.BROKER_PORT)] == "0" and answers[str(m.JMX_PORT)] != "0", answers


def test_a_broker_pod_whose_jmx_does_not_answer_leaves_its_samples_missing_and_the_run_goes_on(bed):
    """The broker JVM in its pod is paused (SIGSTOP from the host) for 5 s mid-run: its JMX does
    not answer meanwhile, then it is back; the sampler inside the pod says so, as locally."""
    broker = _broker_jvm(bed["node"])
    paused: list[datetime] = []
    sampler_rss: list[int] = []

    def pause() -> None:
        time.sleep(3)
        sampler_rss.extend(p.memory_info().rss for p in _node_processes(bed["node"])
                           if "dev.kafkalab.loadgen.Main" in (c := _cmdline(p)) and "jmx" in c)
        broker.send_signal(signal.SIGSTOP)
        paused.append(datetime.now(UTC))
        try:
            time.sleep(5)
        finally:
            broker.send_signal(signal.SIGCONT)
            paused.append(datetime.now(UTC))

    run = _run(bed, "kube-metrics-stall", during=pause)
    print(f"sampler JVM RSS in the broker pod: {[rss // 2**20 for rss in sampler_rss]} MB")
    record, store, run_id, progress = run["record"], run["store"], run["run_id"], run["progress"]
    assert [p.status for p in record.producers] == ["ok"], [p.error for p in record.producers]
    assert len(paused) == 2 and len(sampler_rss) == 1
    warnings = [line for line in progress if line.startswith("WARNING broker-0: JMX did not answer")]
    assert len(warnings) == 1 and "the run goes on" in warnings[0], progress
    assert "broker-0: JMX answers again" in progress
    rows = _series(store, run_id, n.BYTES_IN)
    during = [value for at, value in rows if paused[0] + timedelta(seconds=3) < at < paused[1]]
    assert during and all(value is None for value in during)  # stored as missing, never as zero
    assert [value for at, value in rows if at > paused[1] + timedelta(seconds=2)][-1] is not None  # back again
    _, reasons = store.query(f"SELECT reason FROM v_metrics_missing WHERE run_id = {run_id}")
    assert len(reasons) == 1 and reasons[0][0].startswith("broker-0: JMX did not answer for "), reasons
    assert run["samplers_left"] == []


def test_a_sampler_that_cannot_start_in_its_pod_is_a_warning_and_no_hang(bed, tmp_path):
    """A broker pod that is not there (exec refused): a warning and a missing line, at once."""
    cluster = bed["cluster"]
    target = MetricsTarget("broker-jmx", "broker-7", f"127.0.0.1:{m.JMX_PORT}", inside="kafka-broker-7")
    progress: list[str] = []
    sampler = BrokerJmxSampler(cluster.dist, [target], 1.0, tmp_path / "metrics-jmx.log", progress.append,
                               run_inside=cluster.run_loadgen_inside)
    started = time.monotonic()
    sampler.start()
    sampler.stop()
    assert time.monotonic() - started < 20
    assert any(line.startswith("WARNING a broker JMX sampler ended as it started") for line in progress), progress
    missing = sampler.missing()
    assert "broker-7: no JMX samples (the sampler stopped before its first interval)" in missing
    assert any(line.startswith("broker JMX sampler exited with code -1") for line in missing), missing
    assert "exec failed" in (tmp_path / "metrics-jmx-kafka-broker-7.log").read_text()
