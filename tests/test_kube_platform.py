"""The Kubernetes platform (kafkalab/platforms/kubernetes).

Pure tests build the manifests and pick results from pod objects (no server). The tests
marked `kube` run against the real control plane of the `kube_testbed` fixture
(kube-apiserver, controller-manager, scheduler, etcd, kwok fake nodes): every manifest is
validated by the API server, StatefulSets and Jobs are driven by the real controllers and
placed by the real scheduler. No Kafka runs on fake nodes, so the Kafka-level steps go
through the platform's seam, answered from the pod list, and the perf pods are fed real
tool output captured from a local run (tests/data/kube/).
"""

from __future__ import annotations

import secrets as _secrets
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kafkalab import platforms
from kafkalab.core.errors import ClusterError, SpecError
from kafkalab.experiment import steps
from kafkalab.kafka import admin, perftools
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.loadgen import BARRIER_LINE
from kafkalab.load.runner import ConsumerLoad, ProducerLoad
from kafkalab.platforms import check_spec
from kafkalab.platforms.kubernetes import KafkaLevel, KubernetesCluster, jobs
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.jobs import SchedulingError
from kafkalab.spec import KubernetesSpec, parse_spec

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "kube"
SERIALIZE = k8s.ApiClient().sanitize_for_serialization


def _layout(controllers: int = 1) -> m.Layout:
    return m.Layout(namespace="kafkalab-test-ab12", cluster_label="ab12", kafka_cluster_id="MkU3OEVBNTcwNTJENDM2Qk",
                    image="apache/kafka:4.4.0", controllers=controllers)


def _load(**kw) -> ProducerLoad:
    return ProducerLoad(**{"topic": "performancetest", "num_records": 30000, "record_size": 250, "throughput": -1,
                           "props": {"acks": "1", "batch.size": "8196"}, "heap_mb": 192, **kw})


# --- manifests ---------------------------------------------------------------------------------


def test_broker_stateful_set_node_ids_settings_and_resources():
    layout = _layout(controllers=3)
    res = m.NodeResources(cpu="2", memory="1Gi", heap_mb=512, storage_class="fast", storage_size="5Gi")
    sts = SERIALIZE(m.node_stateful_set(layout, "broker", 3, res))
    spec = sts["spec"]
    assert spec["replicas"] == 3 and spec["serviceName"] == "kafka-broker"
    assert spec["podManagementPolicy"] == "Parallel"
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "apache/kafka:4.4.0"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KAFKALAB_NODE_ID_BASE"] == "0" and env["KAFKALAB_ROLE"] == "broker"
    assert env["KAFKA_HEAP_OPTS"] == "-Xms512m -Xmx512m"
    assert 'node_id=$((KAFKALAB_NODE_ID_BASE + ordinal))' in container["command"][2]
    assert container["resources"] == {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"] == {"storage": "5Gi"}
    assert spec["selector"]["matchLabels"] == {
        m.MANAGED_BY: "kafkalab", m.CLUSTER_LABEL: "ab12", m.ROLE_LABEL: "broker",
        "app.kubernetes.io/name": "kafka", "app.kubernetes.io/component": "broker"}
    controllers = SERIALIZE(m.node_stateful_set(layout, "controller", 3, res))
    env = {e["name"]: e.get("value") for e in controllers["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKALAB_NODE_ID_BASE"] == "1000"


def test_ephemeral_storage_is_an_empty_dir():
    res = m.NodeResources(cpu="1", memory="1Gi", heap_mb=256, storage="ephemeral", storage_size="2Gi")
    sts = SERIALIZE(m.node_stateful_set(_layout(), "broker", 1, res))
    assert "volumeClaimTemplates" not in sts["spec"]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["emptyDir"] == {"sizeLimit": "2Gi"}


def test_quorum_and_bootstrap_from_headless_service_names():
    layout = _layout(controllers=3)
    assert layout.quorum_voters == ",".join(
        f"{1000 + i}@kafka-controller-{i}.kafka-controller.kafkalab-test-ab12.svc:9093" for i in range(3))
    assert layout.bootstrap_servers([0, 1]) == (
        "kafka-broker-0.kafka-broker.kafkalab-test-ab12.svc:9092,kafka-broker-1.kafka-broker.kafkalab-test-ab12.svc:9092")
    svc = SERIALIZE(m.headless_service(layout, "controller"))
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True


def test_broker_properties_use_the_local_mapping():
    settings = BrokerSettings(applied={"num.io.threads": "8", "num.network.threads": "3"})
    props = m.node_properties(_layout(), "broker", settings.applied, settings.defaults_for(2))
    assert props["num.io.threads"] == "8"
    assert props["offsets.topic.replication.factor"] == "2"  # the same defaults as a local cluster of 2
    assert props["process.roles"] == "broker" and props["listeners"] == "PLAINTEXT://:9092"
    assert "node.id" not in props and "advertised.listeners" not in props  # per pod, from the ordinal
    text = SERIALIZE(m.config_map(_layout(), props, m.node_properties(_layout(), "controller")))["data"]
    assert "num.io.threads=8\n" in text["broker.properties"]
    assert "process.roles=controller\n" in text["controller.properties"]


@pytest.mark.parametrize("spread", ["one-per-node", "spread", "any"])
def test_producer_job_spread_policies(spread):
    job = SERIALIZE(m.producer_job(
        _layout(), name="producers-pt-1a2b", secret="producers-pt-1a2b-client", load=_load(), instances=4, spread=spread,
        pod=m.PerfPod(cpu="1", memory="512Mi", heap_mb=192), client_prefix="kafkalab-performancetest-producer",
        index_retries=1, deadline_s=300,
    ))
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 4
    assert spec["backoffLimitPerIndex"] == 1 and "backoffLimit" not in spec
    pod = spec["template"]["spec"]
    selector = {"matchLabels": {m.CLUSTER_LABEL: "ab12", m.PERF_JOB_LABEL: "producers-pt-1a2b"}}
    if spread == "one-per-node":
        (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term == {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}
        assert "topologySpreadConstraints" not in pod
    elif spread == "spread":
        (rule,) = pod["topologySpreadConstraints"]
        assert rule == {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": selector}
        assert "affinity" not in pod
    else:
        assert "affinity" not in pod and "topologySpreadConstraints" not in pod
    assert spec["template"]["metadata"]["labels"][m.PERF_JOB_LABEL] == "producers-pt-1a2b"


def test_producer_job_runs_the_perftools_arguments_with_props_in_a_secret():
    load = _load()
    job = SERIALIZE(m.producer_job(
        _layout(), name="p", secret="p-client", load=load, instances=2, spread="any",
        pod=m.PerfPod(cpu="1", memory="512Mi", heap_mb=192), client_prefix="kafkalab-x-producer"))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    expected = perftools.producer_args(topic=load.topic, num_records=30000, record_size=250, throughput=-1,
                                       config_file=Path(m.CLIENT_CONFIG_FILE), reporting_interval_ms=5000)
    assert container["command"][:2] == ["/bin/sh", "-c"] and container["command"][4:] == expected
    assert "> /dev/termination-log" in container["command"][2]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["KAFKALAB_TOOL"] == "/opt/kafka/bin/kafka-producer-perf-test.sh"
    assert env["KAFKALAB_CLIENT_PREFIX"] == "kafkalab-x-producer"
    line = " ".join(container["command"][3:])
    assert "acks" not in line and "bootstrap" not in line and "8196" not in line  # settings only in the Secret
    volume, start = job["spec"]["template"]["spec"]["volumes"]
    assert volume["secret"]["secretName"] == "p-client"
    assert start["downwardAPI"]["items"] == [{"path": "go", "fieldRef": {
        "fieldPath": "metadata.annotations['kafkalab.io/start']"}}]  # the start gate (gate.py)
    assert {"name": "start", "mountPath": m.START_DIR, "readOnly": True} in container["volumeMounts"]
    assert env["KAFKALAB_TOOL_READS_GO"] == "0"  # ProducerPerformance starts after "go"
    secret = SERIALIZE(m.client_secret(_layout(), "p-client", {**load.props, "bootstrap.servers": "b:9092"}, {}))
    assert secret["stringData"]["client.properties"] == "acks=1\nbatch.size=8196\nbootstrap.servers=b:9092\n"


def test_consumer_job_is_one_pod():
    load = ConsumerLoad(topic="t", num_records=1000, timeout_ms=10000, props={"fetch.min.bytes": "1"})
    job = SERIALIZE(m.consumer_job(_layout(), name="c", secret="c-client", load=load, bootstrap="b:9092", group="g",
                                   pod=m.PerfPod(cpu="1", memory="512Mi", heap_mb=192)))
    assert job["spec"]["completions"] == 1 and job["spec"]["completionMode"] == "NonIndexed"
    assert job["spec"]["backoffLimit"] == 0
    assert "--bootstrap-server" in job["spec"]["template"]["spec"]["containers"][0]["command"]


def test_dns_label():
    assert m.dns_label("Guide Baseline_2") == "guide-baseline-2"
    assert m.dns_label("x" * 80, 40) == "x" * 40
    assert m.dns_label("---") == "x"


# --- result picking ----------------------------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _pod(name: str, index: int | None, phase: str, *, message: str | None = None, exit_code: int | None = None,
         finished: int = 0, node: str | None = "node-0", condition: k8s.V1PodCondition | None = None) -> k8s.V1Pod:
    state = None
    if exit_code is not None:
        state = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(
            exit_code=exit_code, message=message, started_at=T0, finished_at=T0 + timedelta(seconds=finished)))
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, uid=name, creation_timestamp=T0,
                                  annotations={m.COMPLETION_INDEX_ANNOTATION: str(index)} if index is not None else {}),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="perf")], node_name=node),
        status=k8s.V1PodStatus(phase=phase, conditions=[condition] if condition else None, container_statuses=[
            k8s.V1ContainerStatus(name="perf", image="i", image_id="", ready=False, restart_count=0, state=state)]),
    )


