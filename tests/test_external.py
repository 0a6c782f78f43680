"""platform external, all real: clusters that `kafkalab cluster up` started serve as someone's
cluster; the experiment and sweep flows run against them, store their results, and leave
every topic they did not create as it was. Guard rails and bad input end in one line."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource

from kafkalab.core.errors import KafkalabError, SpecError
from kafkalab.core.net import free_port, port_is_free
from kafkalab.kafka import admin
from kafkalab.kafka.security import ClientSecurity, Endpoint
from kafkalab.plan import plan_sweep
from kafkalab.platforms import check_plan, check_spec
from kafkalab.platforms.local import kept, reap_stale_clusters
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec, parse_sweep
from kafkalab.spec.models import EXTERNAL_MAX_BYTES

REPO = Path(__file__).resolve().parents[1]
RECORDS = 2000  # per producer instance
SMALL = {"heap_mb": 256, "controller_heap_mb": 192}


# --------------------------------------------------------------------------- helpers


def external_spec(name: str, servers: str, *, security: dict | None = None, **sections) -> dict:
    """A small external run with Kafka's perf tools: 2 producers x 2000 records of 100 B, rate-limited."""
    spec = {
        "name": name,
        "platform": "external",
        "cluster": {"bootstrap_servers": servers, "ready_timeout_s": 20, **({"security": security} if security else {})},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"tool": "kafka-perf", "instances": 2, "num_records": RECORDS, "record_size": 100,
                     "throughput": 4000, "heap_mb": 128, "props": {"acks": "all"}},
        "consumer": {"tool": "kafka-perf", "heap_mb": 128},
    }
    for section, values in sections.items():
        spec[section] = {**spec.get(section, {}), **values} if isinstance(values, dict) else values
    return spec


def rows(sql: str, **params) -> list[dict]:
    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kafkalab", *args], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=timeout)


def topics(endpoint: Endpoint | str) -> set[str]:
    return set(admin.admin_client(endpoint).list_topics(timeout=10).topics)


def consumer_groups(endpoint: Endpoint | str) -> list[str]:
    client = admin.admin_client(endpoint)
    return [g.group_id for g in client.list_consumer_groups(request_timeout=10).result(timeout=15).valid]


