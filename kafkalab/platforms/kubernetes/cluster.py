"""A KRaft cluster on Kubernetes: the platform interface (kafkalab.platforms.base.Cluster) on pods.

deploy() creates the namespace and its objects and returns (the nodes start in parallel);
wait_ready() waits until both StatefulSets report every replica ready and then until the
brokers are registered. Registration, topics, the smoke test and reassignment are Kafka-level
steps: they go through `kafka` (a KafkaLevel), by default kafkalab.admin against the brokers'
headless-service names, which answer where the flow runs inside the cluster. Scaling patches
the broker StatefulSet's replicas; stop() deletes the namespace and waits until it is gone.
Perf pods start behind a start barrier (gate.py); broker faults delete broker pods and hold
them down (broker_faults.py). Each broker's JMX listens on its pod's loopback only; a run's
JMX sampler runs inside each broker pod (pod_exec.py). SASL/TLS are not offered here yet (see
CAPABILITIES).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from kafkalab.core.errors import ClusterError
from kafkalab.core.waiting import wait_until
from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad
from kafkalab.model import ConsumerOutcome, ProducerOutcome
from kafkalab.platforms.base import Cluster, KafkaLevel, MetricsTarget
from kafkalab.platforms.kubernetes import CAPABILITIES, images, loadgen_jobs
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.broker_faults import BrokerFaults
from kafkalab.platforms.kubernetes.jobs import (
    JobResult,
    JobRunner,
    PerfRun,
    SchedulingError,
    api_error,
    consumer_outcome,
    keep_output,
    producer_outcome,
    shared_nodes,
    stuck_reason,
    unscheduled_reason,
)
from kafkalab.platforms.kubernetes.pod_exec import PodCommand
from kafkalab.platforms.local import new_cluster_id

Progress = Callable[[str], None]
# What the broker JMX sampler's JVM (64 MB heap) takes in a broker container while a run samples.
SAMPLER_MEMORY_MB = 128


def api_client(kubeconfig: str | None = None, context: str | None = None) -> k8s.ApiClient:
    """A client for the cluster: the spec's kubeconfig, else KUBECONFIG or ~/.kube/config, else the
    pod's service account (in-cluster). One line naming what is missing when none works."""
    if kubeconfig:
        if not Path(kubeconfig).expanduser().is_file():
            raise ClusterError(f"cluster.kubernetes.kubeconfig: no such file {kubeconfig}")
        path: str | None = str(Path(kubeconfig).expanduser())
    else:
        env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        default = Path("~/.kube/config").expanduser()
        path = env[0] if env else (str(default) if default.is_file() else None)
    if path:
        try:
            return k8s_config.new_client_from_config(config_file=path, context=context, persist_config=False)
        except Exception as exc:  # noqa: BLE001 - ConfigException, a bad file: one line either way
            raise ClusterError(f"kubernetes: cannot use kubeconfig {path}: {' '.join(str(exc).split())}") from None
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(f"kubernetes: in-cluster config failed: {' '.join(str(exc).split())}") from None
        return k8s.ApiClient(configuration)
    raise ClusterError(
        "kubernetes: no cluster to talk to: set cluster.kubernetes.kubeconfig or KUBECONFIG (or ~/.kube/config), "
        "or run inside a pod with a service account"
    )


@dataclass
class BrokerPod:
    node_id: int  # = the pod's ordinal
    host: str
    port: int = m.BROKER_PORT

    @property
    def name(self) -> str:
        return f"kafka-broker-{self.node_id}"