SUMMARY = ("30000 records sent, 19920.318725 records/sec (4.75 MB/sec), 301.51 ms avg latency, 640.00 ms max latency, "
           "286 ms 50th, 590 ms 95th, 627 ms 99th, 638 ms 99.9th.")


def test_the_succeeded_pod_of_an_index_counts():
    failed = _pod("p-1-aaaaa", 1, "Failed", exit_code=1, message="java.lang.OutOfMemoryError", finished=1)
    ok = _pod("p-1-bbbbb", 1, "Succeeded", exit_code=0, message=SUMMARY, finished=5)
    late_failure = _pod("p-1-ccccc", 1, "Failed", exit_code=137, finished=9)
    only = _pod("p-0-ddddd", 0, "Succeeded", exit_code=0, message=SUMMARY, finished=3)
    picked = jobs.pick_pods([failed, ok, late_failure, only], completions=3)
    assert picked[0] is only and picked[1] is ok and picked[2] is None
    outcome = jobs.producer_outcome(1, picked[1], client_id="c-1", load=_load(), read_log=lambda pod: None)
    assert outcome.status == "ok" and outcome.exit_code == 0
    assert outcome.output.summary.records == 30000 and outcome.output.summary.p999_ms == 638
    missing = jobs.producer_outcome(2, picked[2], client_id="c-2", load=_load(), read_log=lambda pod: None)
    assert missing.status == "failed" and missing.error == "no pod ran for this instance"
    assert jobs.pick_pods([failed], completions=2)[1] is failed  # no success: the latest attempt


def test_the_log_gives_the_windows_and_stands_in_for_a_missing_message():
    log = "5000 records sent, 1000.0 records/sec (0.24 MB/sec), 2.0 ms avg latency, 9.0 ms max latency.\n" + SUMMARY + "\n"
    with_message = _pod("p-0-a", 0, "Succeeded", exit_code=0, message=SUMMARY)
    outcome = jobs.producer_outcome(0, with_message, client_id="c", load=_load(), read_log=lambda pod: log)
    assert outcome.raw_output == log and len(outcome.output.windows) == 1 and outcome.output.summary.records == 30000
    no_message = _pod("p-0-b", 0, "Succeeded", exit_code=0, message=None)
    outcome = jobs.producer_outcome(0, no_message, client_id="c", load=_load(), read_log=lambda pod: log)
    assert outcome.status == "ok" and outcome.output.summary.records_per_sec == pytest.approx(19920.318725)
    short = _pod("p-0-c", 0, "Succeeded", exit_code=0, message=SUMMARY.replace("30000 records", "100 records"))
    outcome = jobs.producer_outcome(0, short, client_id="c", load=_load(), read_log=lambda pod: None)
    assert outcome.status == "failed" and outcome.error.startswith("acknowledged 100 of 30000 records")


