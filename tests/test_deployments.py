"""Deployments without a server: run requests (spec file or inline spec, overrides), the
parameter forms the UI renders, deployments/prefect.yaml, the flow's markdown summary, the
Kubernetes work pool template and the runner image's Dockerfile."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml

from kafkalab.app import links
from kafkalab.core.errors import SpecError
from kafkalab.experiment.launch import SpecOverrides, request_name, resolve_spec
from kafkalab.kafka import perftools
from kafkalab.kafka.distribution import DEFAULT_KAFKA_VERSION
from kafkalab.model import ProducerOutcome, RunRecord
from kafkalab.reports import summary
from kafkalab.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
PREFECT_FILE = REPO / "deployments" / "prefect.yaml"
K8S_TEMPLATE = REPO / "deployments" / "kubernetes" / "base-job-template.json"
K8S_PREFECT_FILE = REPO / "deployments" / "kubernetes" / "prefect.yaml"
DOCKERFILE = REPO / "docker" / "runner.Dockerfile"
INLINE = {"name": "inline", "cluster": {"brokers": 1}, "topic": {"partitions": 2, "replication_factor": 1},
          "producer": {"num_records": 1000, "props": {"acks": 1}}}


# --------------------------------------------------------------------------- run requests


def test_spec_file_with_typed_overrides():
    overrides = SpecOverrides(name="nightly", brokers=1, replication_factor=1, num_records=5000,
                              compression_type="lz4", acks="all", linger_ms=5, settings=["cluster.heap_mb=256"])
    spec = resolve_spec(spec_file="experiments/quickstart.yaml", overrides=overrides)
    assert spec.name == "nightly" and spec.cluster.brokers == 1 and spec.cluster.heap_mb == 256
    assert spec.topic.replication_factor == 1 and spec.producer.num_records == 5000
    assert spec.producer.props["compression.type"] == "lz4" and spec.producer.props["acks"] == "all"
    assert spec.producer.props["linger.ms"] == "5"
    assert spec.producer.props["batch.size"] == "8196"  # the file's, untouched


def test_spec_file_alone_equals_load_spec():
    assert resolve_spec(spec_file="experiments/guide-baseline.yaml") == load_spec(REPO / "experiments/guide-baseline.yaml")


def test_inline_spec_from_the_form_gets_profile_and_overrides():
    spec = resolve_spec({**INLINE, "profile": "throughput-lower"}, overrides={"record_size": 100})
    assert spec.producer.record_size == 100
    assert spec.producer.props["compression.type"] == "lz4" and spec.producer.props["acks"] == "1"  # profile + explicit


def test_profile_override_fills_in_beneath_explicit_settings():
    spec = resolve_spec(spec_file="experiments/quickstart.yaml", overrides={"profile": "throughput-upper"})
    assert spec.profile == "throughput-upper"
    assert spec.producer.props["linger.ms"] == "100"  # the profile's
    assert spec.producer.props["batch.size"] == "8196"  # the file's explicit value wins


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "neither"),
        ({"spec": INLINE, "spec_file": "experiments/quickstart.yaml"}, "not both"),
        ({"spec_file": "experiments/nope.yaml"}, "spec_file: no such spec file experiments/nope.yaml"),
        ({"spec_file": "experiments/quickstart.yaml", "overrides": {"compression_type": "brotli"}}, "overrides: compression_type: "),
        ({"spec_file": "experiments/quickstart.yaml", "overrides": {"brokers": 1}}, "topic.replication_factor: 3 exceeds cluster.brokers (1)"),
        ({"spec": {**INLINE, "producer": {"num_records": -1}}}, "spec: producer.num_records: "),
        ({"spec": INLINE, "overrides": {"settings": ["producer.nope=1"]}}, "--set producer.nope: unknown setting"),
    ],
)
def test_bad_requests_name_the_field(kwargs, message):
    with pytest.raises(SpecError) as err:
        resolve_spec(**kwargs)
    assert message in str(err.value)


def test_an_emptied_spec_file_field_counts_as_none():
    assert resolve_spec(INLINE, spec_file="  ").name == "inline"


def test_request_names():
    assert request_name(spec=INLINE) == "inline"
    assert request_name(spec_file="experiments/guide-baseline.yaml") == "guide-baseline"
    assert request_name(spec_file="experiments/quickstart.yaml", overrides={"name": "n1"}) == "n1"
    assert request_name(spec_file="missing.yaml") == "missing"
    assert request_name() == "experiment"


# --------------------------------------------------------------------------- parameter forms


@pytest.fixture(scope="module")
def experiment_schema() -> dict:
    from prefect.utilities.callables import parameter_schema

    from flows.experiment import experiment

    return json.loads(json.dumps(parameter_schema(experiment).model_dump_for_openapi()))


def test_form_has_spec_spec_file_and_overrides_with_descriptions(experiment_schema):
    props = experiment_schema["properties"]
    assert list(props) == ["spec", "spec_file", "overrides"]
    assert all(p.get("description") for p in props.values())
    defs = experiment_schema["definitions"]
    assert defs["ExperimentSpec"]["title"] == "Experiment spec"
    cluster = defs["ClusterSpec"]["properties"]
    assert cluster["heap_mb"]["title"] == "Heap (MB)" and cluster["brokers"]["minimum"] == 1
    assert cluster["brokers"]["maximum"] == 64 and cluster["brokers"]["description"]


def test_dropdowns_for_profile_platform_compression_acks(experiment_schema):
    defs = experiment_schema["definitions"]

    def enum_of(prop: dict) -> list:
        for option in [prop, *prop.get("anyOf", [])]:
            if "enum" in option:
                return option["enum"]
            if "const" in option:
                return [option["const"]]
        raise AssertionError(f"no dropdown: {prop}")

    assert enum_of(defs["ExperimentSpec"]["properties"]["platform"]) == ["local", "kubernetes", "external"]
    assert "throughput-lower" in enum_of(defs["ExperimentSpec"]["properties"]["profile"])
    assert defs["SpecOverrides"]["title"] == "Overrides"
    overrides = defs["SpecOverrides"]["properties"]
    assert enum_of(overrides["compression_type"]) == ["none", "gzip", "snappy", "lz4", "zstd"]
    assert enum_of(overrides["acks"]) == ["0", "1", "-1", "all"]
    assert "durability" in enum_of(overrides["profile"])


def test_form_fields_keep_their_order(experiment_schema):
    # Prefect stores schemas in PostgreSQL JSONB, which sorts keys; the UI orders by position.
    for name in ("ExperimentSpec", "ClusterSpec", "ProducerSpec", "SpecOverrides"):
        props = experiment_schema["definitions"][name]["properties"]
        assert [p["position"] for p in props.values()] == list(range(len(props))), name


def test_server_side_validation_names_the_field(experiment_schema):
    from prefect.utilities.schema_tools.validation import ValidationError, validate

    for params, field in [
        ({"overrides": {"num_records": 0}}, "overrides.num_records"),
        ({"overrides": {"compression_type": "brotli"}}, "overrides.compression_type"),
        ({"spec": {**INLINE, "cluster": {"brokers": 100}}}, "spec.cluster.brokers"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(f"'{field}'")):
            validate(params, experiment_schema, raise_on_error=True)


# --------------------------------------------------------------------------- prefect.yaml


@pytest.fixture(scope="module")
def prefect_yaml() -> dict:
    return yaml.safe_load(PREFECT_FILE.read_text())


def test_deployments_are_valid_for_prefect_deploy(prefect_yaml):
    from prefect.cli.deploy._models import PrefectYamlModel

    PrefectYamlModel.model_validate(prefect_yaml)
    names = [d["name"] for d in prefect_yaml["deployments"]]
    assert {"experiment", "guide-baseline-nightly"} <= set(names) and len(set(names)) == len(names)


def test_default_parameters_pass_the_flow_schema(prefect_yaml):
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import validate

    for d in prefect_yaml["deployments"]:
        flow = load_flow_from_entrypoint(str(REPO / d["entrypoint"]))
        schema = json.loads(json.dumps(parameter_schema(flow).model_dump_for_openapi()))
        validate(d.get("parameters", {}), schema, raise_on_error=True)
        if d["entrypoint"].startswith("flows/experiment.py"):
            spec = resolve_spec(**d["parameters"])  # what the flow will run
            assert spec.name


def test_schedules_are_paused_and_protected_from_overlap(prefect_yaml):
    scheduled = [d for d in prefect_yaml["deployments"] if d.get("schedules")]
    assert {d["name"] for d in scheduled} >= {"guide-baseline-nightly"}
    for d in scheduled:
        assert all(s["active"] is False and s.get("slug") for s in d["schedules"]), d["name"]
        assert d["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}, d["name"]
    nightly = next(d for d in scheduled if d["name"] == "guide-baseline-nightly")
    assert nightly["parameters"]["spec_file"] == "experiments/guide-baseline.yaml"
    assert resolve_spec(**nightly["parameters"]).producer.num_records <= 500_000  # small records


# --------------------------------------------------------------------------- markdown summary


def _record(run_dir: str, line: str, status: str = "ok") -> RunRecord:
    now = datetime.now(timezone.utc)
    spec = resolve_spec(INLINE)
    record = RunRecord(
        experiment="md", spec={}, repetition=1, platform="local", kafka_version=DEFAULT_KAFKA_VERSION, brokers=1,
        topic="t", partitions=2, replication_factor=1, record_size=250, num_records=1000, throughput=-1,
        producer_instances=1, producer_props=dict(spec.producer.props), consumer_props={}, broker_config={},
        topic_config={}, started_at=now, status=status, run_dir=run_dir,
    )
    output = perftools.parse_producer_output(line)
    record.producers = [ProducerOutcome(0, "c", status, 1000, 0, output, line, now, now)]
    return record


LINE = ("1000 records sent, 5000.0 records/sec (1.19 MB/sec), 10.50 ms avg latency, 40.00 ms max latency, "
        "9 ms 50th, 20 ms 95th, 30 ms 99th, 39 ms 99.9th.")


@pytest.fixture
def store(fresh_db_url):
    from kafkalab.results.store import Store

    with Store(fresh_db_url) as store:
        yield store


def test_markdown_summary_has_cells_totals_and_links(store):
    records = [_record("/runs/a", LINE), _record("/runs/a", LINE.replace("5000.0", "7000.0"))]
    records[1].repetition = 2
    ids = [store.save_run(r) for r in records]
    text = summary.experiment_markdown("md", records, ids, flow_run_url="http://127.0.0.1:1/runs/flow-run/x",
                                       store=store)  # fmt: skip
    assert f"| {ids[0]} | 1 | ok |" in text and f"| {ids[1]} | 2 | ok |" in text
    # window records/s (none: Kafka's perf tool), records/s and MB/s summed, corrected p99 (none), worst p99
    assert "| 1/1 |  | 5,000.00 | 1.19 |  | 30.00 |" in text
    assert "mean **6,000.00** records/s over 2 runs" in text and "records sent: **2,000**" in text
    assert "[http://127.0.0.1:1/runs/flow-run/x](http://127.0.0.1:1/runs/flow-run/x)" in text
    assert f"WHERE run_id IN ({ids[0]}, {ids[1]})" in text and "`/runs/a`" in text


def test_markdown_summary_of_failed_runs_has_no_zero_totals(store):
    record = _record("/runs/b", "nothing parsed", status="failed")
    record.error = "1 of 1 producer instances failed"
    text = summary.experiment_markdown("md", [record], [store.save_run(record)], store=store)
    assert "no run finished ok" in text and "failed: 1 of 1 producer" in text


def test_a_spooled_run_shows_that_its_totals_come_when_stored(store):
    stored, spooled = _record("/runs/c", LINE), _record("/runs/c", LINE.replace("5000.0", "7000.0"))
    spooled.repetition = 2
    ids = [store.save_run(stored), None]  # the database was down when the second run ended
    text = summary.experiment_markdown("md", [stored, spooled], ids, store=store)
    assert f"| {ids[0]} | 1 | ok |" in text and "| 5,000.00 |" in text
    assert "|  | 2 | ok | 1 | 2 | 250 | 1/1 | spooled: totals when stored |  |  |  |  |  |" in text
    assert "1 of 2 runs spooled: totals when stored" in text and "**5,000.00** records/s" in text
    rows = summary.run_summary_rows([stored, spooled], ids, store=store)
    assert [(r["run_id"], r["total_records_per_sec"], r["total_mb_per_sec"], r["p99_ms"]) for r in rows] == [
        (ids[0], 5000.0, 1.19, 30.0), (None, "spooled: totals when stored", None, None)]
    # The database down after the run was stored: the artifact says so, the flow goes on.
    from kafkalab.core.net import free_port
    from kafkalab.results.store import Store

    with Store(f"postgresql://postgres@127.0.0.1:{free_port()}/kafkalab") as down:
        (row,) = summary.run_summary_rows([stored], ids[:1], store=down)
    assert row["total_records_per_sec"] == summary.UNREAD and row["avg_latency_ms"] is None


def test_flow_run_url_from_the_environment():
    assert links.ui_url({"PREFECT_UI_URL": "http://h:1/"}) == "http://h:1"
    assert links.ui_url({"PREFECT_API_URL": "http://h:2/api"}) == "http://h:2"
    assert summary.flow_run_url("abc", "http://h:1") == "http://h:1/runs/flow-run/abc"
    assert summary.flow_run_url(None, "http://h:1") is None
    # With only a UI address there is no API to ask which runs it knows: every run is linked.
    assert links.flow_run_links(["a", None, "b"], {"PREFECT_UI_URL": "http://h:1"}) == {
        "a": "http://h:1/runs/flow-run/a", "b": "http://h:1/runs/flow-run/b"}


# --------------------------------------------------------------------------- Kubernetes


@pytest.fixture(scope="module")
def k8s_template() -> dict:
    return json.loads(K8S_TEMPLATE.read_text())


def test_kubernetes_template_matches_the_kubernetes_worker(k8s_template):
    from prefect_kubernetes.worker import KubernetesWorker

    default = KubernetesWorker.get_default_base_job_template()
    variables = k8s_template["variables"]
    jsonschema.Draft202012Validator.check_schema(variables)
    # Every variable the worker knows is there with a compatible type; defaults validate.
    for name, prop in default["variables"]["properties"].items():
        assert name in variables["properties"], name
        assert {k: v for k, v in prop.items() if k in ("type", "anyOf")} == {
            k: v for k, v in variables["properties"][name].items() if k in ("type", "anyOf")}, name
    for name, prop in variables["properties"].items():
        if "default" in prop and prop["default"] is not None:
            jsonschema.validate(prop["default"], {**prop, "definitions": variables.get("definitions", {})})
    # Every placeholder in the job configuration is a variable.
    placeholders = set(re.findall(r"{{\s*([\w.]+)\s*}}", json.dumps(k8s_template["job_configuration"])))
    assert placeholders <= set(variables["properties"]), placeholders - set(variables["properties"])
    assert set(default["job_configuration"]) <= set(k8s_template["job_configuration"])


def test_kubernetes_deployments_point_into_the_image():
    from prefect.cli.deploy._models import PrefectYamlModel

    data = yaml.safe_load(K8S_PREFECT_FILE.read_text())
    PrefectYamlModel.model_validate(data)
    assert data["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "/opt/kafkalab"}}]
    for d in data["deployments"]:
        assert d["work_pool"]["name"] == "kafkalab-k8s" and (REPO / d["entrypoint"].split(":")[0]).exists()


def test_runner_dockerfile_pins_versions_and_copies_what_exists():
    import prefect
    import prefect_kubernetes

    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    assert args["KAFKA_VERSION"] == DEFAULT_KAFKA_VERSION
    assert args["PREFECT_VERSION"] == prefect.__version__
    assert args["PREFECT_KUBERNETES_VERSION"] == prefect_kubernetes.__version__
    for source in re.findall(r"^COPY (\S+)", text, flags=re.M):
        assert (REPO / source).exists(), source
    assert "dependency" not in text or "mvn" not in text  # jars come through `kafkalab kafka` (the repo's pom)
    assert re.search(r"^RUN kafkalab kafka --version", text, flags=re.M)
    assert re.search(r"^USER 10001$", text, flags=re.M)
    template = json.loads(K8S_TEMPLATE.read_text())
    assert template["variables"]["properties"]["image"]["default"].startswith("kafkalab-runner:")
