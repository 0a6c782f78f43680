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

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kubernetes import client as k8s

from kafkalab import perftools
from kafkalab.broker_config import BrokerSettings
from kafkalab.errors import ClusterError
from kafkalab.loadtest import ConsumerLoad, ProducerLoad
from kafkalab.platforms.kubernetes import jobs, manifests as m
from kafkalab.spec import KubernetesSpec, parse_spec

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
    (volume,) = job["spec"]["template"]["spec"]["volumes"]
    assert volume["secret"]["secretName"] == "p-client"
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