def test_a_failed_container_reports_its_exit_code_and_error_line():
    pod = _pod("p-0-a", 0, "Failed", exit_code=1,
               message="[2025-01-01] ERROR org.apache.kafka.common.errors.TimeoutException: Topic t not present")
    outcome = jobs.producer_outcome(0, pod, client_id="c", load=_load(), read_log=lambda pod: None)
    assert outcome.status == "failed"
    assert outcome.error == "exited with code 1: [2025-01-01] ERROR org.apache.kafka.common.errors.TimeoutException: Topic t not present"


def test_unscheduled_reason_quotes_the_scheduler():
    cond = k8s.V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable",
                              message="0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.\n")
    assert jobs.unscheduled_reason(_pod("p", 3, "Pending", node=None, condition=cond)) == (
        "Unschedulable: 0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
    assert jobs.unscheduled_reason(_pod("p", 0, "Running")) is None


def test_one_per_node_met_only_one_after_the_other_is_flagged():
    first = _pod("p-0-a", 0, "Succeeded", node="node-1", condition=k8s.V1PodCondition(
        type="PodScheduled", status="True", last_transition_time=T0))
    later = _pod("p-3-b", 3, "Succeeded", node="node-1", condition=k8s.V1PodCondition(
        type="PodScheduled", status="True", last_transition_time=T0 + timedelta(seconds=4)))
    alone = _pod("p-1-c", 1, "Succeeded", node="node-2")
    assert jobs.shared_nodes({0: first, 1: alone, 3: later}) == {
        3: "ran on node-1 after instance 0 had run there: one-per-node wants a node per instance at the same time "
           "(more instances than free nodes?)"}
    assert jobs.shared_nodes({0: first, 1: alone}) == {}


def test_a_container_that_cannot_start_is_stuck():
    pod = _pod("p", 0, "Pending")
    pod.spec.containers[0].image = "apache/kafka:9.9.9"
    pod.status.container_statuses[0].state = k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(
        reason="ImagePullBackOff", message='Back-off pulling image "apache/kafka:9.9.9"'))
    assert jobs.stuck_reason(pod) == ('image apache/kafka:9.9.9 cannot be pulled on node node-0 (ImagePullBackOff: '
                                      'Back-off pulling image "apache/kafka:9.9.9"): check cluster.kubernetes.image')
    assert not jobs.hopeless(pod)  # a registry may answer on the next try
    assert jobs.stuck_reason(_pod("p", 0, "Running")) is None
    crash = _pod("p", 0, "Running")
    crash.status.container_statuses[0].state = k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(
        reason="CrashLoopBackOff", message="back-off 10s restarting failed container"))
    assert jobs.stuck_reason(crash) == "CrashLoopBackOff: back-off 10s restarting failed container"


def test_an_image_missing_on_the_node_is_one_line_naming_it_and_make_kube_images():
    pod = _pod("kafka-broker-0", None, "Pending", node="node-1")
    pod.spec.containers[0].image = "kafkalab.local/kafka:4.4.0"
    pod.status.container_statuses[0].state = k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(
        reason="ErrImageNeverPull",
        message='Container image "kafkalab.local/kafka:4.4.0" is not present with pull policy of Never'))
    reason = jobs.stuck_reason(pod)
    assert reason == ("image kafkalab.local/kafka:4.4.0 is not on node node-1 (ErrImageNeverPull): build and import "
                      "it with `make kube-images` (the test bed), or build it from docker/ and push it where the "
                      "nodes pull from")
    assert jobs.hopeless(pod)  # pull policy Never: no wait helps


def test_consumer_outcome_from_the_termination_message():
    message = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, "
               "fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"
               "2025-01-01 10:00:00:000, 2025-01-01 10:00:02:000, 21.4577, 10.7288, 90000, 45000.0, 300, 1700, 12.6222, 52941.1765\n")
    load = ConsumerLoad(topic="t", num_records=90000, timeout_ms=10000, props={})
    outcome = jobs.consumer_outcome(_pod("c-x", None, "Succeeded", exit_code=0, message=message), load=load,
                                    read_log=lambda pod: None)
    assert outcome.status == "ok" and outcome.summary.messages == 90000


# --- spec ---------------------------------------------------------------------------------------


def test_spec_kubernetes_section_defaults_and_errors():
    spec = parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 10, "spread": "one-per-node"}})
    assert spec.cluster.kubernetes == KubernetesSpec()
    assert spec.cluster.kubernetes.schedule_timeout_s == 120 and spec.producer.spread == "one-per-node"
    cases = [({"cluster": {"kubernetes": {"broker_cpu": "two"}}}, "cluster.kubernetes.broker_cpu"),
             ({"cluster": {"kubernetes": {"storage_class": "Fast_SSD"}}}, "cluster.kubernetes.storage_class"),
             ({"cluster": {"kubernetes": {"broker_memory": "256Mi"}}}, "cluster.kubernetes.broker_memory"),
             ({"producer": {"num_records": 1, "spread": "hostname"}}, "producer.spread"),
             ({"platform": "mesos"}, "platform")]
    for extra, field in cases:
        data = {"name": "k", "producer": {"num_records": 1}, **extra}
        with pytest.raises(Exception) as info:
            parse_spec(data)
        message = str(info.value)
        assert f": {field}:" in message and "\n" not in message, message
    # What the platform does not offer yet: refused by the platform's check, before anything starts
    sasl = parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 1},
                       "consumer": {"timing": "after"}, "cluster": {"security": {"protocol": "SASL_PLAINTEXT"}}})
    with pytest.raises(SpecError, match=r"^spec: cluster.security.protocol: platform kubernetes offers only PLAINTEXT"):
        check_spec(sasl)


# --- against the real control plane -------------------------------------------------------------



