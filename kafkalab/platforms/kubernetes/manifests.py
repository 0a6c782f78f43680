"""The Kubernetes objects of a kafkalab cluster and of its perf-test Jobs: pure functions, no API calls.

A cluster lives in a namespace of its own (labelled, so teardown and `kubectl get ns -l
app.kubernetes.io/managed-by=kafkalab` find it): a ConfigMap with the broker and controller
settings (the same mapping the local platform writes into server.properties), a headless
Service and a StatefulSet per role. The container command computes node.id from the pod's
ordinal (kafka-broker-2 -> 2, kafka-controller-0 -> 1000, as locally), formats its storage
for the cluster id and starts the node. The image (images.py) is kafkalab.local/kafka by
default, whose /opt/kafka/bin scripts (docker/kafka/) stand where apache/kafka has its own.

Perf tests are Jobs in the same image: the producer fan-out one Indexed Job (completion
index = instance), the consumer test a plain Job. Client settings come from a Secret
mounted as a file, never from the command line; the summary line goes to the
termination message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kubernetes import client as k8s

from kafkalab.kafka import perftools
from kafkalab.kafka.loadgen import BARRIER_LINE
from kafkalab.kafka.properties import render_properties
from kafkalab.platforms.local import CONTROLLER_ID_BASE  # controllers 1000.., brokers 0..N-1 on both platforms

MANAGED_BY = "app.kubernetes.io/managed-by"
CLUSTER_LABEL = "kafkalab.io/cluster"
ROLE_LABEL = "kafkalab.io/role"
PERF_JOB_LABEL = "kafkalab.io/perf-job"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"

BROKER_PORT = 9092
CONTROLLER_PORT = 9093
# A broker's JMX, on its pod's 127.0.0.1 only (kafkalab/java/LoopbackJmx.java via the image's
# kafka-server-start.sh): no container port, no Service; the flow's sampler runs inside the pod.
JMX_PORT = 9999
KAFKA_UID = 1000  # kafka in kafkalab's image (kubetestbed/images.py), appuser in apache/kafka
DATA_DIR = "/var/lib/kafka/data"
CONFIG_DIR = "/etc/kafkalab"
CLIENT_CONFIG_DIR = "/etc/kafkalab/client"
WORK_DIR = "/tmp/kafkalab"  # inside the container: the copied client config, the tool's output
KAFKA_BIN = "/opt/kafka/bin"
PRODUCER_TOOL = f"{KAFKA_BIN}/kafka-producer-perf-test.sh"
CONSUMER_TOOL = f"{KAFKA_BIN}/kafka-consumer-perf-test.sh"
# What a perf pod keeps as its termination message (at most 4096 bytes): the result lines.
PRODUCER_RESULT_LINES = r" ms 99\.9th\."
CONSUMER_RESULT_LINES = r"^(start\.time|[0-9]{4}-[0-9]{2}-[0-9]{2} )"
# The start gate (kafkalab/platforms/kubernetes/gate.py): the flow sets START_ANNOTATION to "go"
# on a pod, and the kubelet writes it into START_DIR/go (downward API, rewritten on every
# update of the pod, unlike a mounted ConfigMap). Perf pods wait there before their load; a
# broker pod waits there only while a fault holds it down (its pod name a key of HOLDS_CONFIG_MAP).
START_ANNOTATION = "kafkalab.io/start"
START_DIR = "/etc/kafkalab-start"
HOLDS_CONFIG_MAP = "kafka-holds"
HOLDS_DIR = "/etc/kafkalab-holds"

ROLES = ("controller", "broker")


def dns_label(text: str, max_len: int = 63) -> str:
    """`Guide Baseline_2` -> `guide-baseline-2`: a valid DNS-1123 label (names of namespaces, Jobs)."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)[:max_len].strip("-")
    return label or "x"


