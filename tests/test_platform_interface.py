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
    "producer": {"num_records": 1000, "timeout_s": 60}, "consumer": {"timing": "after"},
    "faults": [{"action": "kill", "broker": 1, "at_s": 2, "restart_after_s": 2}],
}
# What Kubernetes still refuses: SASL/TLS.
KUBE_REFUSED = {**KUBE_WITH_FAULTS, "name": "kube-tls", "cluster": {"brokers": 3, "security": {"protocol": "SSL"}}}
KUBE_REFUSAL = "cluster.security.protocol: platform kubernetes offers only PLAINTEXT so far, not SSL"


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
    assert SECURITY not in KubernetesCluster.capabilities
    assert {SCALE, REASSIGN, FAULTS, GENERATOR} <= KubernetesCluster.capabilities


def test_kubernetes_runs_the_load_generator_and_refuses_what_its_pods_cannot_have():
    platforms.check_spec(parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 10}}))
    platforms.check_spec(parse_spec({"name": "k", "platform": "kubernetes", "producer": {
        "num_records": 10, "tool": "kafka-perf"}, "consumer": {"tool": "kafka-perf"}}))
    with pytest.raises(SpecError, match=r"^spec: producer.payload_file: platform kubernetes cannot ship a payload "
                                        r"file to the producer pods yet$"):
        platforms.check_spec(parse_spec({"name": "k", "platform": "kubernetes", "producer": {
            "num_records": 10, "payload_file": __file__}}))


def test_what_a_platform_lacks_raises_one_clear_line(tmp_path):
    """Consumers alongside ProducerPerformance do not exist: run_load says so, it does not pretend."""
    from kubernetes import client as k8s

    from kafkalab.load.runner import ConsumerLoad, ProducerLoad

    cluster = KubernetesCluster(None, tmp_path, BrokerSettings(), KubernetesSpec(), api=k8s.ApiClient(k8s.Configuration()))
    load = ProducerLoad(topic="t", num_records=1, record_size=1, throughput=-1, props={}, tool="kafka-perf")
    with pytest.raises(ClusterError) as info:
        cluster.run_load(load, 1, alongside=ConsumerLoad(topic="t", num_records=1, timeout_ms=1, props={},
                                                          tool="kafkalab"), client_prefix="x")
    assert str(info.value) == "consumers alongside the producers need kafkalab's generator on both sides"
    assert cluster.down_brokers() == []  # faults are offered: nothing is down before one
    assert cluster.metrics_targets() == [] and cluster.release_metrics_targets() is None  # the seam, empty by default


def test_the_local_cluster_answers_the_interface_before_it_starts(tmp_path, kafka_dist):
    cluster = LocalCluster(kafka_dist, tmp_path, BrokerSettings())
    assert cluster.broker_ids == [] and cluster.down_brokers() == [] and cluster.metrics_targets() == []
    with pytest.raises(ClusterError, match=r"^broker 0 is not part of this cluster"):
        cluster.kill_broker(0)


def test_check_spec_accepts_faults_on_kubernetes_and_refuses_what_it_lacks_in_one_line():
    check_spec(parse_spec(KUBE_WITH_FAULTS))  # broker pods deleted (platforms/kubernetes/broker_faults.py)
    check_spec(parse_spec({**KUBE_WITH_FAULTS, "platform": "local"}))
    with pytest.raises(SpecError) as info:
        check_spec(parse_spec(KUBE_REFUSED))  # a valid spec: what it asks is the platform's to refuse
    assert str(info.value) == f"spec: {KUBE_REFUSAL}"


def test_check_spec_refuses_security_on_kubernetes():
    spec = parse_spec({**KUBE_WITH_FAULTS, "faults": [],
                       "cluster": {"brokers": 3, "security": {"protocol": "SSL"}}})
    with pytest.raises(SpecError, match=r"^x.yaml: cluster.security.protocol: platform kubernetes offers only "
                                        r"PLAINTEXT so far, not SSL$"):
        check_spec(spec, source="x.yaml")


def test_a_flow_request_is_checked_too():
    """What the UI or a schedule sends goes through resolve_spec: refused before the flow deploys anything."""
    with pytest.raises(SpecError, match=rf"^spec: {KUBE_REFUSAL}$"):
        resolve_spec(spec=KUBE_REFUSED)
    with pytest.raises(SpecError, match=rf"^spec: {KUBE_REFUSAL}$"):
        resolve_spec(spec=parse_spec(KUBE_REFUSED))


def test_every_sweep_cell_is_checked():
    """A sweep comparing platforms: the local cells may use TLS, the Kubernetes ones not yet."""
    base = {k: v for k, v in KUBE_REFUSED.items() if k != "name"}
    sweep = parse_sweep({"name": "kube-sweep", "base": base, "axes": {"platform": ["local", "kubernetes"]}})
    with pytest.raises(SpecError) as info:
        check_plan(plan_sweep(sweep))
    assert str(info.value) == f"kube-sweep: cell 1 (platform=kubernetes): {KUBE_REFUSAL}"


def test_the_registry_does_not_import_the_kubernetes_client():
    code = ("import sys; from kafkalab import platforms; from kafkalab.spec import parse_spec; "
            f"spec = parse_spec({KUBE_REFUSED!r});\n"
            "try: platforms.check_spec(spec)\nexcept Exception as exc: print(exc)\n"
            "print('kubernetes' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"spec: {KUBE_REFUSAL}", "False"]


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_the_cli_refuses_in_one_line_and_starts_nothing(tmp_path, command):
    if command == "run":
        document = KUBE_REFUSED
        expected = f"kafkalab: {tmp_path / 'spec.yaml'}: {KUBE_REFUSAL}"
    else:
        document = {"name": "kube-sweep", "base": {k: v for k, v in KUBE_REFUSED.items() if k != "name"},
                    "axes": {"producer.instances": [1, 2]}}
        expected = f"kafkalab: kube-sweep: cell 0 (producer.instances=1): {KUBE_REFUSAL}"
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