class PodListKafka(KafkaLevel):
    """The Kafka-level seam on fake nodes, where no Kafka runs: a broker is registered when its
    pod is Ready; topic, smoke-test and reassignment calls are recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def registered_brokers(self, cluster):
        pods = cluster.core.list_namespaced_pod(cluster.namespace, label_selector=f"{m.ROLE_LABEL}=broker").items
        return [admin.BrokerInfo(int(p.metadata.name.rsplit("-", 1)[1]), f"{p.metadata.name}.kafka-broker", 9092)
                for p in pods
                if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]

    def create_topic(self, cluster, name, *, partitions, replication_factor, config):
        self.calls.append(("create_topic", name, partitions, replication_factor))

    def smoke_test(self, cluster, *, replication_factor):
        self.calls.append(("smoke_test", replication_factor))
        return "smoke"

    def delete_user_topics(self, cluster):
        self.calls.append(("delete_user_topics",))
        return []

    def reassign(self, cluster, timeout_s):
        self.calls.append(("reassign", tuple(cluster.broker_ids)))
        return {}


def _kube_spec(**over) -> object:
    data = {
        "name": "kube-test", "platform": "kubernetes",
        "cluster": {"brokers": 3, "heap_mb": 256, "controller_heap_mb": 128,
                    "broker_config": {"num.io.threads": 8, "num_network_threads": 3},
                    "kubernetes": {"storage": "ephemeral", "schedule_timeout_s": 30}},
        "topic": {"name": "performancetest", "partitions": 3, "replication_factor": 3},
        "producer": {"tool": "kafka-perf", "instances": 3, "num_records": 30000, "record_size": 250,
                     "throughput": -1, "heap_mb": 192, "spread": "one-per-node", "props": {"acks": 1}},
        "consumer": {"tool": "kafka-perf", "heap_mb": 192, "num_records": 90000},
    }
    for path, value in over.items():
        node = data
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return parse_spec(data)


def _summary_line(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if " ms 99.9th." in line)


def _gone(read) -> bool:
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False


def _static_volumes(api, storage_class: str, count: int) -> list[str]:
    """PersistentVolumes for the StatefulSets' claims (no provisioner on fake nodes): the real PV
    controller binds the claims to them, the real scheduler then places the pods."""
    core = k8s.CoreV1Api(api)
    names = []
    for i in range(count):
        name = f"{storage_class}-{i}"
        core.create_persistent_volume(k8s.V1PersistentVolume(
            metadata=k8s.V1ObjectMeta(name=name),
            spec=k8s.V1PersistentVolumeSpec(
                capacity={"storage": "1Gi"}, access_modes=["ReadWriteOnce"], storage_class_name=storage_class,
                persistent_volume_reclaim_policy="Retain", host_path=k8s.V1HostPathVolumeSource(path=f"/tmp/{name}"))))
        names.append(name)
    return names


@pytest.mark.kube
def test_deploy_scale_and_teardown_on_a_real_control_plane(kube_testbed, kafka_dist, tmp_path, monkeypatch):
    api = kube_testbed.api_client()
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    storage_class = f"kafkalab-static-{_secrets.token_hex(3)}"
    volumes = _static_volumes(api, storage_class, 1 + 6)  # a controller and up to 6 brokers
    spec = _kube_spec(cluster__kubernetes={"storage": "persistent", "storage_class": storage_class,
                                           "storage_size": "1Gi", "controller_storage_size": "1Gi"})
    progress: list[str] = []
    try:
        monkeypatch.setenv("KUBECONFIG", str(kube_testbed.kubeconfig))  # the flow's way to find the cluster
        cluster = platforms.deploy(spec, kafka_dist, tmp_path / "run", on_progress=progress.append)
        assert isinstance(cluster, KubernetesCluster) and cluster.platform == "kubernetes"
        cluster.kafka = PodListKafka()
        ns = cluster.namespace
        try:
            namespace = core.read_namespace(ns)
            assert namespace.metadata.labels[m.MANAGED_BY] == "kafkalab"
            assert namespace.metadata.labels[m.CLUSTER_LABEL] == cluster.cluster_label
            started = time.monotonic()
            ready = cluster.wait_ready(timeout_s=180)
            assert [b.node_id for b in ready] == [0, 1, 2]
            progress.append(f"ready after {time.monotonic() - started:.1f}s")
            for role, replicas in (("controller", 1), ("broker", 3)):
                sts = apps.read_namespaced_stateful_set(f"kafka-{role}", ns)
                assert sts.status.ready_replicas == replicas
                svc = core.read_namespaced_service(f"kafka-{role}", ns)
                assert svc.spec.cluster_ip == "None"
            claims = core.list_namespaced_persistent_volume_claim(ns).items
            assert sorted(c.metadata.name for c in claims) == [
                "data-kafka-broker-0", "data-kafka-broker-1", "data-kafka-broker-2", "data-kafka-controller-0"]
            assert {c.status.phase for c in claims} == {"Bound"}
            config = core.read_namespaced_config_map("kafka-config", ns).data["broker.properties"]
            assert "num.io.threads=8\n" in config and "num.network.threads=3\n" in config
            assert cluster.bootstrap_servers.split(",")[0] == f"kafka-broker-0.kafka-broker.{ns}.svc:9092"

            cluster.create_topic(spec.topic, "performancetest")
            cluster.smoke_test()
            assert cluster.kafka.calls == [("create_topic", "performancetest", 3, 3), ("smoke_test", 3)]

            assert steps.scale_up(cluster, 6, on_progress=progress.append) == [3, 4, 5]
            assert [b.node_id for b in cluster.wait_ready([3, 4, 5], timeout_s=180)] == [3, 4, 5]
            assert apps.read_namespaced_stateful_set("kafka-broker", ns).status.ready_replicas == 6
            assert cluster.bootstrap_servers.count(",") == 5
            assert "offsets.topic.replication.factor=3\n" in core.read_namespaced_config_map("kafka-config", ns).data[
                "broker.properties"]
            cluster.reassign(60)
            assert cluster.kafka.calls[-1] == ("reassign", (0, 1, 2, 3, 4, 5))

            assert cluster.scale_down(3, on_progress=progress.append) == [3, 4, 5]
            assert cluster.kafka.calls[-1] == ("delete_user_topics",)
            deadline = time.monotonic() + 30
            while apps.read_namespaced_stateful_set("kafka-broker", ns).status.ready_replicas != 3:
                assert time.monotonic() < deadline, "broker StatefulSet status never showed 3 ready"
                time.sleep(0.2)
            names = sorted(p.metadata.name for p in core.list_namespaced_pod(ns, label_selector=f"{m.ROLE_LABEL}=broker").items)
            assert names == ["kafka-broker-0", "kafka-broker-1", "kafka-broker-2"]
            assert cluster.broker_ids == [0, 1, 2]
        finally:
            cluster.stop()
        assert _gone(lambda: core.read_namespace(ns))
    finally:
        for name in volumes:
            core.delete_persistent_volume(name)


@pytest.fixture(scope="module")
def runner_api(kube_testbed):
    """An ApiClient with the token of deployments/kubernetes/rbac.yaml's service account, applied for
    real: the perf-test cluster below runs with no more rights than a flow run would have."""
    from kubernetes import config as k8s_config
    from kubernetes import utils

    admin_api = kube_testbed.api_client()
    core = k8s.CoreV1Api(admin_api)
    if _gone(lambda: core.read_namespaced_service_account("kafkalab-runner", "kafkalab")):
        utils.create_from_yaml(admin_api, str(REPO / "deployments" / "kubernetes" / "rbac.yaml"))
    token = core.create_namespaced_service_account_token(
        "kafkalab-runner", "kafkalab", k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))).status.token
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kube_testbed.kubeconfig), client_configuration=configuration)
    configuration.cert_file = configuration.key_file = None
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return k8s.ApiClient(configuration)


@pytest.mark.kube
def test_rbac_is_least_privilege(kube_testbed, runner_api):
    api = kube_testbed.api_client()
    authz = k8s.AuthorizationV1Api(api)

    def allowed(verb, resource, group="", namespace="kafkalab-x", subresource=None):
        review = k8s.V1SubjectAccessReview(spec=k8s.V1SubjectAccessReviewSpec(
            user="system:serviceaccount:kafkalab:kafkalab-runner",
            groups=["system:serviceaccounts", "system:serviceaccounts:kafkalab", "system:authenticated"],
            resource_attributes=k8s.V1ResourceAttributes(verb=verb, resource=resource, group=group, namespace=namespace,
                                                         subresource=subresource)))
        return authz.create_subject_access_review(review).status.allowed

    assert allowed("create", "namespaces", namespace=None) and allowed("delete", "namespaces", namespace=None)
    assert allowed("patch", "statefulsets", "apps") and allowed("create", "jobs", "batch")
    assert allowed("get", "pods", subresource="log") and allowed("list", "events") and allowed("create", "secrets")
    assert allowed("patch", "pods") and allowed("delete", "pods")  # the start gate's "go"; broker faults
    assert not allowed("create", "pods", subresource="attach") and not allowed("create", "serviceaccounts")
    assert not allowed("create", "roles", "rbac.authorization.k8s.io")
    assert not allowed("get", "secrets") and not allowed("list", "secrets")
    assert not allowed("delete", "nodes", namespace=None) and not allowed("create", "clusterroles",
                                                                           "rbac.authorization.k8s.io", namespace=None)
    assert allowed("create", "pods", subresource="exec")  # the broker JMX sampler, inside each broker pod
    assert not allowed("delete", "persistentvolumes", namespace=None)


@pytest.fixture(scope="module")
def perf_cluster(kube_testbed, runner_api, tmp_path_factory):
    """A 1-broker cluster deployed with the runner's service account, for the perf-test Jobs."""
    from kafkalab.kafka.broker_config import BrokerSettings as Settings

    spec = _kube_spec(cluster__brokers=1, topic__replication_factor=1)
    cluster = KubernetesCluster(None, tmp_path_factory.mktemp("kube-run"), Settings(), spec.cluster.kubernetes,
                                name="kube-perf", heap_mb=256, controller_heap_mb=128, api=runner_api,
                                kafka=PodListKafka())
    cluster.deploy(1, 1)
    try:
        cluster.wait_ready(timeout_s=180)
        yield cluster
    finally:
        cluster.stop()
        assert _gone(lambda: cluster.core.read_namespace(cluster.namespace))


