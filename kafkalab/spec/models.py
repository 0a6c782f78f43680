"""Experiment specs: what to run, validated before anything starts.

A spec is YAML (or the same structure from the Prefect UI). Settings use Kafka's own
dotted property names (`batch.size`, `num.io.threads`); the guide's options.json form
(`num_io_threads`, or a whole options.json file) is accepted for broker settings too.
Every error names the field it is about, e.g. `producer.num_records: must be >= 1`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kafkalab.core.errors import SpecError
from kafkalab.core.secrets import check_reference
from kafkalab.kafka.distribution import DEFAULT_KAFKA_VERSION
from kafkalab.kafka.security import INTERNAL_USER, RESERVED_CLIENT_KEYS
from kafkalab.spec.keys import normalize_key
from kafkalab.spec.platforms import PlatformName
from kafkalab.spec.profiles import ProfileName, apply_profile

Scalar = str | int | float | bool

COMPRESSION_TYPES = ("none", "gzip", "snappy", "lz4", "zstd")
ACKS = ("0", "1", "-1", "all")
# Producer and consumer settings whose values must be whole numbers >= 0.
_NON_NEGATIVE_INT_PROPS = {
    "batch.size", "linger.ms", "buffer.memory", "retries", "max.in.flight.requests.per.connection",
    "max.request.size", "request.timeout.ms", "delivery.timeout.ms", "fetch.min.bytes", "fetch.max.wait.ms",
    "max.partition.fetch.bytes", "fetch.max.bytes", "max.poll.records", "session.timeout.ms",
}
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,50}$")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
EXTERNAL_MAX_BYTES = 2**30  # load.max_bytes on platform external unless the spec sets it: 1 GiB
# cluster.security settings of a client of a cluster kafkalab did not make (platform external).
_EXTERNAL_ONLY_SECURITY = ("ca_file", "client_certificate", "client_key", "client_key_password")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _normalize_props(values: dict[str, Any], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_key, value in (values or {}).items():
        if not isinstance(raw_key, str) or not raw_key.strip():
            raise ValueError(f"{where}: setting names must be non-empty strings")
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError(f"{where}.{raw_key}: must be a single value (string, number or boolean)")
        key = normalize_key(raw_key)
        out[key] = _java_value(value)
    return out


def _java_value(value: Scalar) -> str:
    """A YAML value as Kafka reads it: booleans lower-case, integral floats without '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return str(value)


def _check_client_props(props: dict[str, str], where: str) -> None:
    for key, value in props.items():
        if key in _NON_NEGATIVE_INT_PROPS and not re.fullmatch(r"\d+", value):
            raise ValueError(f"{where}.{key}: must be a whole number >= 0, got {value!r}")
    if "compression.type" in props and props["compression.type"] not in COMPRESSION_TYPES:
        raise ValueError(
            f"{where}.compression.type: must be one of {', '.join(COMPRESSION_TYPES)}, got {props['compression.type']!r}"
        )
    if "acks" in props and props["acks"] not in ACKS:
        raise ValueError(f"{where}.acks: must be one of {', '.join(ACKS)}, got {props['acks']!r}")
    for reserved in ("bootstrap.servers", "client.id", "key.serializer", "value.serializer"):
        if reserved in props:
            raise ValueError(f"{where}.{reserved}: set by kafkalab for each instance, leave it out of the spec")
    for key in props:
        if key in RESERVED_CLIENT_KEYS:
            raise ValueError(f"{where}.{key}: set by kafkalab from cluster.security, leave it out of the spec")


_TITLE_UNITS = {"mb": "MB", "ms": "ms", "s": "s"}


# Share groups (KIP-932): early access in 4.0, a preview switched off in 4.1, generally
# available (and on in a freshly formatted cluster) from 4.2.
SHARE_GROUPS_SINCE = (4, 2)


def share_groups_available(kafka_version: str) -> bool:
    return tuple(int(part) for part in kafka_version.split(".")[:2]) >= SHARE_GROUPS_SINCE


def _field_title(name: str, _info: Any) -> str:
    """Form labels for the Prefect UI: `heap_mb` -> `Heap (MB)`, `ready_timeout_s` -> `Ready timeout (s)`."""
    words = name.split("_")
    unit = _TITLE_UNITS.get(words[-1]) if len(words) > 1 else None
    title = " ".join(words[:-1] if unit else words).capitalize()
    return f"{title} ({unit})" if unit else title


def _model_title(cls: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).capitalize()  # ExperimentSpec -> Experiment spec


def form_order(schema: dict[str, Any], *_: Any) -> None:
    """Keep the fields' order in forms: Prefect's PostgreSQL database stores the parameter
    schema as JSONB, which sorts keys, and the UI orders fields by `position`."""
    for position, prop in enumerate(schema.get("properties", {}).values()):
        prop.setdefault("position", position)


