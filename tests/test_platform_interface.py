"""One platform interface (issue 11, item 2): every platform implements kafkalab.platforms.Cluster
whole, declares what it cannot do yet, and a spec asking for that is refused in one line
before anything starts."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kafkalab import platforms
from kafkalab.core.errors import ClusterError, SpecError
from kafkalab.experiment.launch import resolve_spec
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.plan import plan_sweep
from kafkalab.platforms import FAULTS, GENERATOR, REASSIGN, SCALE, SECURITY, Cluster, check_plan, check_spec
from kafkalab.platforms.external import ExternalCluster
from kafkalab.platforms.kubernetes import KubernetesCluster
from kafkalab.platforms.local import LocalCluster
from kafkalab.spec import KubernetesSpec, parse_spec, parse_sweep

REPO = Path(__file__).resolve().parents[1]
IMPLEMENTATIONS = {"local": LocalCluster, "kubernetes": KubernetesCluster, "external": ExternalCluster}
KNOWN_CAPABILITIES = {FAULTS, SCALE, REASSIGN, SECURITY, GENERATOR}
FAULT_METHODS = {"kill_broker": (0,), "stop_broker": (0,), "start_broker": (0,), "wait_broker_back": (0, 0),
                 "down_brokers": ()}

KUBE_WITH_FAULTS = {
    "name": "kube-faults", "platform": "kubernetes",
    "cluster": {"brokers": 3}, "topic": {"partitions": 3, "replication_factor": 3},
    "producer": {"num_records": 1000, "timeout_s": 60},
    "faults": [{"action": "kill", "broker": 1, "at_s": 2, "restart_after_s": 2}],
}


def test_every_platform_is_registered_with_its_class():
    assert set(platforms.PLATFORMS) == set(IMPLEMENTATIONS)
    for name, cls in IMPLEMENTATIONS.items():
        assert cls.platform == name
        assert issubclass(cls, Cluster)
        module = platforms.platform_module(name)
        assert callable(module.deploy) and callable(module.check_broker_settings)
        assert module.CAPABILITIES == cls.capabilities == platforms.capabilities(name)


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_every_abstract_method_is_implemented_by_the_platform_itself(name):
    cls = IMPLEMENTATIONS[name]
    assert not cls.__abstractmethods__  # nothing left abstract: the class can be made
    required = sorted(Cluster.__abstractmethods__)
    assert {"deploy", "wait_ready", "run_producers", "run_consumer", "add_brokers", "remove_brokers", "stop",
            "remove_data", "bootstrap_servers", "endpoint"} | set(FAULT_METHODS) <= set(required)
    for method in required:
        own, interface = inspect.getattr_static(cls, method), inspect.getattr_static(Cluster, method)
        assert own is not interface, f"{cls.__name__}.{method} is the interface's, not implemented"
        function = own.fget if isinstance(own, property) else own
        assert function.__qualname__.startswith(f"{cls.__name__}."), f"{cls.__name__}.{method}: {function.__qualname__}"
        ours, theirs = inspect.signature(function), inspect.signature(
            interface.fget if isinstance(interface, property) else interface)
        assert list(ours.parameters) == list(theirs.parameters), f"{cls.__name__}.{method}{ours} != {theirs}"


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_capabilities_are_declared_from_the_known_ones(name):
    offered = IMPLEMENTATIONS[name].capabilities
    assert isinstance(offered, frozenset) and offered <= KNOWN_CAPABILITIES


def test_local_offers_everything_and_kubernetes_says_what_not_yet():
    assert LocalCluster.capabilities == KNOWN_CAPABILITIES
    assert FAULTS not in KubernetesCluster.capabilities and SECURITY not in KubernetesCluster.capabilities
    assert GENERATOR not in KubernetesCluster.capabilities
    assert {SCALE, REASSIGN} <= KubernetesCluster.capabilities


def test_a_platform_without_the_load_generator_refuses_it_before_anything_starts():
    spec = parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 10}})
    with pytest.raises(SpecError, match=r"^spec: producer.tool: platform kubernetes runs only Kafka's perf tools "
                                        r"so far: set it to kafka-perf$"):
        platforms.check_spec(spec)
    consumer_only = parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 10,
                                "tool": "kafka-perf"}})
    with pytest.raises(SpecError, match=r"^spec: consumer.tool: platform kubernetes"):
        platforms.check_spec(consumer_only)
    platforms.check_spec(parse_spec({"name": "k", "platform": "kubernetes", "producer": {
        "num_records": 10, "tool": "kafka-perf"}, "consumer": {"tool": "kafka-perf"}}))


def test_what_a_platform_lacks_raises_one_clear_line(tmp_path):
    """Kubernetes cannot inject faults yet: each fault method says so, it does not pretend."""
    from kubernetes import client as k8s

    cluster = KubernetesCluster(None, tmp_path, BrokerSettings(), KubernetesSpec(), api=k8s.ApiClient(k8s.Configuration()))
    for method, args in FAULT_METHODS.items():
        with pytest.raises(ClusterError) as info:
            getattr(cluster, method)(*args)
        assert str(info.value) == "platform kubernetes cannot inject broker faults yet (no 'faults' capability)"
    assert cluster.metrics_targets() == [] and cluster.release_metrics_targets() is None  # the seam, empty by default


def test_the_local_cluster_answers_the_interface_before_it_starts(tmp_path, kafka_dist):
    cluster = LocalCluster(kafka_dist, tmp_path, BrokerSettings())
    assert cluster.broker_ids == [] and cluster.down_brokers() == [] and cluster.metrics_targets() == []
    with pytest.raises(ClusterError, match=r"^broker 0 is not part of this cluster"):
        cluster.kill_broker(0)


def test_check_spec_refuses_faults_on_kubernetes_in_one_line():
    spec = parse_spec(KUBE_WITH_FAULTS)  # a valid spec: what it asks is the platform's to refuse
    with pytest.raises(SpecError) as info:
        check_spec(spec)
    assert str(info.value) == "spec: faults: platform kubernetes cannot inject broker faults yet"
    check_spec(parse_spec({**KUBE_WITH_FAULTS, "platform": "local"}))  # the local platform injects them


def test_check_spec_refuses_security_on_kubernetes():
    spec = parse_spec({**KUBE_WITH_FAULTS, "faults": [],
                       "cluster": {"brokers": 3, "security": {"protocol": "SSL"}}})
    with pytest.raises(SpecError, match=r"^x.yaml: cluster.security.protocol: platform kubernetes offers only "
                                        r"PLAINTEXT so far, not SSL$"):
        check_spec(spec, source="x.yaml")


def test_a_flow_request_is_checked_too():
    """What the UI or a schedule sends goes through resolve_spec: refused before the flow deploys anything."""
    with pytest.raises(SpecError, match=r"^spec: faults: platform kubernetes cannot"):
        resolve_spec(spec=KUBE_WITH_FAULTS)
    with pytest.raises(SpecError, match=r"^spec: faults: platform kubernetes cannot"):
        resolve_spec(spec=parse_spec(KUBE_WITH_FAULTS))


def test_every_sweep_cell_is_checked():
    """A sweep comparing platforms: the local cells may inject faults, the Kubernetes ones not yet."""
    base = {k: v for k, v in KUBE_WITH_FAULTS.items() if k != "name"}
    sweep = parse_sweep({"name": "kube-sweep", "base": base, "axes": {"platform": ["local", "kubernetes"]}})
    with pytest.raises(SpecError) as info:
        check_plan(plan_sweep(sweep))
    assert str(info.value) == "kube-sweep: cell 1 (platform=kubernetes): faults: platform kubernetes cannot inject " \
                              "broker faults yet"


def test_the_registry_does_not_import_the_kubernetes_client():
    code = ("import sys; from kafkalab import platforms; from kafkalab.spec import parse_spec; "
            f"spec = parse_spec({KUBE_WITH_FAULTS!r});\n"
            "try: platforms.check_spec(spec)\nexcept Exception as exc: print(exc)\n"
            "print('kubernetes' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["spec: faults: platform kubernetes cannot inject broker faults yet", "False"]


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_the_cli_refuses_in_one_line_and_starts_nothing(tmp_path, command):
    if command == "run":
        document = KUBE_WITH_FAULTS
        expected = f"kafkalab: {tmp_path / 'spec.yaml'}: faults: platform kubernetes cannot inject broker faults yet"
    else:
        document = {"name": "kube-sweep", "base": {k: v for k, v in KUBE_WITH_FAULTS.items() if k != "name"},
                    "axes": {"producer.instances": [1, 2]}}
        expected = ("kafkalab: kube-sweep: cell 0 (producer.instances=1): faults: platform kubernetes cannot "
                    "inject broker faults yet")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(document))
    data_dir = tmp_path / "data"
    env = {**os.environ, "KAFKALAB_DATA_DIR": str(data_dir), "PREFECT_HOME": str(tmp_path / "prefect"),
           # were anything started, it would have to reach these first: neither answers
           "DATABASE_URL": "postgresql://kafkalab@127.0.0.1:9/none", "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
           "KAFKALAB_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "kafkalab", command, str(spec_file)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [expected]
    assert proc.stdout == ""
    assert not data_dir.exists() and not (tmp_path / "cache").exists() and not (tmp_path / "prefect").exists()