def _at_barrier(path: Path, tmp: Path) -> Path:
    """The log a perf pod prints: the start barrier's line first (gate.py), then the tool's output."""
    out = tmp / f"barrier-{path.name}"
    out.write_text(f"{BARRIER_LINE}\n{path.read_text()}")
    return out


def _feed_producers(plane, cluster, topic: str, instances: int) -> list[Path]:
    files = [DATA / f"producer-{i % 3}.log" for i in range(instances)]
    for i, path in enumerate(files):
        plane.serve_logs(cluster.namespace, f"{KubernetesCluster.job_name('producers', topic)}-{i}-",
                         _at_barrier(path, cluster.run_dir), termination_message=_summary_line(path), exit_code=0)
    return files


@pytest.mark.kube
def test_three_producers_one_per_node_collect_real_tool_output(kube_testbed, perf_cluster):
    spec = _kube_spec()
    topic = "perf-3"
    files = _feed_producers(kube_testbed, perf_cluster, topic, 3)
    lines: list[tuple[str, str]] = []
    outcomes, _ = steps.producer_fanout(spec, perf_cluster, topic,
                                        on_line=lambda src, line: lines.append((src, line)))
    assert [o.instance for o in outcomes] == [0, 1, 2]
    for outcome, path in zip(outcomes, files):
        expected = perftools.parse_producer_output(path.read_text())
        assert outcome.status == "ok", outcome.error
        assert outcome.output.summary == expected.summary  # from the termination message
        assert outcome.output.windows == expected.windows  # from the raw pod log
        assert outcome.raw_output.splitlines() == path.read_text().splitlines()  # the log, read raw
        assert outcome.client_id == f"kafkalab-{topic}-producer-{outcome.instance}"
    assert sum(o.output.summary.records for o in outcomes) == 90000
    nodes = {pod.spec.node_name for pod in perf_cluster.jobs.last_result.pods.values()}
    assert len(nodes) == 3  # one per node
    assert (perf_cluster.run_dir / topic / "producer-1.log").read_text().splitlines() == files[1].read_text().splitlines()
    assert ("producer-0", _summary_line(files[0])) in lines
    job = KubernetesCluster.job_name("producers", topic)
    assert _gone(lambda: perf_cluster.jobs.batch.read_namespaced_job(job, perf_cluster.namespace))


@pytest.mark.kube
def test_four_producers_one_per_node_on_three_nodes_fail_clearly_and_clean_up(kube_testbed, perf_cluster):
    spec = _kube_spec(producer__instances=4)
    topic = "perf-4"
    _feed_producers(kube_testbed, perf_cluster, topic, 4)
    started = time.monotonic()
    with pytest.raises(SchedulingError) as info:
        steps.producer_fanout(spec, perf_cluster, topic)
    message = str(info.value)
    print(message)
    assert "\n" not in message
    # Usually the scheduler's own reason; when fake pods end before the scheduler got to the
    # fourth, it lands on a node an instance has left, and kafkalab says that instead.
    assert (message.startswith("producers x4: pod producers-perf-4-")
            and "didn't match pod anti-affinity rules" in message) or (
            message.startswith("producers x4: instance ") and "one-per-node wants a node per instance" in message), message
    assert time.monotonic() - started < spec.cluster.kubernetes.schedule_timeout_s + 30
    job = KubernetesCluster.job_name("producers", topic)
    assert _gone(lambda: perf_cluster.jobs.batch.read_namespaced_job(job, perf_cluster.namespace))
    assert perf_cluster.jobs.pods(job) == []