@dataclass(frozen=True)
class Layout:
    """Where a cluster's objects live and how its nodes find each other."""

    namespace: str
    cluster_label: str  # value of kafkalab.io/cluster on every object
    kafka_cluster_id: str  # the KRaft cluster id every node is formatted with
    image: str
    image_pull_policy: str = "IfNotPresent"
    controllers: int = 1

    def labels(self, role: str | None = None) -> dict[str, str]:
        out = {MANAGED_BY: "kafkalab", CLUSTER_LABEL: self.cluster_label}
        if role:
            out[ROLE_LABEL] = role
            out["app.kubernetes.io/name"] = "kafka"
            out["app.kubernetes.io/component"] = role
        return out

    @staticmethod
    def set_name(role: str) -> str:
        """StatefulSet and its headless Service: kafka-broker, kafka-controller."""
        return f"kafka-{role}"

    def host(self, role: str, ordinal: int) -> str:
        """The DNS name of a node's pod through its headless Service."""
        name = self.set_name(role)
        return f"{name}-{ordinal}.{name}.{self.namespace}.svc"

    @property
    def quorum_voters(self) -> str:
        return ",".join(
            f"{CONTROLLER_ID_BASE + i}@{self.host('controller', i)}:{CONTROLLER_PORT}" for i in range(self.controllers)
        )

    def bootstrap_servers(self, broker_ordinals: list[int]) -> str:
        return ",".join(f"{self.host('broker', i)}:{BROKER_PORT}" for i in broker_ordinals)

    def meta(self, name: str, role: str | None = None, extra_labels: Mapping[str, str] | None = None) -> k8s.V1ObjectMeta:
        return k8s.V1ObjectMeta(name=name, namespace=self.namespace, labels={**self.labels(role), **(extra_labels or {})})


# --- the cluster ---------------------------------------------------------------------------


def namespace(layout: Layout) -> k8s.V1Namespace:
    return k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=layout.namespace, labels=layout.labels()))