@dataclass
class KubernetesCluster(Cluster):
    """A KRaft cluster in a namespace of its own (see the module doc)."""

    dist: KafkaDistribution
    run_dir: Path
    settings: BrokerSettings
    options: object  # kafkalab.spec.KubernetesSpec
    name: str = "kafkalab"
    kafka_version: str = "4.4.0"
    heap_mb: int = 512
    controller_heap_mb: int = 256
    api: k8s.ApiClient | None = None
    kafka: KafkaLevel = field(default_factory=KafkaLevel)
    cluster_label: str = field(default_factory=lambda: secrets.token_hex(4))
    cluster_id: str = field(default_factory=new_cluster_id)
    brokers: list[BrokerPod] = field(default_factory=list)
    poll_s: float = 0.5
    security: None = None  # SASL/TLS is not offered on this platform yet: PLAINTEXT inside the cluster
    _faults: BrokerFaults | None = field(default=None, repr=False)

    platform = "kubernetes"
    capabilities = CAPABILITIES

    def __post_init__(self) -> None:
        if self.api is None:
            self.api = api_client(getattr(self.options, "kubeconfig", None), getattr(self.options, "context", None))
        self.core = k8s.CoreV1Api(self.api)
        self.apps = k8s.AppsV1Api(self.api)
        self.namespace = f"kafkalab-{m.dns_label(self.name, 40)}-{self.cluster_label}"
        image = getattr(self.options, "image", None) or images.default_image(self.kafka_version)
        self.layout = m.Layout(
            namespace=self.namespace, cluster_label=self.cluster_label, kafka_cluster_id=self.cluster_id,
            image=image, image_pull_policy=images.pull_policy(image, getattr(self.options, "image_pull_policy", None)),
        )
        self.jobs = JobRunner(self.api, self.namespace, poll_s=self.poll_s)

    # -- layout -------------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return self.layout.bootstrap_servers([b.node_id for b in self.brokers])

    @property
    def endpoint(self) -> str:
        """kafkalab's own Kafka calls (admin): the bootstrap servers (PLAINTEXT)."""
        return self.bootstrap_servers

    def _resources(self, role: str) -> m.NodeResources:
        o = self.options
        heap = self.heap_mb if role == "broker" else self.controller_heap_mb
        reserve = SAMPLER_MEMORY_MB if role == "broker" else 0  # the JMX sampler run in the pod during a run
        memory = getattr(o, f"{role}_memory", None) or f"{2 * heap + reserve}Mi"
        size = o.storage_size if role == "broker" else o.controller_storage_size
        return m.NodeResources(cpu=getattr(o, f"{role}_cpu"), memory=memory, heap_mb=heap, storage=o.storage,
                               storage_class=o.storage_class, storage_size=size)

    def _config_map(self, broker_count: int) -> k8s.V1ConfigMap:
        broker = m.node_properties(self.layout, "broker", self.settings.applied, self.settings.defaults_for(broker_count))
        return m.config_map(self.layout, broker, m.node_properties(self.layout, "controller"))

    def _node_pods(self, role: str | None = None) -> list[k8s.V1Pod]:
        """The cluster's controller and broker pods (or those of one role)."""
        selector = f"{m.CLUSTER_LABEL}={self.cluster_label},{m.ROLE_LABEL}" + (f"={role}" if role else "")
        return self.core.list_namespaced_pod(self.namespace, label_selector=selector).items

    # -- lifecycle ----------------------------------------------------------------------------

    def deploy(self, brokers: int, controllers: int = 1, *, on_progress: Progress | None = None) -> None:
        """Namespace, settings, headless services and both StatefulSets; every node starts at once."""
        self.layout = dataclasses.replace(self.layout, controllers=controllers)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        objects = [
            ("namespace", lambda: self.core.create_namespace(m.namespace(self.layout))),
            ("config", lambda: self.core.create_namespaced_config_map(self.namespace, self._config_map(brokers))),
        ]
        for role in m.ROLES:
            objects.append((f"service {m.Layout.set_name(role)}", lambda role=role: self.core.create_namespaced_service(
                self.namespace, m.headless_service(self.layout, role))))
        objects.append(("controllers", lambda: self.apps.create_namespaced_stateful_set(
            self.namespace, m.node_stateful_set(self.layout, "controller", controllers, self._resources("controller")))))
        objects.append(("brokers", lambda: self.apps.create_namespaced_stateful_set(
            self.namespace, m.node_stateful_set(self.layout, "broker", brokers, self._resources("broker")))))
        for what, create in objects:
            try:
                create()
            except ApiException as exc:
                raise ClusterError(f"kubernetes: creating {what} in {self.namespace} failed: {api_error(exc)}") from None
        self.brokers = [BrokerPod(i, self.layout.host("broker", i)) for i in range(brokers)]
        (self.run_dir / "kubernetes.txt").write_text(f"namespace {self.namespace}\nimage {self.layout.image}\n")
        if on_progress:
            on_progress(f"namespace {self.namespace}: {controllers} controllers, {brokers} brokers ({self.layout.image})")

    def _set_status(self, role: str) -> tuple[int, int]:
        sts = self.apps.read_namespaced_stateful_set_status(m.Layout.set_name(role), self.namespace)
        want = sts.spec.replicas or 0
        ready = (sts.status.ready_replicas or 0) if sts.status else 0
        if sts.status and (sts.status.observed_generation or 0) < (sts.metadata.generation or 0):
            ready = min(ready, want - 1) if want else 0  # the controller has not looked at the latest spec yet
        return ready, want

    def dead_node(self) -> str | None:
        """A reason when a node pod cannot come up by waiting (crash loop, image pull)."""
        for pod in self._node_pods():
            if reason := stuck_reason(pod):
                return f"{pod.metadata.name}: {reason}"
        return None

    def _not_ready(self) -> str:
        """What the nodes still wait for: pods not ready and why (unscheduled, waiting)."""
        notes = []
        for pod in sorted(self._node_pods(), key=lambda p: p.metadata.name):
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
            if ready:
                continue
            reason = unscheduled_reason(pod) or (pod.status.phase if pod.status else "Unknown")
            notes.append(f"{pod.metadata.name}: {reason}")
        return "; ".join(notes)[:500] or "waiting for the StatefulSet controller"

    def _unschedulable(self, since: dict[str, float]) -> str | None:
        """A node pod the scheduler has refused for longer than schedule_timeout_s (not enough CPU
        or memory on any node, ...): the scheduler's reason, one line."""
        now = time.monotonic()
        limit = self.options.schedule_timeout_s
        for pod in self._node_pods():
            reason = unscheduled_reason(pod)
            if not reason or not reason.startswith("Unschedulable"):
                since.pop(pod.metadata.name, None)
                continue
            if now - since.setdefault(pod.metadata.name, now) > limit:
                return f"{pod.metadata.name} not scheduled after {limit:.0f}s: {reason}"[:600]
        return None

    def wait_sets_ready(self, timeout_s: float) -> None:
        """Both StatefulSets report every replica ready."""
        status: dict[str, tuple[int, int]] = {}
        unscheduled_since: dict[str, float] = {}

        def all_ready() -> bool:
            status.update({role: self._set_status(role) for role in m.ROLES})
            if all(ready >= want for ready, want in status.values()):
                return True
            if reason := self.dead_node():
                raise ClusterError(reason)
            if reason := self._unschedulable(unscheduled_since):
                raise SchedulingError(reason)
            return False

        def shown() -> str:
            sets = ", ".join(f"{role}s {ready}/{want} ready" for role, (ready, want) in status.items())
            return f"{sets} ({self._not_ready()})"

        wait_until(all_ready, timeout_s, f"{self.namespace}: every StatefulSet replica ready", interval=self.poll_s,
                   detail=shown, error=ClusterError)

    def wait_ready(self, broker_ids: list[int] | None = None, *, timeout_s: float = 120,
                   on_ready: Callable[[admin.BrokerInfo], None] | None = None) -> list[admin.BrokerInfo]:
        """Readiness: the StatefulSets' replicas ready, then every expected broker registered."""
        deadline = time.monotonic() + timeout_s
        self.wait_sets_ready(timeout_s)
        expected = set(self.broker_ids if broker_ids is None else broker_ids)
        return admin.wait_until_registered(
            lambda: self.kafka.registered_brokers(self), expected,
            timeout_s=max(0.0, deadline - time.monotonic()), on_ready=on_ready, poll_s=self.poll_s,
        )

    def scale_to(self, brokers: int, *, timeout_s: float = 300, on_progress: Progress | None = None) -> None:
        """Patch the broker StatefulSet's replicas and wait: new pods ready, removed pods gone."""
        if brokers < 1:
            raise ClusterError(f"cannot scale to {brokers} brokers")
        try:
            self.core.replace_namespaced_config_map(m.CONFIG_MAP, self.namespace, self._config_map(brokers))
            self.apps.patch_namespaced_stateful_set(
                m.Layout.set_name("broker"), self.namespace, {"spec": {"replicas": brokers}},
                _content_type="application/merge-patch+json",
            )
        except ApiException as exc:
            raise ClusterError(f"kubernetes: scaling {self.namespace} to {brokers} brokers failed: {api_error(exc)}") from None
        before = len(self.brokers)
        self.brokers = [BrokerPod(i, self.layout.host("broker", i)) for i in range(brokers)]
        if on_progress:
            on_progress(f"broker StatefulSet {before} -> {brokers} replicas")
        self.wait_sets_ready(timeout_s)
        if brokers < before:
            left: list[str] = []

            def removed_pods_gone() -> bool:
                names = (p.metadata.name for p in self._node_pods("broker"))
                left[:] = sorted(n for n in names if int(n.rsplit("-", 1)[1]) >= brokers)
                return not left

            wait_until(removed_pods_gone, timeout_s, f"{self.namespace}: removed brokers gone after scaling down",
                       interval=self.poll_s, detail=lambda: f"still there: {left}", error=ClusterError)

    def add_brokers(self, count: int, *, on_progress: Progress | None = None) -> list[int]:
        """Scale up (the guide's broker count update): the new brokers get the next ordinals / node ids."""
        first = len(self.brokers)
        self.scale_to(first + count, on_progress=on_progress)
        return list(range(first, first + count))

    def remove_brokers(self, broker_ids: list[int], grace_s: float = 30) -> None:
        """Scale down: a StatefulSet removes its highest ordinals (the newest brokers), with their
        controlled shutdown (the pod's grace period) and their volumes."""
        keep = len(self.brokers) - len(broker_ids)
        if sorted(broker_ids) != list(range(keep, len(self.brokers))):
            raise ClusterError(f"kubernetes: only the newest brokers can be removed ({keep}..{len(self.brokers) - 1}), "
                               f"not {sorted(broker_ids)}")
        self.scale_to(keep)

    def stop(self, grace_s: float = 10) -> None:
        """Delete the namespace (everything in it goes with it) and wait until it is gone, bounded."""
        timeout_s = getattr(self.options, "teardown_timeout_s", 300)
        try:
            self.core.delete_namespace(self.namespace, body=k8s.V1DeleteOptions(propagation_policy="Background"))
        except ApiException as exc:
            if exc.status == 404:
                return
            raise ClusterError(f"kubernetes: deleting namespace {self.namespace} failed: {api_error(exc)}") from None
        self._shorten_pod_grace(int(grace_s))
        conditions: list[str] = []

        def namespace_gone() -> bool:
            try:
                ns = self.core.read_namespace(self.namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise ClusterError(f"kubernetes: reading namespace {self.namespace}: {api_error(exc)}") from None
            conditions[:] = [f"{c.type}: {c.message}" for c in (ns.status.conditions or []) if c.status == "True"] \
                if ns.status else []
            return False

        wait_until(namespace_gone, timeout_s, f"kubernetes: namespace {self.namespace} deleted", interval=self.poll_s,
                   detail=lambda: "; ".join(conditions)[:300] or "still terminating", error=ClusterError)

    def _shorten_pod_grace(self, grace_s: int) -> None:
        """Give the namespace's pods `grace_s` to end instead of their own grace periods: a
        broker's 60 s for a controlled shutdown, which cannot finish while the controllers go
        too, would hold the namespace for a minute, and nothing of theirs is kept. A terminating
        namespace admits no new pod, so no controller replaces them. Best effort: on an error the
        namespace's deletion still ends them, only later."""
        try:
            pods = self.core.list_namespaced_pod(self.namespace).items
        except ApiException:
            return
        for pod in pods:
            try:
                self.core.delete_namespaced_pod(pod.metadata.name, self.namespace, grace_period_seconds=grace_s)
            except ApiException as exc:
                if exc.status != 404:  # 404: gone already
                    return

    def remove_data(self) -> None:
        """Nothing to free here: the volumes went with the namespace."""

    # -- perf tests as Jobs -------------------------------------------------------------------

    def _perf_pod(self, heap_mb: int) -> m.PerfPod:
        o = self.options
        return m.PerfPod(cpu=o.producer_cpu, memory=o.producer_memory or f"{2 * heap_mb}Mi", heap_mb=heap_mb)

    @staticmethod
    def job_name(kind: str, topic: str) -> str:
        """`producers-<topic>`: topics are fresh per run, and a run's Job is gone before the next
        one starts; its pods are `<job>-<index>-<random>`."""
        return f"{kind}-{m.dns_label(topic, 40)}"

    def run_producers(self, load: ProducerLoad, instances: int, *, client_prefix: str, spread: str = "any",
                      on_line: LineSink | None = None, on_go: Callable[[], None] | None = None,
                      ) -> list[ProducerOutcome]:
        """The fan-out: one Indexed Job of `instances` pods placed per `spread` (producer.spread);
        one ProducerOutcome per instance, as the local fan-out returns. Kafka's ProducerPerformance
        or kafkalab's generator (load.tool). `on_go` is called when the pods get "go" behind
        their start barrier (gate.py): every instance's pod runs and is ready."""
        producers, _ = self._run_load(load, instances, None, client_prefix=client_prefix, spread=spread,
                                      on_line=on_line, on_go=on_go)
        return producers

    def run_load(self, load: ProducerLoad, instances: int, *, alongside: ConsumerLoad | None = None,
                 client_prefix: str, spread: str = "any", on_line: LineSink | None = None,
                 on_go: Callable[[], None] | None = None) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
        """The producers, with `alongside` consumers (the generator's) reading while they write: two
        Jobs behind one start barrier, the consumers joined to their group first, as locally."""
        if alongside is not None and (load.tool != "kafkalab" or alongside.tool != "kafkalab"):
            raise ClusterError("consumers alongside the producers need kafkalab's generator on both sides")
        return self._run_load(load, instances, alongside, client_prefix=client_prefix, spread=spread,
                              on_line=on_line, on_go=on_go)

    def _producer_run(self, load: ProducerLoad, instances: int, *, client_prefix: str, spread: str) -> PerfRun:
        name = self.job_name("producers", load.topic)
        labels = {m.PERF_JOB_LABEL: name}
        secret = m.client_secret(self.layout, f"{name}-client", {**load.props, "bootstrap.servers": self.bootstrap_servers},
                                 labels)
        job = (loadgen_jobs.producer_job if load.tool == "kafkalab" else m.producer_job)(
            self.layout, name=name, secret=secret.metadata.name, load=load, instances=instances,
            spread=spread, pod=self._perf_pod(load.heap_mb), client_prefix=f"{client_prefix}-producer",
            index_retries=self.options.index_retries, deadline_s=load.timeout_s + self.options.schedule_timeout_s,
        )
        return PerfRun(job, secret, instances, f"producers x{instances}", load.timeout_s)

    def _consumer_run(self, load: ConsumerLoad, *, join_first: bool) -> PerfRun:
        name = self.job_name("consumers", load.topic)
        secret = m.client_secret(self.layout, f"{name}-client", {**load.props, "bootstrap.servers": self.bootstrap_servers},
                                 {m.PERF_JOB_LABEL: name})
        job = loadgen_jobs.consumer_job(self.layout, name=name, secret=secret.metadata.name, load=load,
                                        pod=self._perf_pod(load.heap_mb), client_prefix=f"kafkalab-{load.topic}-consumer",
                                        deadline_s=load.timeout_s + self.options.schedule_timeout_s,
                                        join_first=join_first)
        return PerfRun(job, secret, load.instances, f"consumers x{load.instances}", load.timeout_s)

    def _run_load(self, load: ProducerLoad, instances: int, alongside: ConsumerLoad | None, *, client_prefix: str,
                  spread: str, on_line: LineSink | None, on_go: Callable[[], None] | None,
                  ) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
        producer_run = self._producer_run(load, instances, client_prefix=client_prefix, spread=spread)
        runs = [producer_run] if alongside is None else [self._consumer_run(alongside, join_first=True), producer_run]
        results = self.jobs.run_together(runs, schedule_timeout_s=self.options.schedule_timeout_s, on_started=on_go)
        result = results[-1]
        work_dir = self.run_dir / load.topic
        generator = load.tool == "kafkalab"
        shared = shared_nodes(result.pods) if spread == "one-per-node" else {}
        outcomes = []
        for index, pod in sorted(result.pods.items()):
            client_id = f"{client_prefix}-producer-{index}"
            if generator:
                outcome = loadgen_jobs.producer_outcome(index, pod, client_id=client_id, load=load,
                                                        read_log=result.read_log, work_dir=work_dir)
            else:
                outcome = producer_outcome(index, pod, client_id=client_id, load=load, read_log=result.read_log)
            if result.timed_out and outcome.exit_code is None:
                outcome.error = f"still running after {load.timeout_s:.0f}s, stopped"
            keep_output(work_dir, f"producer-{index}", outcome.raw_output,
                        loadgen_jobs.readable(on_line) if generator else on_line)
            outcomes.append(outcome)
        consumers = [] if alongside is None else self._consumer_outcomes(
            alongside, results[0], counted=False, on_line=on_line)  # what the topic holds is known only now
        if shared:  # one-per-node met only one after the other: not a fan-out (outputs kept above)
            index = min(shared)
            raise SchedulingError(f"producers x{instances}: instance {index} {shared[index]}; "
                                  f"Job {producer_run.name} deleted")
        return outcomes, consumers

    def _consumer_outcomes(self, load: ConsumerLoad, result: JobResult, *, counted: bool | None,
                           on_line: LineSink | None) -> list[ConsumerOutcome]:
        work_dir = self.run_dir / load.topic
        outcomes = []
        for index, pod in sorted(result.pods.items()):
            outcome = loadgen_jobs.consumer_outcome(index, pod, load=load, read_log=result.read_log, work_dir=work_dir,
                                                    counted=counted)
            if result.timed_out and outcome.exit_code is None:
                outcome.error, outcome.status = f"still running after {load.timeout_s:.0f}s, stopped", "failed"
            keep_output(work_dir, f"consumer-{index}", outcome.raw_output, loadgen_jobs.readable(on_line))
            outcomes.append(outcome)
        return outcomes

    def run_consumer(self, load: ConsumerLoad, *, group: str, on_line: LineSink | None = None) -> ConsumerOutcome:
        """The consumer test as a Job of one pod; same result path as the producers'."""
        name = self.job_name("consumer", load.topic)
        secret = m.client_secret(self.layout, f"{name}-client", dict(load.props), {m.PERF_JOB_LABEL: name})
        job = m.consumer_job(self.layout, name=name, secret=secret.metadata.name, load=load,
                             bootstrap=self.bootstrap_servers, group=group, pod=self._perf_pod(load.heap_mb),
                             deadline_s=load.timeout_s + self.options.schedule_timeout_s)
        result = self.jobs.run(job, secret, completions=1, schedule_timeout_s=self.options.schedule_timeout_s,
                               timeout_s=load.timeout_s, what="consumer test")
        outcome = consumer_outcome(result.pods.get(0), load=load, read_log=result.read_log)
        if result.timed_out and outcome.exit_code is None:
            outcome.error = f"still running after {load.timeout_s:.0f}s, stopped"
            outcome.status = "failed"
        keep_output(self.run_dir / load.topic, "consumer", outcome.raw_output, on_line)
        return outcome

    def run_consumers(self, load: ConsumerLoad, *, on_line: LineSink | None = None) -> list[ConsumerOutcome]:
        """After the producers: ConsumerPerformance as one pod, or the generator's `load.instances`
        consumers as one Indexed Job behind the start barrier."""
        if load.tool != "kafkalab":
            return [self.run_consumer(load, group=load.group, on_line=on_line)]
        (result,) = self.jobs.run_together([self._consumer_run(load, join_first=False)],
                                           schedule_timeout_s=self.options.schedule_timeout_s)
        return self._consumer_outcomes(load, result, counted=None, on_line=on_line)

    # -- faults: broker pods deleted and held down (broker_faults.py) ---------------------------

    @property
    def faults(self) -> BrokerFaults:
        if self._faults is None:
            self._faults = BrokerFaults(self.core, self.namespace, poll_s=self.poll_s, registered=lambda: {
                b.node_id for b in self.kafka.registered_brokers(self)})
        return self._faults

    def kill_broker(self, node_id: int) -> None:
        """Delete the broker's pod with grace period 0 (no controlled shutdown); held down until start_broker."""
        self.faults.take_down(node_id, grace_s=None)

    def stop_broker(self, node_id: int, grace_s: float = 30) -> None:
        """Delete the broker's pod with `grace_s` for its controlled shutdown, and wait; held down until start_broker."""
        self.faults.take_down(node_id, grace_s=grace_s)

    def start_broker(self, node_id: int) -> int:
        """Let the pod the StatefulSet recreated start Kafka (same claim: same data with persistent storage)."""
        return self.faults.bring_back(node_id)

    def wait_broker_back(self, node_id: int, since: int, timeout_s: float = 120) -> None:
        self.faults.wait_back(node_id, since, timeout_s)

    def down_brokers(self) -> list[int]:
        return self.faults.down()

    # -- metrics: each broker's JMX, sampled inside its pod (pod_exec.py) ------------------------

    def metrics_targets(self) -> list[MetricsTarget]:
        """Each broker's JMX on its pod's 127.0.0.1 (m.JMX_PORT), reachable only inside that pod."""
        return [MetricsTarget("broker-jmx", f"broker-{b.node_id}", f"127.0.0.1:{m.JMX_PORT}", inside=b.name)
                for b in self.brokers]

    def run_loadgen_inside(self, place: str, args: list[str], *, heap_mb: int, jvm_options: tuple[str, ...],
                           log_path: Path, on_line: Callable[[str], None]) -> PodCommand:
        """The image's load generator in broker pod `place`'s Kafka container, over pods/exec.

        Its JVM counts against the broker container's CPU and memory (SAMPLER_MEMORY_MB is added
        to the default memory); the container's environment sets the broker's heap, hence the
        sampler's own."""
        command = ["env", f"KAFKA_HEAP_OPTS=-Xms{heap_mb}m -Xmx{heap_mb}m",
                   f"KAFKA_JVM_PERFORMANCE_OPTS={' '.join(('-XX:+UseSerialGC', *jvm_options))}",
                   loadgen_jobs.LOADGEN_TOOL, *args]
        return PodCommand(self.api, self.namespace, place, "kafka", command, log_path, on_line)

    # -- the fingerprint --------------------------------------------------------------------

    def node_descriptions(self) -> list[dict[str, object]]:
        """The nodes the broker pods run on, from their Node objects (kafkalab.platforms.kubernetes.nodes)."""
        from kafkalab.platforms.kubernetes.nodes import broker_nodes

        return broker_nodes(self.core, self._node_pods("broker"))


def planned_broker_config(layout: m.Layout, settings: BrokerSettings, broker_count: int) -> dict[str, object]:
    """The whole config of broker 0 in `layout`: the shared properties plus what its pod adds
    (NODE_SCRIPT), for Kafka's own config check before anything is created."""
    return {
        **m.node_properties(layout, "broker", settings.applied, settings.defaults_for(broker_count)),
        "node.id": 0,
        "log.dirs": f"{m.DATA_DIR}/kraft",
        "advertised.listeners": f"PLAINTEXT://{layout.host('broker', 0)}:{m.BROKER_PORT}",
    }