@pytest.mark.kube
def test_a_pod_that_never_fits_fails_after_the_schedule_timeout(kube_testbed, perf_cluster):
    spec = _kube_spec(producer__instances=1, producer__heap_mb=192)
    perf_cluster.options = perf_cluster.options.model_copy(update={"producer_cpu": "64", "schedule_timeout_s": 3})
    try:
        with pytest.raises(SchedulingError) as info:
            steps.producer_fanout(spec, perf_cluster, "perf-big")
    finally:
        perf_cluster.options = perf_cluster.options.model_copy(update={"producer_cpu": "1", "schedule_timeout_s": 30})
    assert "not scheduled after 3s" in str(info.value) and "Insufficient cpu" in str(info.value), str(info.value)
    assert "\n" not in str(info.value) and str(info.value).endswith("; Job producers-perf-big deleted")
    job = KubernetesCluster.job_name("producers", "perf-big")
    assert _gone(lambda: perf_cluster.jobs.batch.read_namespaced_job(job, perf_cluster.namespace))
    assert perf_cluster.jobs.pods(job) == []


@pytest.mark.kube
def test_brokers_too_big_for_every_node_fail_with_the_schedulers_reason(kube_testbed, runner_api, tmp_path):
    from kafkalab.kafka.broker_config import BrokerSettings as Settings

    spec = _kube_spec(cluster__brokers=1, topic__replication_factor=1, cluster__kubernetes={"storage": "ephemeral", "broker_cpu": "64",
                                                                                           "schedule_timeout_s": 3})
    cluster = KubernetesCluster(None, tmp_path, Settings(), spec.cluster.kubernetes, name="kube-big", heap_mb=256,
                                controller_heap_mb=128, api=runner_api, kafka=PodListKafka())
    cluster.deploy(1, 1)
    try:
        started = time.monotonic()
        with pytest.raises(SchedulingError) as info:
            cluster.wait_ready(timeout_s=120)
        assert time.monotonic() - started < 60  # the scheduler's refusal, not the whole ready timeout
    finally:
        cluster.stop()
    message = str(info.value)
    assert message.startswith("kafka-broker-0 not scheduled after 3s: Unschedulable: 0/3 nodes are available: "), message
    assert "Insufficient cpu" in message and "\n" not in message
    assert _gone(lambda: cluster.core.read_namespace(cluster.namespace))


@pytest.mark.kube
def test_consumer_test_as_a_job(kube_testbed, perf_cluster):
    spec = _kube_spec()
    topic = "perf-c"
    log = DATA / "consumer.log"
    kube_testbed.serve_logs(perf_cluster.namespace, KubernetesCluster.job_name("consumer", topic) + "-",
                            _at_barrier(log, perf_cluster.run_dir), termination_message=log.read_text(), exit_code=0)
    (outcome,) = steps.consumer_test(spec, perf_cluster, topic, 90000)
    assert outcome.status == "ok", outcome.error
    assert outcome.summary == perftools.parse_consumer_output(log.read_text())
    assert outcome.summary.messages == 90000


@pytest.mark.kube
def test_a_failed_producer_pod_is_a_failed_instance_with_its_output(kube_testbed, perf_cluster):
    spec = _kube_spec(producer__instances=2)
    topic = "perf-fail"
    job = KubernetesCluster.job_name("producers", topic)
    kube_testbed.serve_logs(perf_cluster.namespace, f"{job}-0-", _at_barrier(DATA / "producer-0.log", perf_cluster.run_dir),
                            termination_message=_summary_line(DATA / "producer-0.log"))
    broken = Path(perf_cluster.run_dir) / "broken.log"
    broken.write_text("[2026-11-25 11:52:40,000] ERROR org.apache.kafka.common.errors.TimeoutException: "
                      "Topic perf-fail not present in metadata after 60000 ms.\n")
    kube_testbed.serve_logs(perf_cluster.namespace, f"{job}-1-", _at_barrier(broken, perf_cluster.run_dir),
                            termination_message=broken.read_text(), exit_code=1)
    outcomes, _ = steps.producer_fanout(spec, perf_cluster, topic)
    assert [o.status for o in outcomes] == ["ok", "failed"]
    assert outcomes[1].exit_code == 1
    assert outcomes[1].error == ("exited with code 1: [2026-11-25 11:52:40,000] ERROR org.apache.kafka.common.errors."
                                 "TimeoutException: Topic perf-fail not present in metadata after 60000 ms.")
    assert steps.run_error(outcomes, None).startswith("1 of 2 producer instances failed; producer-1: exited")


@pytest.mark.kube
def test_a_wrong_field_is_refused_by_the_api_server(kube_testbed, perf_cluster):
    """The manifests are checked by the real API server: an invalid value fails, one line."""
    bad = m.node_stateful_set(perf_cluster.layout, "broker", 1, m.NodeResources(cpu="1", memory="1Gi", heap_mb=256,
                                                                                 storage="ephemeral"))
    bad.spec.template.spec.containers[0].ports[0].container_port = 70000
    with pytest.raises(ApiException) as info:
        perf_cluster.apps.create_namespaced_stateful_set(perf_cluster.namespace, bad)
    assert info.value.status == 422 and "containerPort" in info.value.body


def test_no_kubeconfig_and_no_service_account_is_one_line(monkeypatch, tmp_path):
    from kafkalab.platforms.kubernetes import api_client

    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ClusterError, match=r"^kubernetes: no cluster to talk to: set cluster.kubernetes.kubeconfig"):
        api_client()
    with pytest.raises(ClusterError, match=r"^cluster.kubernetes.kubeconfig: no such file"):
        api_client(str(tmp_path / "missing"))


# --- the start barrier, the load generator, broker faults, bad input (kwok) ---------------------
#
# On fake nodes the feeder ends a pod behind the start gate only once it has "go" (as its
# container would wait there); a fed log starts with the barrier line when the pod is ready.


def _run_gated(cluster, spec, topic: str, instances: int):
    """The producers of `spec`, with what the pods looked like at "go" and when it came."""
    job = KubernetesCluster.job_name("producers", topic)
    at_go: dict = {}

    def on_go() -> None:
        at_go["t"] = time.monotonic()
        # a pod told go first may have ended already (kwok ends it at once): only those
        at_go["early"] = [p.metadata.name for p in cluster.jobs.pods(job)
                          if p.status.phase != "Running" and p.metadata.annotations.get(m.START_ANNOTATION) != "go"]

    started = time.monotonic()
    outcomes = cluster.run_producers(steps.producer_load(spec, topic), instances, client_prefix=f"kafkalab-{topic}",
                                     spread=spec.producer.spread, on_go=on_go)
    return outcomes, at_go, at_go["t"] - started