def _run_name(value: str) -> str:
    """Experiment and sweep names: stored, shown in the UI, used in directory names."""
    if not _NAME.match(value):
        raise ValueError("must start with a letter or digit and hold only letters, digits, '.', '_' or '-' (max 100)")
    return value


def _client_props(value: Any, where: str) -> dict[str, str]:
    """Producer or consumer settings: a mapping, Kafka names, values Kafka would accept."""
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of setting name to value")
    props = _normalize_props(value, where)
    _check_client_props(props, where)
    return props


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_default=True, field_title_generator=_field_title,
        model_title_generator=_model_title, json_schema_extra=form_order,
    )


class ClientQuotasSpec(_Strict):
    """Quotas of the cluster's default client-id (Kafka's client quotas): every producer and
    consumer instance is throttled beyond them. Set once the brokers are up."""

    producer_byte_rate: float | None = Field(
        None, gt=0, description="Bytes/s each producer may send before the brokers throttle it.")
    consumer_byte_rate: float | None = Field(
        None, gt=0, description="Bytes/s each consumer may fetch before the brokers throttle it.")
    request_percentage: float | None = Field(
        None, gt=0, description="Share of one request-handler and network thread each client may use, in percent.")

    def kafka_names(self) -> dict[str, float]:
        """The quotas that are set, under Kafka's names."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class SecuritySpec(_Strict):
    """How clients reach the brokers: SASL authentication and TLS encryption, or neither."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="security.protocol of the broker listener that clients and replication use."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism of the perf tools' user (SASL protocols only)."
    )
    username: str = Field("kafkalab", description="The perf tools' SASL user.")
    password: str | None = Field(
        None, description="env:VARIABLE or prefect-secret:BLOCK_NAME; empty: a random password per cluster."
    )

    ca_file: str | None = Field(
        None, description="platform external: PEM file of the CA that signed the brokers' certificates; "
                          "default the system's trust store.",
    )
    client_certificate: str | None = Field(
        None, description="platform external: PEM file of the client certificate (chain), for brokers that ask for one.",
    )
    client_key: str | None = Field(None, description="platform external: PEM file of the client certificate's key.")
    client_key_password: str | None = Field(
        None, description="platform external: env:VARIABLE or prefect-secret:BLOCK_NAME of the key's password, if any.",
    )

    @field_validator("ca_file", "client_certificate", "client_key")
    @classmethod
    def _pem_file(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"no such file {path}")
        return str(path)

    @field_validator("client_key_password")
    @classmethod
    def _key_password(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_reference(value)

    @model_validator(mode="after")
    def _certificate_with_key(self) -> SecuritySpec:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("cluster.security.client_key: a client certificate needs its key, and the key its certificate")
        return self

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
        if value == INTERNAL_USER:
            raise ValueError(f"{INTERNAL_USER} is the brokers' own user, choose another name")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_reference(value)


_QUANTITY = re.compile(r"^(\d+(\.\d+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_QUANTITY_MIB = {None: 1 / 2**20, "m": 1 / 2**20 / 1000, "k": 1000 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024,
                 "Ti": 2**20, "M": 10**6 / 2**20, "G": 10**9 / 2**20, "T": 10**12 / 2**20}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _quantity(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be a positive Kubernetes quantity like 500m, 2 or 1Gi, got {value!r}")
    value = _java_value(value).strip()
    if not _QUANTITY.match(value) or float(_QUANTITY.match(value).group(1)) <= 0:
        raise ValueError(f"must be a positive Kubernetes quantity like 500m, 2 or 1Gi, got {value!r}")
    return value


def quantity_mib(value: str) -> float:
    """A Kubernetes memory quantity in MiB (`1Gi` -> 1024)."""
    match = _QUANTITY.match(value)
    assert match is not None
    return float(match.group(1)) * _QUANTITY_MIB[match.group(3)]


class KubernetesSpec(_Strict):
    """How the cluster and the perf tests run with `platform: kubernetes` (ignored locally)."""

    kubeconfig: str | None = Field(
        None, description="A kubeconfig file; default KUBECONFIG or ~/.kube/config, else the in-cluster service account."
    )
    context: str | None = Field(None, description="The kubeconfig context; default its current one.")
    image: str | None = Field(
        None, description="Kafka image of nodes and perf Jobs; default kafkalab.local/kafka:<kafka_version> "
        "(built by `make kube-images`, or docker/kafka.Dockerfile for a registry).")
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] | None = Field(
        None, description="Default Never for kafkalab.local images (no registry serves them), else IfNotPresent.")
    broker_cpu: str = Field("1", description="CPU request and limit per broker (the guide: 1).")
    broker_memory: str | None = Field(None, description="Memory request and limit per broker; default twice the heap "
                                                   "plus 128 MiB for the JMX sampler run in the pod.")
    controller_cpu: str = Field("500m", description="CPU request and limit per controller.")
    controller_memory: str | None = Field(None, description="Memory per controller; default twice its heap.")
    storage: Literal["persistent", "ephemeral"] = Field(
        "persistent", description="persistent: a PersistentVolumeClaim per node; ephemeral: an emptyDir (gone with the pod)."
    )
    storage_class: str | None = Field(None, description="StorageClass of the node volumes; default the cluster's default class.")
    storage_size: str = Field("10Gi", description="Volume size per broker (the guide: 5000 MB disk).")
    controller_storage_size: str = Field("1Gi", description="Volume size per controller.")
    producer_cpu: str = Field("1", description="CPU request and limit per perf-test pod.")
    producer_memory: str | None = Field(None, description="Memory per perf-test pod; default twice its heap.")
    schedule_timeout_s: float = Field(
        120, gt=0, le=3600, description="A perf-test pod not scheduled after this fails the run (and its Job is deleted)."
    )
    index_retries: int = Field(0, ge=0, le=5, description="Retries per producer instance (backoffLimitPerIndex).")
    teardown_timeout_s: float = Field(300, gt=0, le=3600, description="How long deleting the cluster's namespace may take.")
    kafka_calls_via: list[str] | None = Field(
        None, min_length=1, description="Run the flow's own Kafka calls (admin, end offsets, reassignment) behind this "
        "command prefix, where the brokers' pod names resolve: e.g. [ip, netns, exec, <ns>]. Default: in the flow's "
        "process, for a flow running inside the cluster (docs/kubernetes.md).")

    _quantities = field_validator(
        "broker_cpu", "broker_memory", "controller_cpu", "controller_memory", "storage_size",
        "controller_storage_size", "producer_cpu", "producer_memory", mode="before",
    )(lambda value: _quantity(value))  # `broker_cpu: 2` in YAML is a number: fine

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_SUBDOMAIN.match(value):
            raise ValueError(f"must be a StorageClass name (lower-case letters, digits, '-', '.'), got {value!r}")
        return value


class ClusterSpec(_Strict):
    """The Kafka cluster: a KRaft controller quorum plus brokers (the guide's `brokers` section)."""

    brokers: int = Field(3, ge=1, le=64, description="Number of brokers (the guide scales 3 -> 6 -> 9 -> 15).")
    controllers: int = Field(1, ge=1, le=5, description="Dedicated KRaft controllers in the quorum.")
    heap_mb: int = Field(512, ge=128, le=65536, description="JVM heap per broker in MB (the guide: 512).")
    controller_heap_mb: int = Field(256, ge=128, le=65536, description="JVM heap per controller in MB.")
    broker_config: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Broker settings: Kafka names (num.io.threads) or the guide's options.json names (num_io_threads).",
    )
    options_json: str | None = Field(
        None, description="A DC/OS options.json (path relative to the spec); its `kafka` section becomes broker settings."
    )
    ready_timeout_s: float = Field(120, gt=0, le=3600, description="How long brokers may take to register.")
    client_quotas: ClientQuotasSpec = Field(
        default_factory=ClientQuotasSpec,
        description="Kafka client quotas for every client (e.g. producer_byte_rate), as a tenant's cluster has.",
    )
    bootstrap_servers: str | None = Field(
        None, description="platform external (required there, refused elsewhere): host:port of the cluster's brokers, "
                          "comma-separated.",
    )
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec)

    @model_validator(mode="after")
    def _memory_fits_heap(self) -> ClusterSpec:
        for field, memory, heap in (("broker_memory", self.kubernetes.broker_memory, self.heap_mb),
                                    ("controller_memory", self.kubernetes.controller_memory, self.controller_heap_mb)):
            if memory is not None and quantity_mib(memory) < heap + 64:
                raise ValueError(f"cluster.kubernetes.{field}: {memory} leaves no room above the {heap} MB heap")
        return self
    security: SecuritySpec = Field(default_factory=SecuritySpec)

    @field_validator("bootstrap_servers")
    @classmethod
    def _bootstrap_servers(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        servers = [s.strip() for s in value.split(",")]
        for server in servers:
            if not _HOST_PORT.match(server):
                raise ValueError(f"must be host:port[,host:port...], got {server!r}")
        return ",".join(servers)

    @field_validator("broker_config", mode="before")
    @classmethod
    def _broker_config(cls, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of setting name to value")
        return _normalize_props(value, "cluster.broker_config")


class TopicSpec(_Strict):
    """The test topic (the guide's Step 2: `performancetest`, 10 partitions, replication 3)."""

    name: str = Field("performancetest", description="Topic name; repetitions use `<name>-<n>`.")
    partitions: int = Field(10, ge=1, le=10000)
    replication_factor: int = Field(3, ge=1, le=64)
    config: dict[str, Scalar] = Field(default_factory=dict, description="Topic settings, e.g. min.insync.replicas.")
    prefix: str = Field(
        "kafkalab-", description="platform external: every topic kafkalab creates starts with this (added to the name).",
    )
    keep: bool = Field(False, description="platform external: keep the run's topics after the run (default: deleted).")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise ValueError("must be 1-50 characters of letters, digits, '.', '_' or '-' (an empty prefix is no guard)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _TOPIC_NAME.match(value) or value in (".", ".."):
            raise ValueError("must be 1-200 characters of letters, digits, '.', '_' or '-'")
        return value

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of setting name to value")
        return _normalize_props(value, "topic.config")


Tool = Literal["kafkalab", "kafka-perf"]
_KEYS = re.compile(r"^(none|random:[1-9]\d{0,9}|fixed:.{1,200})$")


class ProducerSpec(_Strict):
    """The producer fan-out: N instances in parallel (the guide's Step 6 and fan-out)."""

    tool: Tool = Field(
        "kafkalab",
        description="kafkalab: kafkalab's load generator (histograms, latency from the intended send time); "
                    "kafka-perf: Kafka's ProducerPerformance, as the guide ran it.",
    )
    instances: int = Field(1, ge=1, le=100, description="Parallel producer instances (the guide: 3 / 10 / 15 / 25).")
    num_records: int = Field(..., ge=1, le=10**12, description="--num-records per instance.")
    record_size: int = Field(250, ge=1, le=100 * 1024 * 1024, description="--record-size in bytes.")
    throughput: float = Field(-1, description="--throughput in records/sec per instance; -1 for no limit.")
    props: dict[str, Scalar] = Field(default_factory=dict, description="Producer settings (acks, batch.size, ...).")
    heap_mb: int = Field(256, ge=64, le=65536, description="JVM heap per producer instance in MB.")
    reporting_interval_ms: int = Field(5000, ge=100, le=3_600_000, description="Window length of the progress lines.")
    timeout_s: float = Field(1800, gt=0, le=86400, description="An instance still running after this is stopped and failed.")
    spread: Literal["one-per-node", "spread", "any"] = Field(
        "any", description="Kubernetes: one-per-node (the guide's hostname UNIQUE), spread (even over nodes) or any."
    )
    # Not `keys`: Prefect reads a model with a `keys` attribute as a mapping.
    record_keys: str = Field(
        "none", description="Record keys (tool kafkalab): none, random:N (uniform over N keys) or fixed:KEY."
    )
    payload_file: str | None = Field(
        None, description="Record values cycled from this file's lines (relative to the spec); default random bytes.",
    )

    @field_validator("throughput")
    @classmethod
    def _throughput(cls, value: float) -> float:
        if value != -1 and value <= 0:
            raise ValueError("must be -1 (no limit) or > 0")
        return value

    @field_validator("record_keys")
    @classmethod
    def _record_keys(cls, value: str) -> str:
        if not _KEYS.match(value):
            raise ValueError(f"must be none, random:N (N >= 1) or fixed:KEY, got {value!r}")
        return value

    @field_validator("payload_file")
    @classmethod
    def _payload_file(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        path = Path(value)
        try:
            has_a_line = any(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        except FileNotFoundError:
            raise ValueError(f"no such file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
        if not has_a_line:
            raise ValueError(f"{path} is empty: the producers would have no record to send")
        return str(path)

    @model_validator(mode="after")
    def _tool_options(self) -> ProducerSpec:
        if self.tool == "kafka-perf" and self.record_keys != "none":
            raise ValueError("producer.record_keys: ProducerPerformance sends no keys; use tool kafkalab")
        return self

    @property
    def target_records_per_sec(self) -> float | None:
        """The rate each instance is asked to keep; None when unthrottled."""
        return None if self.throughput == -1 else self.throughput

    _props = field_validator("props", mode="before")(lambda value: _client_props(value, "producer.props"))


class ConsumerSpec(_Strict):
    """The consumers of the topic the producers fill: alongside them (end-to-end latency) or after (a drain)."""

    enabled: bool = True
    tool: Tool = Field(
        "kafkalab",
        description="kafkalab: kafkalab's load generator (end-to-end latency histograms); "
                    "kafka-perf: Kafka's ConsumerPerformance after the producers, as the guide ran it.",
    )
    timing: Literal["alongside", "after"] = Field(
        "alongside", description="alongside: consume while the producers run (live end-to-end latency); "
                                 "after: read the backlog once they are done (a drain rate, the guide's test).",
    )
    instances: int = Field(1, ge=1, le=100, description="Consumer instances (tool kafkalab).")
    groups: Literal["shared", "per-instance"] = Field(
        "shared", description="shared: every instance in one group (they split the partitions); "
                              "per-instance: each its own group (each reads everything).",
    )
    share_group: bool = Field(False, description="Consume as a share group (KIP-932) instead of a consumer group.")
    acknowledge_mode: Literal["implicit", "explicit"] = Field(
        "implicit", description="Share groups: how records are acknowledged (share.acknowledgement.mode).",
    )
    num_records: int | None = Field(None, ge=1, description="Records to consume; default: all the topic holds after the producers.")
    timeout_ms: int = Field(10000, ge=100, le=3_600_000, description="--timeout: max wait between returned records.")
    props: dict[str, Scalar] = Field(default_factory=dict, description="Consumer settings (fetch.min.bytes, ...).")
    heap_mb: int = Field(256, ge=64, le=65536)
    timeout_s: float = Field(1800, gt=0, le=86400, description="The test still running after this is stopped and failed.")

    _props = field_validator("props", mode="before")(lambda value: _client_props(value, "consumer.props"))

    @model_validator(mode="after")
    def _tool_options(self) -> ConsumerSpec:
        if self.tool == "kafka-perf":
            for name, value, default in (("timing", self.timing, "after"), ("instances", self.instances, 1),
                                         ("share_group", self.share_group, False)):
                if value != default and not (name == "timing" and value == "alongside"):
                    raise ValueError(f"consumer.{name}: ConsumerPerformance runs once, after the producers; "
                                     "use tool kafkalab")
        return self

    @property
    def runs_alongside(self) -> bool:
        """Whether the consumers read while the producers write (ConsumerPerformance never does)."""
        return self.enabled and self.tool == "kafkalab" and self.timing == "alongside"


class LoadSpec(_Strict):
    """What bounds the load and which part of it the figures cover, whatever the tool."""

    warmup_s: float | None = Field(
        None, ge=0, le=86400,
        description="Seconds after the common start left out of every figure (still stored); "
                    "default a tenth of the common window.",
    )
    max_bytes: int | None = Field(
        None, ge=1, description="Byte budget of a run: the producers stop once they have written this many value bytes.",
    )
    allow_unthrottled: bool = Field(
        False, description="Allow producer.throughput -1 (no rate limit) on a cluster kafkalab did not deploy.",
    )
    platform: Literal["local", "kubernetes"] = Field(
        "local", description="platform external: where the producers and consumers run (local processes; "
                             "kubernetes Jobs not yet).",
    )


class FaultSpec(_Strict):
    """A broker fault during the producer test. Platform-neutral: on the local platform `kill`
    is SIGKILL to the broker JVM and `stop` a clean shutdown (SIGTERM: controlled shutdown);
    on Kubernetes the same entry deletes the broker's pod (grace period 0 / its own)."""

    action: Literal["kill", "stop"] = Field(
        ..., description="kill: SIGKILL, no shutdown (a crash); stop: clean shutdown (SIGTERM, controlled shutdown)."
    )
    broker: int = Field(
        ..., ge=0, le=63,
        description="Broker node id, 0..brokers-1 (kafka-0, kafka-1, ... as in the guide; the pod ordinal on Kubernetes).",
    )
    at_s: float = Field(..., ge=0, le=86400, description="Seconds into the producer test (from the producers' common start).")
    restart_after_s: float | None = Field(
        None, gt=0, le=3600,
        description="Start the broker again this many seconds after the fault (same data and ports); "
                    "omitted: it stays down for the rest of the run.",
    )


class IntegritySpec(_Strict):
    """How a run counts what the topic holds, against what the producers report acknowledged."""

    verify: Literal["end_offsets", "consume"] = Field(
        "end_offsets", description="end_offsets: sum of end - start offsets per partition; consume: read every record back."
    )
    timeout_s: float = Field(300, gt=0, le=86400, description="How long reading the topic back (consume) may take.")


class MetricsSpec(_Strict):
    """What kafkalab samples during the load (docs/measuring.md, "Broker, host and client metrics")."""

    enabled: bool = Field(
        True, description="Sample the brokers' JMX, the host (psutil) and the generator's client metrics every "
                          "reporting interval; false: none (the run says so).",
    )


class RetrySpec(_Strict):
    perf_tests: int = Field(0, ge=0, le=10, description="Retries of a failed producer or consumer test (default none).")


class ExperimentSpec(_Strict):
    """One experiment: a cluster, a topic, the producer fan-out and a consumer test, repeated."""

    name: str = Field(..., description="Experiment name; runs are stored under it.")
    description: str = ""
    platform: PlatformName = Field("local", description="Where the cluster runs.")
    kafka_version: str = Field(DEFAULT_KAFKA_VERSION, pattern=r"^4\.\d+\.\d+$", description="Apache Kafka 4.x version.")
    repetitions: int = Field(1, ge=1, le=100, description="Runs of the same case (the guide averages 5).")
    profile: ProfileName | None = Field(
        None, description="Tuning profile from the guide; settings written in the spec win over it."
    )
    smoke_test: bool = Field(True, description="Produce one message and read it back before the load (Step 5).")
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    topic: TopicSpec = Field(default_factory=TopicSpec)
    producer: ProducerSpec
    consumer: ConsumerSpec = Field(default_factory=ConsumerSpec)
    retries: RetrySpec = Field(default_factory=RetrySpec)
    faults: list[FaultSpec] = Field(
        default_factory=list, max_length=20,
        description="Broker faults during the producer test: kill or stop broker K at T seconds, restart after D.",
    )
    integrity: IntegritySpec = Field(default_factory=IntegritySpec)
    load: LoadSpec = Field(default_factory=LoadSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)

    _name = field_validator("name")(lambda value: _run_name(value))

    @model_validator(mode="after")
    def _load_fits(self) -> ExperimentSpec:
        rate = self.producer.target_records_per_sec
        warmup = self.load.warmup_s
        if warmup is not None and rate is not None and warmup >= self.producer.num_records / rate:
            raise ValueError(f"load.warmup_s: {warmup:g} s is as long as the run itself (about "
                             f"{self.producer.num_records / rate:g} s: producer.num_records / producer.throughput)")
        if self.consumer.share_group and not share_groups_available(self.kafka_version):
            raise ValueError(f"consumer.share_group: Kafka {self.kafka_version} has no share groups "
                             f"(KIP-932 needs Kafka {'.'.join(map(str, SHARE_GROUPS_SINCE))} or later)")
        return self

    @model_validator(mode="after")
    def _external_settings(self) -> ExperimentSpec:
        cluster = self.cluster
        if self.platform != "external":  # refused, not ignored: the run would not go where the spec says
            if cluster.bootstrap_servers is not None:
                raise ValueError(f"cluster.bootstrap_servers: only for platform external "
                                 f"(platform {self.platform} deploys its own brokers)")
            for name in _EXTERNAL_ONLY_SECURITY:
                if getattr(cluster.security, name) is not None:
                    raise ValueError(f"cluster.security.{name}: only for platform external "
                                     f"(platform {self.platform} makes its own CA and certificates)")
            return self
        if cluster.bootstrap_servers is None:
            raise ValueError("cluster.bootstrap_servers: platform external needs the host:port of the cluster's brokers")
        # Someone else's cluster: a run writes at most this much unless the spec says otherwise.
        if self.load.max_bytes is None:
            self.load.max_bytes = EXTERNAL_MAX_BYTES
        return self

    @model_validator(mode="after")
    def _fits_the_cluster(self) -> ExperimentSpec:
        brokers = self.cluster.brokers
        if self.topic.replication_factor > brokers:
            raise ValueError(
                f"topic.replication_factor: {self.topic.replication_factor} exceeds cluster.brokers ({brokers})"
            )
        min_isr = self.topic.config.get("min.insync.replicas")
        if min_isr is not None and (not min_isr.isdigit() or int(min_isr) > self.topic.replication_factor):
            raise ValueError(
                f"topic.config.min.insync.replicas: {min_isr} exceeds topic.replication_factor ({self.topic.replication_factor})"
            )
        for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor", "default.replication.factor"):
            value = self.cluster.broker_config.get(key)
            if value is not None and value.lstrip("-").isdigit() and int(value) > brokers:
                raise ValueError(f"cluster.broker_config.{key}: {value} exceeds cluster.brokers ({brokers})")
        return self

    @model_validator(mode="after")
    def _faults_fit(self) -> ExperimentSpec:
        from kafkalab.spec.faults import check_faults

        check_faults(self)
        return self

    def topic_name(self, repetition: int, attempt: int = 1) -> str:
        """Each run writes a fresh topic, so runs do not read each other's records."""
        name = self.topic.name if self.repetitions == 1 else f"{self.topic.name}-{repetition}"
        return name if attempt == 1 else f"{name}-attempt{attempt}"


CapacityKind = Literal["corrected", "end_to_end"]


# The objective, the kind and the rates are checked against the experiment by
# kafkalab.analysis.slo and .capacity (plan_study) before anything runs: that check needs
# the experiment spec, and the objective's grammar lives there.
class CapacitySpec(_Strict):
    """Capacity under a latency objective: probe, step the rate up, stop at the first break, bisect."""

    model_config = ConfigDict(title="Capacity study")

    slo: str = Field(..., title="Objective", description="The latency objective, e.g. p99<20ms or p99.9<=50ms.")
    kind: CapacityKind = Field(
        "corrected", description="corrected: from the intended send time to the acknowledgement; "
                                 "end_to_end: from the send to a consumer's receipt (needs consumers alongside).",
    )
    rates: list[float] | None = Field(
        None, description="Target rates in records/s (all producers together), increasing; "
                          "empty: 10%, 20%, ... 110% of a short unthrottled probe.",
    )
    repetitions: int = Field(3, ge=1, le=20, description="Runs per step; their histograms are merged.")
    step_s: float = Field(10, ge=2, le=3600, description="Length of each step's run in seconds (records = rate x this).")
    resolution: float | None = Field(
        None, gt=0, description="Bisect until the last passing and first failing rates are this close (records/s); "
                                "empty: a quarter of the step that found the break.",
    )
    max_bisections: int = Field(6, ge=0, le=20, description="At most this many bisection steps.")


class ScalingSpec(_Strict):
    """How a sweep changes the broker count of its live cluster between cells."""

    reassign_partitions: bool = Field(
        False, description="After a scale-up, move existing topics' partitions onto all brokers (Kafka reassignment)."
    )
    reassign_timeout_s: float = Field(600, gt=0, le=86400, description="How long a reassignment may take.")


class SweepSpec(_Strict):
    """A study: a base experiment and axes; the cells are the product of the axes (or listed), each repeated."""

    name: str = Field(..., description="Sweep name; its runs are stored under it.")
    description: str = ""
    base: dict[str, Any] = Field(..., description="The experiment every cell starts from (an experiment spec).")
    axes: dict[str, list[Scalar]] = Field(
        default_factory=dict,
        description="Setting path -> values, e.g. cluster.brokers: [3, 6, 9, 15]; profile: [baseline, throughput-lower].",
    )
    cells: list[dict[str, Scalar]] = Field(
        default_factory=list, description="Explicit cells (setting path -> value), run after the product of the axes."
    )
    repetitions: int = Field(1, ge=1, le=100, description="Runs of each cell (the guide averages 5).")
    scaling: ScalingSpec = Field(default_factory=ScalingSpec)
    capacity: CapacitySpec | None = Field(
        None, description="A capacity study per cell instead of fixed-rate runs, e.g. {slo: p99<50ms}.",
    )

    _name = field_validator("name")(lambda value: _run_name(value))

    @field_validator("axes")
    @classmethod
    def _axes(cls, value: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"axes.{key}: needs at least one value")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"axes.{key}: values repeat")
        return value

    @model_validator(mode="after")
    def _has_cells(self) -> SweepSpec:
        if not self.axes and not self.cells:
            raise ValueError("axes: a sweep needs axes or cells")
        return self


def parse_sweep(data: Any, *, source: str = "sweep", base_dir: Path | None = None) -> SweepSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: must be a mapping of settings, got {type(data).__name__}")
    try:
        sweep = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{source}: {_format_error(exc)}") from None
    options = (sweep.base.get("cluster") or {}).get("options_json") if isinstance(sweep.base.get("cluster"), dict) else None
    if options and base_dir is not None and not Path(str(options)).is_absolute():
        # Cells are planned away from the spec file: pin a relative options.json to it now.
        sweep.base["cluster"] = {**sweep.base["cluster"], "options_json": str(base_dir / str(options))}
    return sweep


def load_sweep(path: Path | str, overrides: list[str] | None = None) -> SweepSpec:
    """Read a sweep YAML; `--set` paths apply to its base experiment (e.g. producer.num_records=1000),
    except `repetitions`, which is the sweep's own."""
    path = Path(path)
    data = read_yaml(path)
    for item in overrides or []:
        key, _, value = item.partition("=")
        if key.strip() == "repetitions":
            data["repetitions"] = yaml.safe_load(value)
            continue
        if not isinstance(data.get("base"), dict):
            raise SpecError(f"{path}: base: must be a mapping (an experiment spec)")
        apply_override(data["base"], item)
    return parse_sweep(data, source=str(path), base_dir=path.parent)


# ---------------------------------------------------------------------------------------
# Loading


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        msg = "unknown setting (check the spelling; see experiments/ for examples)"
    # A validator that names its own field (e.g. `producer.props.acks: ...`) says it best.
    if re.match(r"^[\w.]+: ", msg):
        return msg
    return f"{loc}: {msg}" if loc else msg


def parse_spec(data: Any, *, source: str = "spec", base_dir: Path | None = None) -> ExperimentSpec:
    """Validate a spec mapping; raise SpecError naming the first bad field."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: must be a mapping of settings, got {type(data).__name__}")
    data = apply_profile(_pin_payload_file(_merge_options_json(data, source=source, base_dir=base_dir), base_dir))
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{source}: {_format_error(exc)}") from None


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: must be a YAML mapping of settings")
    return data


def load_spec(path: Path | str, overrides: list[str] | None = None) -> ExperimentSpec:
    """Read a YAML spec, apply `--set key=value` overrides, validate."""
    path = Path(path)
    data = read_yaml(path)
    for item in overrides or []:
        apply_override(data, item)
    return parse_spec(data, source=str(path), base_dir=path.parent)


def apply_override(data: dict[str, Any], item: str) -> None:
    """Apply `--set a.b.c=value` to raw spec data.

    The path follows the spec's sections; inside a settings mapping (producer.props,
    topic.config, cluster.broker_config, ...) the rest of the path is the Kafka setting
    name, dots included: `producer.props.batch.size=100000`.
    """
    if "=" not in item:
        raise SpecError(f"--set {item}: expected key=value")
    path, raw = item.split("=", 1)
    parts = [p for p in path.strip().split(".") if p]
    if not parts:
        raise SpecError(f"--set {item}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    node: dict[str, Any] = data
    model: type[BaseModel] | None = ExperimentSpec
    walked: list[str] = []
    while parts:
        key = parts.pop(0)
        walked.append(key)
        field = model.model_fields.get(key) if model else None
        if model is not None and field is None:
            raise SpecError(f"--set {'.'.join(walked)}: unknown setting")
        annotation = field.annotation if field else None
        sub_model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if not parts:
            node[key] = value
            return
        if sub_model is not None:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise SpecError(f"--set {'.'.join(walked)}: is not a section")
            node, model = child, sub_model
            continue
        if _is_mapping_field(annotation):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise SpecError(f"--set {'.'.join(walked)}: is not a mapping")
            child[".".join(parts)] = value
            return
        raise SpecError(f"--set {'.'.join(walked)}: has no sub-settings")


def _is_mapping_field(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is dict


def _pin_payload_file(data: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """A relative producer.payload_file is relative to the spec file: pin it to that now."""
    producer = data.get("producer")
    if not isinstance(producer, dict) or not isinstance(producer.get("payload_file"), str) or base_dir is None:
        return data
    path = Path(producer["payload_file"]).expanduser()
    if not producer["payload_file"] or path.is_absolute():
        return data
    return {**data, "producer": {**producer, "payload_file": str(base_dir / path)}}


def _merge_options_json(data: dict[str, Any], *, source: str, base_dir: Path | None) -> dict[str, Any]:
    """Fold a DC/OS options.json into cluster settings; explicit spec settings win."""
    cluster = data.get("cluster")
    if not isinstance(cluster, dict) or not cluster.get("options_json"):
        return data
    ref = Path(str(cluster["options_json"]))
    path = ref if ref.is_absolute() or base_dir is None else base_dir / ref
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{source}: cluster.options_json: no such file {path}") from None
    except (OSError, ValueError) as exc:
        raise SpecError(f"{source}: cluster.options_json: {path} is not valid JSON: {exc}") from None
    if not isinstance(options, dict) or not isinstance(options.get("kafka", {}), dict):
        raise SpecError(f"{source}: cluster.options_json: {path} has no `kafka` section mapping")
    merged_cluster = dict(cluster)
    explicit = cluster.get("broker_config") or {}
    if not isinstance(explicit, dict):
        return data  # the model reports the type error
    broker_config = {k: v for k, v in options.get("kafka", {}).items() if not isinstance(v, (dict, list))}
    broker_config.update(explicit)
    merged_cluster["broker_config"] = broker_config
    brokers_section = options.get("brokers") if isinstance(options.get("brokers"), dict) else {}
    heap = brokers_section.get("heap", {}).get("size") if isinstance(brokers_section.get("heap"), dict) else None
    if heap is not None and "heap_mb" not in cluster:
        merged_cluster["heap_mb"] = heap
    if brokers_section.get("count") is not None and "brokers" not in cluster:
        merged_cluster["brokers"] = brokers_section["count"]
    return {**data, "cluster": merged_cluster}


def spec_to_dict(spec: ExperimentSpec) -> dict[str, Any]:
    """The full, resolved spec as stored with every run (JSON-safe)."""
    return spec.model_dump(mode="json")