def end_offsets(endpoint: Endpoint | str, topic: str) -> dict[int, tuple[int, int]]:
    consumer = Consumer({**admin.client_config(endpoint), "group.id": "kafkalab-test-offsets"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in meta.partitions}
    finally:
        consumer.close()


def topic_config(endpoint: Endpoint | str, topic: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    client = admin.admin_client(endpoint)  # outlives the future: a collected client cancels it
    (future,) = client.describe_configs([resource]).values()
    return {name: entry.value for name, entry in future.result(timeout=10).items()}


def owners_topic(endpoint: Endpoint | str, name: str) -> None:
    """A topic of the cluster's owner, with data and a setting of its own."""
    admin.create_topic(endpoint, name, partitions=2, replication_factor=1, config={"retention.ms": "86400000"})
    producer = Producer(admin.client_config(endpoint))
    for i in range(50):
        producer.produce(name, f"owner record {i}".encode(), partition=i % 2)
    assert producer.flush(30) == 0


def snapshot(endpoint: Endpoint | str, name: str) -> tuple[dict, dict]:
    return end_offsets(endpoint, name), topic_config(endpoint, name)


@contextlib.contextmanager
def kept_cluster(name: str, **options) -> Iterator[kept.KeptCluster]:
    cluster = kept.up(name, **SMALL, **options)
    try:
        yield cluster
    finally:
        with contextlib.suppress(SpecError):
            kept.down(name)


def user_endpoint(cluster: kept.KeptCluster) -> Endpoint:
    if cluster.protocol == "PLAINTEXT":
        return Endpoint(cluster.bootstrap_servers)
    password = Path(cluster.password_file).read_text() if cluster.password_file else None
    return Endpoint(cluster.bootstrap_servers, ClientSecurity(
        cluster.protocol, cluster.mechanism, cluster.username, password,
        Path(cluster.ca_file) if cluster.ca_file else None))


def stored_runs(experiment: str) -> list[dict]:
    return rows("SELECT r.id, r.status, r.platform, r.kafka_version, r.brokers, r.topic, r.error, r.spec, "
                "t.total_records FROM runs r JOIN experiments e ON e.id = r.experiment_id "
                "LEFT JOIN v_run_totals t ON t.run_id = r.id WHERE e.name = :name ORDER BY r.id", name=experiment)


# --------------------------------------------------------------------------- the plaintext cluster


@pytest.fixture(scope="module")
def plain(lab_env, kafka_dist) -> Iterator[kept.KeptCluster]:
    """A plaintext cluster started by the command itself, which exits and leaves it running."""
    proc = cli("cluster", "up", "--name", "it-plain", "--heap-mb", "256", "--controller-heap-mb", "192")
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        cluster = kept.find("it-plain")
        assert cluster is not None and f"bootstrap servers: {cluster.bootstrap_servers}" in proc.stdout
        yield cluster
    finally:
        with contextlib.suppress(SpecError):
            kept.down("it-plain")


@pytest.mark.kafka
def test_a_plaintext_run_is_stored_and_leaves_the_owners_topic_as_it_was(plain, prefect_api, lab_env):
    from flows.experiment import experiment

    owners_topic(plain.bootstrap_servers, "orders")
    before = snapshot(plain.bootstrap_servers, "orders")

    (run_id,) = experiment(spec=external_spec("it-ext-plain", plain.bootstrap_servers))

    (run,) = stored_runs("it-ext-plain")
    assert run["id"] == run_id and run["status"] == "ok", run["error"]
    assert (run["platform"], run["brokers"], run["total_records"]) == ("external", 1, 2 * RECORDS)
    assert run["kafka_version"] == ".".join(plain.kafka_version.split(".")[:2])  # detected, "4.4"
    assert run["topic"] == "kafkalab-performancetest"
    port = plain.bootstrap_servers.rsplit(":", 1)[1]
    assert run["spec"]["observed"]["brokers"] == [{"node_id": 0, "address": f"127.0.0.1:{port}"}]
    assert run["spec"]["load"]["max_bytes"] == EXTERNAL_MAX_BYTES
    consumer = rows("SELECT status, messages FROM consumer_results WHERE run_id = :id", id=run_id)
    assert consumer == [{"status": "ok", "messages": 2 * RECORDS}]

    assert snapshot(plain.bootstrap_servers, "orders") == before
    assert not [t for t in topics(plain.bootstrap_servers) if t.startswith("kafkalab-")]  # its own topics are gone
    assert not [g for g in consumer_groups(plain.bootstrap_servers) if g.startswith("kafkalab-")]  # and its groups


@pytest.mark.kafka
def test_a_topic_that_exists_already_is_never_written_nor_deleted(plain, prefect_api, lab_env):
    from flows.experiment import ExperimentFailed, experiment

    owners_topic(plain.bootstrap_servers, "kafkalab-clash")
    before = snapshot(plain.bootstrap_servers, "kafkalab-clash")
    spec = external_spec("it-ext-clash", plain.bootstrap_servers, topic={"name": "clash"}, smoke_test=False)
    with pytest.raises(ExperimentFailed, match="topic kafkalab-clash already exists"):
        experiment(spec=spec)
    assert snapshot(plain.bootstrap_servers, "kafkalab-clash") == before
    assert "kafkalab-clash" in topics(plain.bootstrap_servers)


@pytest.mark.kafka
def test_more_replicas_than_the_cluster_has_brokers_is_refused_before_anything_is_written(plain, prefect_api, lab_env):
    from flows.experiment import experiment

    before = topics(plain.bootstrap_servers)
    spec = external_spec("it-ext-rf", plain.bootstrap_servers, topic={"replication_factor": 3})
    with pytest.raises(SpecError) as refused:
        experiment(spec=spec)
    assert str(refused.value) == (f"topic.replication_factor: 3 exceeds the 1 brokers of the cluster at "
                                  f"{plain.bootstrap_servers}")
    assert topics(plain.bootstrap_servers) == before
    assert not stored_runs("it-ext-rf")


@pytest.mark.kafka
def test_topic_keep_leaves_the_run_topic(plain, prefect_api, lab_env):
    from flows.experiment import experiment

    spec = external_spec("it-ext-keep", plain.bootstrap_servers, topic={"name": "kept-run", "keep": True},
                         producer={"instances": 1, "num_records": 500})
    experiment(spec=spec)
    left = {t for t in topics(plain.bootstrap_servers) if t.startswith("kafkalab-")} - {"kafkalab-clash"}
    assert left == {"kafkalab-kept-run"}  # the smoke-test topic went all the same
    assert admin.records_in_topic(plain.bootstrap_servers, "kafkalab-kept-run") == 500
    admin.delete_topics(plain.bootstrap_servers, ["kafkalab-kept-run"])


@pytest.mark.kafka
def test_the_sweep_flow_runs_its_cells_on_the_external_cluster(plain, prefect_api, lab_env):
    from flows.sweep import sweep

    base = external_spec("it-ext-sweep", plain.bootstrap_servers, producer={"num_records": 1000},
                         consumer={"enabled": False})
    base.pop("name")
    sweep_id = sweep(parse_sweep({"name": "it-ext-sweep", "base": base,
                                  "axes": {"producer.instances": [1, 2], "producer.record_size": [100, 200],
                                           "producer.props.linger.ms": [5]}}))
    runs = rows("SELECT status, platform, producer_instances, record_size, producer_props FROM runs "
                "WHERE sweep_id = :id ORDER BY cell_index", id=sweep_id)
    assert [(r["producer_instances"], r["record_size"]) for r in runs] == [(1, 100), (1, 200), (2, 100), (2, 200)]
    assert all(r["status"] == "ok" and r["platform"] == "external" for r in runs)
    assert all(r["producer_props"]["linger.ms"] == "5" for r in runs)
    assert not [t for t in topics(plain.bootstrap_servers) if t.startswith("kafkalab-performancetest")]


@pytest.mark.kafka
def test_dry_run_prints_what_would_be_written_and_changes_nothing(plain, tmp_path, lab_env):
    import yaml

    spec_file = tmp_path / "dry.yaml"
    spec_file.write_text(yaml.safe_dump(external_spec("it-ext-dry", plain.bootstrap_servers, repetitions=2)))
    before = topics(plain.bootstrap_servers)
    proc = cli("run", str(spec_file), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"the external cluster at {plain.bootstrap_servers}" in out
    assert "creates topic kafkalab-performancetest-1: 2 partitions, RF 1" in out
    assert "creates topic kafkalab-performancetest-2" in out
    assert "writes at most 390.6 KiB (400000 bytes) of record values per run" in out  # 2 x 2000 x 100 B
    assert "every topic kafkalab created is deleted" in out
    assert topics(plain.bootstrap_servers) == before
    assert not stored_runs("it-ext-dry")


@pytest.mark.kafka
def test_reaping_and_clean_leave_an_up_cluster_running(plain, lab_env):
    from kafkalab.core.paths import runs_dir

    # Its owner, the `cluster up` command, is gone: a run directory in that state would be reaped.
    assert reap_stale_clusters(kept.kept_clusters_dir()) == []
    assert reap_stale_clusters(runs_dir()) == []
    proc = cli("clean")
    assert proc.returncode == 0, proc.stderr
    assert f"cluster it-plain ({plain.bootstrap_servers}, up " in proc.stdout and "left running" in proc.stdout
    assert plain.running() and admin.registered_brokers(plain.bootstrap_servers)
    status = cli("cluster", "status")
    assert status.returncode == 0 and f"it-plain: {plain.bootstrap_servers} PLAINTEXT" in status.stdout


@pytest.mark.kafka
def test_clean_clusters_stops_them_and_frees_their_ports(plain, lab_env):
    proc = cli("clean", "--clusters")
    assert proc.returncode == 0, proc.stderr
    assert f"cluster it-plain ({plain.bootstrap_servers}) stopped" in proc.stdout
    assert not plain.running()
    assert all(port_is_free(port) for port in plain.ports)
    assert kept.find("it-plain") is None


# --------------------------------------------------------------------------- SASL_SSL with SCRAM and a CA


@pytest.mark.kafka
def test_a_sasl_ssl_scram_cluster_with_a_ca(prefect_api, lab_env, kafka_dist, monkeypatch):
    from flows.experiment import experiment
    from kafkalab.app.cluster_command import describe

    with kept_cluster("it-scram", security="sasl-ssl-scram") as cluster:
        printed = "\n".join(describe(cluster))  # what `kafkalab cluster up` prints: paths, never the secret
        assert Path(cluster.password_file).read_text() not in printed
        for path in (cluster.client_properties, cluster.password_file, cluster.ca_file):
            assert path in printed and Path(path).is_file()
        assert Path(cluster.client_properties).stat().st_mode & 0o777 == 0o600
        assert Path(cluster.password_file).stat().st_mode & 0o777 == 0o600
        security = {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": cluster.username,
                    "password": "env:KAFKALAB_IT_EXT_PW", "ca_file": cluster.ca_file}
        monkeypatch.setenv("KAFKALAB_IT_EXT_PW", Path(cluster.password_file).read_text())
        endpoint = user_endpoint(cluster)
        owners_topic(endpoint, "payments")
        before = snapshot(endpoint, "payments")

        experiment(spec=external_spec("it-ext-scram", cluster.bootstrap_servers, security=security))
        (run,) = stored_runs("it-ext-scram")
        assert run["status"] == "ok" and run["total_records"] == 2 * RECORDS, run["error"]
        assert run["kafka_version"] == ".".join(cluster.kafka_version.split(".")[:2])  # asked with the same credentials
        assert snapshot(endpoint, "payments") == before
        assert not [t for t in topics(endpoint) if t.startswith("kafkalab-")]

        # Wrong credentials: one line naming the mechanism, at readiness, nothing stored or created.
        monkeypatch.setenv("KAFKALAB_IT_EXT_PW", "not-the-password")
        with pytest.raises(KafkalabError) as wrong:
            experiment(spec=external_spec("it-ext-wrong-pw", cluster.bootstrap_servers, security=security))
        assert "\n" not in str(wrong.value)
        assert str(wrong.value).startswith("cluster.security: SCRAM-SHA-512 authentication as user kafkalab failed")
        assert not stored_runs("it-ext-wrong-pw")

        # A secret reference that does not resolve: one line naming it.
        monkeypatch.delenv("KAFKALAB_IT_EXT_PW")
        with pytest.raises(KafkalabError) as missing:
            experiment(spec=external_spec("it-ext-no-pw", cluster.bootstrap_servers, security=security))
        assert str(missing.value) == ("cluster.security.password: env:KAFKALAB_IT_EXT_PW does not resolve: "
                                      "environment variable KAFKALAB_IT_EXT_PW is not set")
        assert not stored_runs("it-ext-no-pw")
        assert not [t for t in topics(endpoint) if t.startswith("kafkalab-")]


# --------------------------------------------------------------------------- another Kafka release


@pytest.mark.kafka
def test_a_kafka_4_0_cluster_has_its_version_detected_and_stored(prefect_api, lab_env, kafka_dist):
    from flows.experiment import experiment

    with kept_cluster("it-k40", kafka_version="4.0.0") as cluster:
        assert cluster.kafka_version == "4.0.0"
        spec = external_spec("it-ext-k40", cluster.bootstrap_servers, producer={"instances": 1})
        experiment(spec=spec)
    (run,) = stored_runs("it-ext-k40")
    assert run["status"] == "ok" and run["total_records"] == RECORDS, run["error"]
    assert run["kafka_version"] == "4.0"
    assert run["spec"]["observed"]["metadata_version"]["supported_max"].startswith("4.0-IV")
    assert run["spec"]["kafka_version"] != "4.0.0"  # the clients' Kafka: the detected version is the cluster's


# --------------------------------------------------------------------------- the byte budget (kafkalab's generator)


@pytest.mark.kafka
def test_the_byte_budget_stops_a_run_that_would_exceed_it(prefect_api, lab_env, kafka_dist):
    from flows.experiment import experiment

    budget = 300_000  # of the 2 x 20000 x 100 B = 4 MB the producers are asked for
    with kept_cluster("it-budget") as cluster:
        spec = external_spec("it-ext-budget", cluster.bootstrap_servers, load={"max_bytes": budget},
                             producer={"tool": "kafkalab", "num_records": 20000, "throughput": 20000},
                             consumer={"tool": "kafkalab", "timing": "after"})
        experiment(spec=spec)
        (run,) = stored_runs("it-ext-budget")
    assert run["status"] == "ok", run["error"]
    producers = rows("SELECT stopped_by, records FROM producer_results WHERE run_id = :id", id=run["id"])
    assert [p["stopped_by"] for p in producers] == ["bytes", "bytes"]
    assert 0 < sum(p["records"] for p in producers) * 100 <= budget  # what it measured is stored


# --------------------------------------------------------------------------- bad input, before anything is written


def test_unreachable_bootstrap_servers_fail_at_readiness_naming_the_address(prefect_api, lab_env):
    from flows.experiment import experiment

    address = f"127.0.0.1:{free_port()}"
    spec = external_spec("it-ext-unreachable", address, cluster={"bootstrap_servers": address, "ready_timeout_s": 3})
    with pytest.raises(KafkalabError) as failed:
        experiment(spec=spec)
    assert str(failed.value).startswith(f"cluster.bootstrap_servers: no broker at {address} answered within 3 s")
    assert "\n" not in str(failed.value)
    assert not stored_runs("it-ext-unreachable")


def test_a_broker_count_axis_is_refused_in_one_line():
    base = external_spec("x", "127.0.0.1:9092")
    base.pop("name")
    plan = plan_sweep(parse_sweep({"name": "it-ext-scale", "base": base, "axes": {"cluster.brokers": [1, 3]}}))
    with pytest.raises(SpecError) as refused:
        check_plan(plan)
    assert str(refused.value) == ("it-ext-scale: cell 1 (cluster.brokers=3): cluster.brokers: platform external "
                                  "does not scale brokers: kafkalab did not deploy them (drop the cluster.brokers axis)")


def test_a_sweep_dry_run_prints_every_cells_topic_and_bytes(tmp_path):
    import yaml

    base = external_spec("x", "127.0.0.1:9092", producer={"num_records": 1000})
    base.pop("name")
    spec_file = tmp_path / "sweep.yaml"
    spec_file.write_text(yaml.safe_dump({"name": "it-ext-dry-sweep", "base": base,
                                         "axes": {"producer.instances": [1, 2], "producer.record_size": [100, 200]}}))
    proc = cli("sweep", str(spec_file), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "connect (external)" in proc.stdout and "deploy " not in proc.stdout  # no "deploy 3 brokers"
    assert "cell 3 (producers=2 size=200) on the external cluster at 127.0.0.1:9092" in proc.stdout
    assert "topic kafkalab-performancetest-s<sweep id>-c3-r<1..1>" in proc.stdout
    # 1000 records x (1 x 100 + 1 x 200 + 2 x 100 + 2 x 200 B)
    assert "writes at most 878.9 KiB (900000 bytes) in all (4 cells x 1 repetitions)" in proc.stdout


@pytest.mark.parametrize(("change", "refusal"), [
    ({"faults": [{"action": "kill", "broker": 0, "at_s": 1, "restart_after_s": 2}]}, "faults: platform external never injects broker faults"),
    ({"producer": {"throughput": -1}}, "producer.throughput: platform external needs a rate limit"),
    ({"cluster": {"broker_config": {"num.io.threads": 4}}}, "cluster.broker_config: platform external does not change"),
    ({"cluster": {"client_quotas": {"producer_byte_rate": 10**6}}}, "cluster.client_quotas: platform external does not"),
    ({"load": {"platform": "kubernetes"}}, "load.platform: kubernetes Jobs against an external cluster are not offered"),
    ({"cluster": {"security": {"protocol": "SASL_SSL"}}}, "cluster.security.password: platform external needs"),
    ({"producer": {"num_records": 10**7}, "load": {"max_bytes": 10**6}},
     "producer.num_records: 2 x 10000000 records of 100 B would write 2000000000 bytes, above load.max_bytes"),
])
def test_guard_rails_refuse_at_spec_check_naming_the_field(change, refusal):
    with pytest.raises(SpecError) as refused:
        check_spec(parse_spec(external_spec("it-ext-guard", "127.0.0.1:9092", **change)))
    assert refusal in str(refused.value) and "\n" not in str(refused.value)


def test_unthrottled_only_when_allowed_and_the_budget_defaults_low():
    spec = parse_spec(external_spec("it-ext-ok", "127.0.0.1:9092", producer={"throughput": -1},
                                    load={"allow_unthrottled": True}))
    check_spec(spec)
    assert spec.load.max_bytes == EXTERNAL_MAX_BYTES == 2**30
    local = parse_spec({"name": "it-local", "producer": {"num_records": 10}})
    assert local.load.max_bytes is None


@pytest.mark.parametrize(("cluster", "message"), [
    ({"bootstrap_servers": "127.0.0.1:9092"}, "cluster.bootstrap_servers: only for platform external"),
    ({"security": {"protocol": "SSL", "ca_file": __file__}}, "cluster.security.ca_file: only for platform external"),
])
def test_external_settings_are_refused_on_platforms_that_deploy(cluster, message):
    with pytest.raises(SpecError, match=message):
        parse_spec({"name": "it-local", "cluster": cluster, "producer": {"num_records": 10}})


def test_bootstrap_servers_are_required_and_checked():
    with pytest.raises(SpecError, match="cluster.bootstrap_servers: platform external needs the host:port"):
        parse_spec({"name": "x", "platform": "external", "producer": {"num_records": 10, "throughput": 10}})
    with pytest.raises(SpecError, match="must be host:port"):
        parse_spec(external_spec("x", "broker-without-port"))


def test_a_client_certificate_reaches_both_clients_and_its_key_stays_private(tmp_path, monkeypatch):
    from kafkalab.kafka.security import write_tls_files
    from kafkalab.platforms.external import client_security

    tls = write_tls_files(tmp_path / "made")  # a real key and certificate chain, PEM
    pem = tls.broker_keystore.read_text()
    key_end = pem.index("-----END PRIVATE KEY-----") + len("-----END PRIVATE KEY-----\n")
    (tmp_path / "client.key").write_text(pem[:key_end])
    (tmp_path / "client.pem").write_text(pem[key_end:])
    monkeypatch.setenv("KAFKALAB_IT_KEY_PW", "key-secret")
    spec = parse_spec(external_spec("it-ext-mtls", "broker.example.com:9093", security={
        "protocol": "SSL", "ca_file": str(tls.ca_cert), "client_certificate": str(tmp_path / "client.pem"),
        "client_key": str(tmp_path / "client.key"), "client_key_password": "env:KAFKALAB_IT_KEY_PW"}))
    client = client_security(spec, tmp_path / "run")

    java = client.java_properties()
    assert java["ssl.keystore.type"] == "PEM" and java["ssl.key.password"] == "key-secret"
    keystore = Path(java["ssl.keystore.location"])
    assert keystore.read_text() == pem[:key_end] + pem[key_end:]  # the key, then its chain: one PEM keystore
    assert keystore.stat().st_mode & 0o777 == 0o600
    assert java["ssl.truststore.location"] == str(tls.ca_cert)
    rdkafka = client.librdkafka_config()
    assert rdkafka["ssl.certificate.location"] == str(tmp_path / "client.pem")
    assert rdkafka["ssl.key.location"] == str(tmp_path / "client.key")
    assert "key-secret" not in repr(client) and "env:KAFKALAB_IT_KEY_PW" in str(spec.cluster.security)


def test_a_client_certificate_needs_its_key():
    with pytest.raises(SpecError, match="cluster.security.client_key: a client certificate needs its key"):
        parse_spec(external_spec("x", "broker.example.com:9093",
                                 security={"protocol": "SSL", "client_certificate": __file__}))