@pytest.mark.kube
def test_producer_pods_wait_at_the_start_barrier_until_every_one_is_ready(kube_testbed, perf_cluster):
    spec = _kube_spec()
    perf_cluster.jobs.barrier_timeout_s = 6
    try:
        _feed_producers(kube_testbed, perf_cluster, "perf-gate", 3)
        outcomes, at_go, waited = _run_gated(perf_cluster, spec, "perf-gate", 3)
        assert at_go["early"] == []  # every pod up and waiting, none ended before its "go"
        assert waited < perf_cluster.jobs.barrier_timeout_s  # all were ready: go at once
        assert [o.status for o in outcomes] == ["ok"] * 3
        pods = perf_cluster.jobs.last_result.pods.values()
        assert all(p.metadata.annotations[m.START_ANNOTATION] == "go" for p in pods)
        assert all(BARRIER_LINE not in o.raw_output for o in outcomes)  # the handshake is not the tool's output

        # One pod still booting (no barrier line in its log): the others wait for it, up to the timeout.
        files = _feed_producers(kube_testbed, perf_cluster, "perf-gate-slow", 3)
        job = KubernetesCluster.job_name("producers", "perf-gate-slow")
        kube_testbed.serve_logs(perf_cluster.namespace, f"{job}-2-", files[2], termination_message=_summary_line(files[2]))
        outcomes, at_go, waited = _run_gated(perf_cluster, spec, "perf-gate-slow", 3)
        assert at_go["early"] == []
        assert waited >= perf_cluster.jobs.barrier_timeout_s
        assert [o.status for o in outcomes] == ["ok"] * 3
    finally:
        perf_cluster.jobs.barrier_timeout_s = jobs.BARRIER_TIMEOUT_S


GENERATOR_OUT = REPO / "tests" / "data" / "loadgen"


@pytest.mark.kube
def test_the_generator_runs_as_producer_and_consumer_pods_parsed_as_locally(kube_testbed, perf_cluster):
    from kafkalab.kafka import loadgen
    from kafkalab.load import generator
    from kafkalab.platforms.kubernetes import loadgen_jobs

    spec = _kube_spec(producer__tool="kafkalab", producer__instances=2, producer__num_records=2000,
                      producer__record_size=100, producer__throughput=1000, consumer__tool="kafkalab",
                      consumer__timing="after", consumer__num_records=2000)
    check_spec(spec)  # the generator is offered on Kubernetes now
    topic = "perf-gen"
    produced = GENERATOR_OUT / "producer-2000-at-1000.out"  # captured from a real generator run
    job = KubernetesCluster.job_name("producers", topic)
    summary = next(line for line in produced.read_text().splitlines() if line.startswith(loadgen.SUMMARY_PREFIX))
    for i in range(2):  # the generator prints the barrier line itself, once its client is built
        kube_testbed.serve_logs(perf_cluster.namespace, f"{job}-{i}-", _at_barrier(produced, perf_cluster.run_dir),
                                termination_message=summary)
    lines: list[tuple[str, str]] = []
    outcomes, alongside = steps.producer_fanout(spec, perf_cluster, topic, on_line=lambda s, ln: lines.append((s, ln)))
    assert alongside == []
    expected = loadgen.parse_output(produced.read_text())
    intervals = generator.load_intervals(expected)
    for outcome in outcomes:
        assert outcome.status == "ok", outcome.error
        assert outcome.tool == "kafkalab" and outcome.stopped_by == "records"
        assert outcome.intervals == intervals and len(intervals) >= 2
        assert outcome.output == generator.producer_output(intervals, expected.summary)
    assert (perf_cluster.run_dir / topic / "producer-1.hlog").read_text() == expected.histogram_log
    assert ("producer-0", loadgen.log_line(summary)) in lines  # readable lines, no base64
    assert not any(ln.startswith("Tag=") for _, ln in lines)
    pod = perf_cluster.jobs.last_result.pods[0]
    (container,) = pod.spec.containers
    env = {e.name: e.value for e in container.env}
    assert env["KAFKALAB_TOOL"] == loadgen_jobs.LOADGEN_TOOL and env["KAFKALAB_TOOL_READS_GO"] == "1"
    assert container.command[4:6] == ["produce", "--topic"] and "--barrier" in container.command

    consumed = GENERATOR_OUT / "consumer-2000.out"
    kube_testbed.serve_logs(perf_cluster.namespace, KubernetesCluster.job_name("consumers", topic) + "-0-",
                            _at_barrier(consumed, perf_cluster.run_dir), termination_message=consumed.read_text())
    (consumer,) = steps.consumer_test(spec, perf_cluster, topic, 4000)
    assert consumer.status == "ok", consumer.error
    assert consumer.summary == generator.consumer_summary(loadgen.parse_output(consumed.read_text()).summary)
    assert consumer.summary.messages == 2000 and consumer.tool == "kafkalab"


def test_faults_and_the_generator_are_offered_on_kubernetes():
    check_spec(_kube_spec(producer__tool="kafkalab", consumer__tool="kafkalab", consumer__timing="alongside",
                          faults=[{"action": "kill", "broker": 1, "at_s": 5, "restart_after_s": 5}]))