def node_properties(layout: Layout, role: str, broker_settings: Mapping[str, str] | None = None,
                    broker_defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    """server.properties shared by every node of a role; node.id and the advertised host are added per pod.

    Brokers: the defaults for the broker count, kafkalab's listeners, then the spec's settings
    (kafkalab.broker_config.resolve_broker_settings, the same as locally).
    """
    common = {
        "process.roles": role,
        "controller.quorum.voters": layout.quorum_voters,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    }
    if role == "controller":
        return {**common, "listeners": f"CONTROLLER://:{CONTROLLER_PORT}"}
    return {
        **dict(broker_defaults or {}),
        **common,
        "listeners": f"PLAINTEXT://:{BROKER_PORT}",
        "inter.broker.listener.name": "PLAINTEXT",
        **dict(broker_settings or {}),
    }


CONFIG_MAP = "kafka-config"


def config_map(layout: Layout, broker: Mapping[str, str], controller: Mapping[str, str]) -> k8s.V1ConfigMap:
    return k8s.V1ConfigMap(
        metadata=layout.meta(CONFIG_MAP),
        data={"broker.properties": render_properties(broker), "controller.properties": render_properties(controller)},
    )


def headless_service(layout: Layout, role: str) -> k8s.V1Service:
    """Stable per-pod DNS names (kafka-broker-0.kafka-broker.<ns>.svc), also before a pod is ready:
    controllers must find each other to form the quorum."""
    port = BROKER_PORT if role == "broker" else CONTROLLER_PORT
    return k8s.V1Service(
        metadata=layout.meta(layout.set_name(role), role),
        spec=k8s.V1ServiceSpec(
            cluster_ip="None",
            publish_not_ready_addresses=True,
            selector=layout.labels(role),
            ports=[k8s.V1ServicePort(name="broker" if role == "broker" else "controller", port=port, target_port=port)],
        ),
    )


# POSIX sh (the image's /bin/sh). node.id from the ordinal at the end of the pod's hostname.
NODE_SCRIPT = r"""set -eu
ordinal="${HOSTNAME##*-}"
node_id=$((KAFKALAB_NODE_ID_BASE + ordinal))
if [ -e "/etc/kafkalab-holds/$HOSTNAME" ]; then  # a fault keeps this broker down until the flow says go
  echo "kafkalab: $HOSTNAME held down by a fault, waiting for go"
  until [ "$(cat /etc/kafkalab-start/go 2>/dev/null)" = go ]; do sleep 0.2; done
fi
mkdir -p /tmp/kafkalab
config=/tmp/kafkalab/server.properties
cp "/etc/kafkalab/${KAFKALAB_ROLE}.properties" "$config"
printf 'node.id=%s\nlog.dirs=%s/kraft\n' "$node_id" "$KAFKALAB_DATA_DIR" >> "$config"
if [ "$KAFKALAB_ROLE" = broker ]; then
  printf 'advertised.listeners=PLAINTEXT://%s.%s.%s.svc:%s\n' "$HOSTNAME" "$KAFKALAB_SERVICE" "$POD_NAMESPACE" "$KAFKALAB_PORT" >> "$config"
fi
echo "kafkalab: ${KAFKALAB_ROLE} node.id=${node_id} on ${HOSTNAME}"
/opt/kafka/bin/kafka-storage.sh format --cluster-id "$KAFKALAB_CLUSTER_ID" --config "$config" --ignore-formatted
exec /opt/kafka/bin/kafka-server-start.sh "$config"
"""


@dataclass(frozen=True)
class NodeResources:
    """Per-node resources (requests = limits: a load test wants what it measures on to be fixed)."""

    cpu: str
    memory: str
    heap_mb: int
    storage: str = "persistent"  # persistent | ephemeral
    storage_class: str | None = None
    storage_size: str = "10Gi"


def _security_context() -> k8s.V1PodSecurityContext:
    return k8s.V1PodSecurityContext(run_as_user=KAFKA_UID, run_as_group=KAFKA_UID, fs_group=KAFKA_UID, run_as_non_root=True)


def _container_security() -> k8s.V1SecurityContext:
    return k8s.V1SecurityContext(allow_privilege_escalation=False, capabilities=k8s.V1Capabilities(drop=["ALL"]))


def _start_volume() -> k8s.V1Volume:
    """START_DIR/go: the pod's own START_ANNOTATION (empty until the flow sets it)."""
    return k8s.V1Volume(name="start", downward_api=k8s.V1DownwardAPIVolumeSource(items=[k8s.V1DownwardAPIVolumeFile(
        path="go", field_ref=k8s.V1ObjectFieldSelector(field_path=f"metadata.annotations['{START_ANNOTATION}']"))]))


def _start_mount() -> k8s.V1VolumeMount:
    return k8s.V1VolumeMount(name="start", mount_path=START_DIR, read_only=True)


def _resources(cpu: str, memory: str) -> k8s.V1ResourceRequirements:
    values = {"cpu": cpu, "memory": memory}
    return k8s.V1ResourceRequirements(requests=dict(values), limits=dict(values))


def node_stateful_set(layout: Layout, role: str, replicas: int, res: NodeResources) -> k8s.V1StatefulSet:
    """The controllers (replicas = the quorum size, fixed) or the brokers (replicas = the broker count)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    name = layout.set_name(role)
    port = BROKER_PORT if role == "broker" else CONTROLLER_PORT
    env = [
        k8s.V1EnvVar(name="KAFKALAB_ROLE", value=role),
        k8s.V1EnvVar(name="KAFKALAB_NODE_ID_BASE", value=str(0 if role == "broker" else CONTROLLER_ID_BASE)),
        k8s.V1EnvVar(name="KAFKALAB_CLUSTER_ID", value=layout.kafka_cluster_id),
        k8s.V1EnvVar(name="KAFKALAB_SERVICE", value=name),
        k8s.V1EnvVar(name="KAFKALAB_PORT", value=str(port)),
        k8s.V1EnvVar(name="KAFKALAB_DATA_DIR", value=DATA_DIR),
        k8s.V1EnvVar(name="POD_NAMESPACE", value_from=k8s.V1EnvVarSource(
            field_ref=k8s.V1ObjectFieldSelector(field_path="metadata.namespace"))),
        k8s.V1EnvVar(name="KAFKA_HEAP_OPTS", value=f"-Xms{res.heap_mb}m -Xmx{res.heap_mb}m"),
    ]
    if role == "broker":
        env.append(k8s.V1EnvVar(name="KAFKALAB_JMX_PORT", value=str(JMX_PORT)))
    container = k8s.V1Container(
        name="kafka",
        image=layout.image,
        image_pull_policy=layout.image_pull_policy,
        command=["/bin/sh", "-c", NODE_SCRIPT],
        env=env,
        ports=[k8s.V1ContainerPort(name=role, container_port=port)],
        readiness_probe=k8s.V1Probe(tcp_socket=k8s.V1TCPSocketAction(port=port), period_seconds=5, failure_threshold=3),
        resources=_resources(res.cpu, res.memory),
        security_context=_container_security(),
        volume_mounts=[
            k8s.V1VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
            k8s.V1VolumeMount(name="data", mount_path=DATA_DIR),
            k8s.V1VolumeMount(name="holds", mount_path=HOLDS_DIR, read_only=True),
            _start_mount(),
        ],
    )
    volumes = [k8s.V1Volume(name="config", config_map=k8s.V1ConfigMapVolumeSource(name=CONFIG_MAP)),
               # read once at the pod's start (a new pod sees the map as it is): no refresh delay matters
               k8s.V1Volume(name="holds", config_map=k8s.V1ConfigMapVolumeSource(name=HOLDS_CONFIG_MAP, optional=True)),
               _start_volume()]
    claims = None
    if res.storage == "ephemeral":
        volumes.append(k8s.V1Volume(name="data", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit=res.storage_size)))
    else:
        claims = [k8s.V1PersistentVolumeClaim(
            metadata=k8s.V1ObjectMeta(name="data", labels=layout.labels(role)),
            spec=k8s.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                storage_class_name=res.storage_class,
                resources=k8s.V1VolumeResourceRequirements(requests={"storage": res.storage_size}),
            ),
        )]
    return k8s.V1StatefulSet(
        metadata=layout.meta(name, role),
        spec=k8s.V1StatefulSetSpec(
            replicas=replicas,
            service_name=name,
            pod_management_policy="Parallel",  # all nodes start together, as locally
            selector=k8s.V1LabelSelector(match_labels=layout.labels(role)),
            persistent_volume_claim_retention_policy=k8s.V1StatefulSetPersistentVolumeClaimRetentionPolicy(
                when_deleted="Delete", when_scaled="Delete",  # a removed broker's data goes with it
            ) if claims else None,
            volume_claim_templates=claims,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=layout.labels(role)),
                spec=k8s.V1PodSpec(
                    containers=[container],
                    volumes=volumes,
                    security_context=_security_context(),
                    automount_service_account_token=False,  # Kafka needs no API access
                    termination_grace_period_seconds=60 if role == "broker" else 30,  # controlled shutdown
                ),
            ),
        ),
    )


# --- perf-test Jobs ---------------------------------------------------------------------------

PERF_SCRIPT = r"""set -u
umask 077
mkdir -p /tmp/kafkalab
cp /etc/kafkalab/client/client.properties /tmp/kafkalab/client.properties
if [ -n "${KAFKALAB_CLIENT_PREFIX:-}" ]; then
  printf 'client.id=%s-%s\n' "$KAFKALAB_CLIENT_PREFIX" "${JOB_COMPLETION_INDEX:-0}" >> /tmp/kafkalab/client.properties
fi
# The start barrier: "go" arrives as the pod's annotation (START_DIR/go, see gate.py).
went() { [ "$(cat /etc/kafkalab-start/go 2>/dev/null)" = go ]; }
if [ -n "${KAFKALAB_BARRIER_MAIN:-}" ] && [ -x /opt/kafkalab/bin/kafkalab-start-barrier ]; then
  # kafkalab's image: the tool's JVM boots behind StartBarrier (kafkalab/java/StartBarrier.java), as locally
  set -- "$KAFKALAB_BARRIER_MAIN" "$@"
  KAFKALAB_TOOL=/opt/kafkalab/bin/kafkalab-start-barrier
  KAFKALAB_TOOL_READS_GO=1
fi
if [ "${KAFKALAB_TOOL_READS_GO:-}" = 1 ]; then
  # The tool boots, prints the barrier line itself and reads "go" on stdin: a FIFO fed from here.
  mkfifo /tmp/kafkalab/go
  { "$KAFKALAB_TOOL" "$@" < /tmp/kafkalab/go 2>&1; echo $? > /tmp/kafkalab/exit-code; } | tee /tmp/kafkalab/output.log &
  run=$!
  exec 3> /tmp/kafkalab/go
  until went || ! kill -0 "$run" 2>/dev/null; do sleep 0.1; done
  trap '' PIPE  # a tool that died before "go": its exit code counts, not this write's
  echo go >&3
  exec 3>&-
  wait "$run"
else
  echo "$KAFKALAB_BARRIER_LINE"  # the tool starts its JVM after "go"
  until went; do sleep 0.1; done
  { "$KAFKALAB_TOOL" "$@" 2>&1; echo $? > /tmp/kafkalab/exit-code; } | tee /tmp/kafkalab/output.log
fi
code=$(cat /tmp/kafkalab/exit-code 2>/dev/null || echo 1)
grep -E "$KAFKALAB_RESULT_LINES" /tmp/kafkalab/output.log | tail -c 4000 > /dev/termination-log
exit "$code"
"""
CLIENT_CONFIG_FILE = f"{WORK_DIR}/client.properties"


def client_secret(layout: Layout, name: str, props: Mapping[str, str], extra_labels: Mapping[str, str]) -> k8s.V1Secret:
    """The perf tool's client settings (credentials included) as a file, never on a command line."""
    return k8s.V1Secret(
        metadata=layout.meta(name, extra_labels=extra_labels),
        type="Opaque",
        string_data={"client.properties": render_properties(props)},
    )


@dataclass(frozen=True)
class PerfPod:
    """What a perf-test pod runs and with which resources."""

    cpu: str
    memory: str
    heap_mb: int


def spread_rules(spread: str, selector: Mapping[str, str]) -> tuple[k8s.V1Affinity | None, list[k8s.V1TopologySpreadConstraint] | None]:
    """`one-per-node`: required anti-affinity on the hostname (the guide's Marathon `hostname UNIQUE`);
    `spread`: at most one more pod on a node than on any other; `any`: wherever the scheduler likes."""
    match = k8s.V1LabelSelector(match_labels=dict(selector))
    if spread == "one-per-node":
        term = k8s.V1PodAffinityTerm(label_selector=match, topology_key=HOSTNAME_TOPOLOGY)
        return k8s.V1Affinity(pod_anti_affinity=k8s.V1PodAntiAffinity(
            required_during_scheduling_ignored_during_execution=[term])), None
    if spread == "spread":
        return None, [k8s.V1TopologySpreadConstraint(
            max_skew=1, topology_key=HOSTNAME_TOPOLOGY, when_unsatisfiable="DoNotSchedule", label_selector=match)]
    if spread == "any":
        return None, None
    raise ValueError(f"producer.spread: must be one-per-node, spread or any, got {spread!r}")


def perf_job(
    layout: Layout,
    *,
    name: str,
    secret: str,
    tool: str,
    args: list[str],
    result_lines: str,
    pod: PerfPod,
    instances: int = 1,
    indexed: bool = False,
    spread: str = "any",
    client_prefix: str | None = None,
    index_retries: int = 0,
    deadline_s: float | None = None,
    tool_reads_go: bool = False,
    barrier_main: str | None = None,
) -> k8s.V1Job:
    """A perf tool as a Job: `indexed` with completions = parallelism = `instances` (one pod per
    instance, JOB_COMPLETION_INDEX = instance), else one pod. Nothing restarts in place; with
    `index_retries` an index that failed gets a new pod (backoffLimitPerIndex).

    Every pod waits behind the start barrier: `tool_reads_go` for a tool that prints the
    barrier line itself and reads "go" on stdin (kafkalab's generator); else, in an image with
    kafkalab's StartBarrier, `barrier_main` (the tool's main class) boots behind it; else the
    tool starts after "go"."""
    job_labels = {PERF_JOB_LABEL: name}
    affinity, spread_constraints = spread_rules(spread, {CLUSTER_LABEL: layout.cluster_label, **job_labels})
    env = [
        k8s.V1EnvVar(name="KAFKALAB_TOOL", value=tool),
        k8s.V1EnvVar(name="KAFKALAB_RESULT_LINES", value=result_lines),
        k8s.V1EnvVar(name="KAFKA_HEAP_OPTS", value=f"-Xms{pod.heap_mb}m -Xmx{pod.heap_mb}m"),
        k8s.V1EnvVar(name="KAFKALAB_BARRIER_LINE", value=BARRIER_LINE),
        k8s.V1EnvVar(name="KAFKALAB_TOOL_READS_GO", value="1" if tool_reads_go else "0"),
    ]
    if barrier_main and not tool_reads_go:
        env.append(k8s.V1EnvVar(name="KAFKALAB_BARRIER_MAIN", value=barrier_main))
    if client_prefix:
        env.append(k8s.V1EnvVar(name="KAFKALAB_CLIENT_PREFIX", value=client_prefix))
    container = k8s.V1Container(
        name="perf",
        image=layout.image,
        image_pull_policy=layout.image_pull_policy,
        command=["/bin/sh", "-c", PERF_SCRIPT, "kafkalab-perf", *args],
        env=env,
        resources=_resources(pod.cpu, pod.memory),
        security_context=_container_security(),
        termination_message_path="/dev/termination-log",
        termination_message_policy="FallbackToLogsOnError",
        volume_mounts=[k8s.V1VolumeMount(name="client-config", mount_path=CLIENT_CONFIG_DIR, read_only=True),
                       _start_mount()],
    )
    spec = k8s.V1JobSpec(
        completions=instances if indexed else 1,
        parallelism=instances if indexed else 1,
        completion_mode="Indexed" if indexed else "NonIndexed",
        active_deadline_seconds=int(deadline_s) if deadline_s else None,
        template=k8s.V1PodTemplateSpec(
            metadata=k8s.V1ObjectMeta(labels={**layout.labels(), **job_labels}),
            spec=k8s.V1PodSpec(
                restart_policy="Never",
                containers=[container],
                affinity=affinity,
                topology_spread_constraints=spread_constraints,
                security_context=_security_context(),
                automount_service_account_token=False,
                volumes=[k8s.V1Volume(name="client-config", secret=k8s.V1SecretVolumeSource(
                    secret_name=secret, default_mode=0o440)), _start_volume()],
            ),
        ),
    )
    if indexed:
        spec.backoff_limit_per_index = index_retries
    else:
        spec.backoff_limit = index_retries
    return k8s.V1Job(metadata=layout.meta(name, extra_labels=job_labels), spec=spec)


def producer_job(layout: Layout, *, name: str, secret: str, load, instances: int, spread: str, pod: PerfPod,
                 client_prefix: str, index_retries: int = 0, deadline_s: float | None = None) -> k8s.V1Job:
    """The producer fan-out: one Indexed Job, kafka-producer-perf-test with kafkalab.perftools' arguments."""
    args = perftools.producer_args(
        topic=load.topic, num_records=load.num_records, record_size=load.record_size, throughput=load.throughput,
        config_file=CLIENT_CONFIG_FILE, reporting_interval_ms=load.reporting_interval_ms,  # type: ignore[arg-type]
    )
    return perf_job(
        layout, name=name, secret=secret, tool=PRODUCER_TOOL, args=args, result_lines=PRODUCER_RESULT_LINES,
        pod=pod, instances=instances, indexed=True, spread=spread, client_prefix=client_prefix,
        index_retries=index_retries, deadline_s=deadline_s, barrier_main=perftools.PRODUCER_MAIN,
    )


def consumer_job(layout: Layout, *, name: str, secret: str, load, bootstrap: str, group: str, pod: PerfPod,
                 deadline_s: float | None = None) -> k8s.V1Job:
    """The consumer test: one pod of kafka-consumer-perf-test with kafkalab.perftools' arguments."""
    args = perftools.consumer_args(
        bootstrap_servers=bootstrap, topic=load.topic, num_records=load.num_records, timeout_ms=load.timeout_ms,
        config_file=CLIENT_CONFIG_FILE, group=group,  # type: ignore[arg-type]
    )
    return perf_job(
        layout, name=name, secret=secret, tool=CONSUMER_TOOL, args=args, result_lines=CONSUMER_RESULT_LINES,
        pod=pod, deadline_s=deadline_s,
    )