@pytest.mark.kube
def test_generator_consumers_alongside_the_producers_start_behind_the_same_barrier(kube_testbed, perf_cluster):
    from kafkalab.kafka import loadgen
    from kafkalab.load import generator

    spec = _kube_spec(producer__tool="kafkalab", producer__instances=2, producer__num_records=2000,
                      producer__record_size=100, producer__throughput=1000, consumer__tool="kafkalab",
                      consumer__timing="alongside", consumer__num_records=2000)
    topic = "perf-along"
    produced, consumed = GENERATOR_OUT / "producer-2000-at-1000.out", GENERATOR_OUT / "consumer-2000.out"
    producers_job, consumers_job = (KubernetesCluster.job_name(kind, topic) for kind in ("producers", "consumers"))
    summary = next(line for line in produced.read_text().splitlines() if line.startswith(loadgen.SUMMARY_PREFIX))
    for i in range(2):
        kube_testbed.serve_logs(perf_cluster.namespace, f"{producers_job}-{i}-", _at_barrier(produced, perf_cluster.run_dir),
                                termination_message=summary)
    kube_testbed.serve_logs(perf_cluster.namespace, f"{consumers_job}-0-", _at_barrier(consumed, perf_cluster.run_dir),
                            termination_message=consumed.read_text())
    at_go: dict = {}

    def on_go() -> None:
        pods = perf_cluster.jobs.pods(producers_job) + perf_cluster.jobs.pods(consumers_job)
        at_go["jobs"] = sorted(p.metadata.labels[m.PERF_JOB_LABEL] for p in pods)
        at_go["early"] = [p.metadata.name for p in pods
                          if p.status.phase != "Running" and p.metadata.annotations.get(m.START_ANNOTATION) != "go"]

    producers, consumers = perf_cluster.run_load(steps.producer_load(spec, topic), 2, client_prefix=f"kafkalab-{topic}",
                                                 alongside=steps.consumer_load(spec, topic, 2000), on_go=on_go)
    # one barrier for both Jobs: every pod of each was up and waiting when go came
    assert at_go["jobs"] == [consumers_job, producers_job, producers_job] and at_go["early"] == []
    pods = [*perf_cluster.jobs.last_result.pods.values()]
    assert all(p.metadata.annotations[m.START_ANNOTATION] == "go" for p in pods)
    assert [p.status for p in producers] == ["ok", "ok"]
    (consumer,) = consumers
    assert consumer.status == "ok", consumer.error
    assert consumer.summary == generator.consumer_summary(loadgen.parse_output(consumed.read_text()).summary)
    steps.check_consumers(spec, consumers, 2000)  # judged against what the topic holds, as locally
    assert consumer.status == "ok"
    assert _gone(lambda: perf_cluster.jobs.batch.read_namespaced_job(consumers_job, perf_cluster.namespace))


def _wait_for(check, what: str, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


@pytest.mark.kube
def test_a_broker_pod_deleted_mid_test_is_held_down_then_comes_back(kube_testbed, perf_cluster):
    from kafkalab.platforms.faults import FaultInjector
    from kafkalab.spec.models import FaultSpec

    core, ns = perf_cluster.core, perf_cluster.namespace
    first = core.read_namespaced_pod("kafka-broker-0", ns).metadata.uid

    def successor(of: str):
        pods = core.list_namespaced_pod(ns, field_selector="metadata.name=kafka-broker-0").items
        return next((p for p in pods if p.metadata.uid != of and p.metadata.deletion_timestamp is None), None)

    # kill, restart after 3 s. Generous limits: the test bed's fake nodes go NotReady for a while
    # when kwok is starved of CPU, and a recreated pod waits for a Ready node then.
    injector = FaultInjector(perf_cluster, [FaultSpec(action="kill", broker=0, at_s=0.2, restart_after_s=3)],
                             ready_timeout_s=150)
    injector.start()  # the producers' "go"
    held = _wait_for(lambda: successor(first), "the StatefulSet recreating kafka-broker-0", 60)
    assert perf_cluster.down_brokers() == [0]
    assert core.read_namespaced_config_map(m.HOLDS_CONFIG_MAP, ns).data == {"kafka-broker-0": "held"}
    assert m.START_ANNOTATION not in (held.metadata.annotations or {})  # it waits at its gate: Kafka not started
    _wait_for(lambda: injector.events[0].outcome in ("restarted", "failed"), "broker 0 back after its restart", 180)
    injector.producers_finished()
    (kill,) = injector.finish()
    assert kill.outcome == "restarted", kill
    assert kill.at_s == pytest.approx(0.2, abs=1.0)
    assert kill.restarted_at_s >= 3 and kill.ready_at_s >= kill.restarted_at_s
    back = core.read_namespaced_pod("kafka-broker-0", ns)
    assert back.metadata.uid == held.metadata.uid and back.metadata.annotations[m.START_ANNOTATION] == "go"
    assert core.read_namespaced_config_map(m.HOLDS_CONFIG_MAP, ns).data in (None, {})
    assert perf_cluster.down_brokers() == []

    # a clean stop, left down: started again when the run ends
    injector = FaultInjector(perf_cluster, [FaultSpec(action="stop", broker=0, at_s=0.2)], ready_timeout_s=150,
                             stop_grace_s=5)
    injector.start()
    _wait_for(lambda: injector.events[0].outcome in ("down", "failed"), "broker 0 stopped (clean shutdown)", 60)
    assert injector.events[0].outcome == "down", injector.events[0]
    assert perf_cluster.down_brokers() == [0]
    injector.producers_finished()
    (stop,) = injector.finish()
    assert stop.outcome == "down" and stop.restarted_at_s is None  # left down by the spec; finish() brought it back
    assert perf_cluster.down_brokers() == []
    last = core.read_namespaced_pod("kafka-broker-0", ns)
    assert last.metadata.uid not in (first, held.metadata.uid) and last.metadata.annotations[m.START_ANNOTATION] == "go"
    assert 0 in {b.node_id for b in PodListKafka().registered_brokers(perf_cluster)}  # Ready: serving again


@pytest.mark.kube
def test_a_broker_whose_image_is_missing_fails_in_one_line(kube_testbed, perf_cluster):
    """The node's report of a missing image (as a kubelet with pull policy Never writes it) ends
    the wait for the brokers at once, in one line naming the image and `make kube-images`."""
    admin_core = k8s.CoreV1Api(kube_testbed.api_client())
    ns = perf_cluster.namespace
    pod = admin_core.read_namespaced_pod("kafka-broker-0", ns)
    image = pod.spec.containers[0].image
    admin_core.patch_namespaced_pod_status("kafka-broker-0", ns, {"status": {
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "kafka", "image": image, "imageID": "", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "ErrImageNeverPull", "message":
                                         f'Container image "{image}" is not present with pull policy of Never'}}}]}})
    try:
        _wait_for(lambda: not perf_cluster.apps.read_namespaced_stateful_set_status("kafka-broker", ns).status
                  .ready_replicas, "the StatefulSet controller seeing the pod not ready", 30)
        with pytest.raises(ClusterError) as info:
            perf_cluster.wait_sets_ready(timeout_s=30)
        assert str(info.value) == (f"kafka-broker-0: image {image} is not on node {pod.spec.node_name} "
                                   "(ErrImageNeverPull): build and import it with `make kube-images` (the test bed), "
                                   "or build it from docker/ and push it where the nodes pull from")
    finally:
        admin_core.delete_namespaced_pod("kafka-broker-0", ns, grace_period_seconds=0)  # the StatefulSet makes a sound one
