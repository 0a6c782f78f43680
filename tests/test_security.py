"""Secured clusters (SASL, TLS) and where secrets may go: a file readable by the user, nowhere else.

The password must never reach a command line (`ps`), a log, an artifact, the stored spec or a
result row; specs only name where a password lives (env:VAR, prefect-secret:BLOCK).
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml

from kafkalab.core import secrets
from kafkalab.core.errors import SpecError
from kafkalab.core.secrets import SecretError
from kafkalab.kafka import loadgen
from kafkalab.kafka.security import ClientSecurity, ClusterSecurity, write_tls_files
from kafkalab.spec import parse_spec
from tests.conftest import jvms_of

REPO = Path(__file__).resolve().parents[1]
RECORDS = 2000


def _spec(name: str, security: dict) -> dict:
    return {
        "name": name,
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192, "security": security},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"instances": 1, "num_records": RECORDS, "record_size": 100, "throughput": -1, "heap_mb": 128},
        "consumer": {"timeout_ms": 15000, "heap_mb": 128},
    }


# -- spec and secret references -------------------------------------------------------------


def test_a_literal_password_in_a_spec_is_refused():
    with pytest.raises(SpecError, match=r"^spec: cluster\.security\.password: .*env:VARIABLE or prefect-secret:BLOCK_NAME"):
        parse_spec(_spec("literal", {"protocol": "SASL_SSL", "password": "hunter2"}))


@pytest.mark.parametrize("key", ["sasl.jaas.config", "security.protocol", "ssl.truststore.password"])
def test_credentials_in_client_settings_are_refused(key):
    data = _spec("props", {"protocol": "SASL_SSL"})
    data["producer"]["props"] = {key: "x"}
    with pytest.raises(SpecError, match=rf"^spec: producer\.props\.{key.replace('.', '[.]')}: set by kafkalab from cluster\.security"):
        parse_spec(data)


def test_unknown_protocol_names_the_field():
    with pytest.raises(SpecError, match=r"^spec: cluster\.security\.protocol"):
        parse_spec(_spec("proto", {"protocol": "SASL_TLS"}))


def test_an_unset_environment_variable_is_one_line_naming_field_and_reference(monkeypatch):
    monkeypatch.delenv("KAFKALAB_TEST_UNSET_PW", raising=False)
    with pytest.raises(SecretError) as err:
        secrets.resolve("env:KAFKALAB_TEST_UNSET_PW", "cluster.security.password")
    assert str(err.value) == (
        "cluster.security.password: env:KAFKALAB_TEST_UNSET_PW does not resolve: "
        "environment variable KAFKALAB_TEST_UNSET_PW is not set"
    )


def test_reprs_and_client_properties_hide_or_carry_the_password(tmp_path):
    sec = ClusterSecurity.create("SASL_SSL", "SCRAM-SHA-512", "alice", None, tmp_path)
    client = sec.user_client()
    assert sec.password not in repr(sec) and sec.password not in repr(client)
    props = client.java_properties()
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert f'password="{sec.password}"' in props["sasl.jaas.config"]
    assert client.librdkafka_config()["sasl.password"] == sec.password
    for pem in (sec.tls.ca_cert, sec.tls.broker_keystore):
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600


def test_jaas_values_are_quoted_so_a_password_cannot_inject_options():
    props = ClientSecurity("SASL_PLAINTEXT", "PLAIN", "bob", 'p"w\\x" evil="1').java_properties()
    assert props["sasl.jaas.config"].endswith('password="p\\"w\\\\x\\" evil=\\"1";')


def test_tls_certificate_is_for_loopback(tmp_path):
    from cryptography import x509

    files = write_tls_files(tmp_path)
    pem = files.broker_keystore.read_bytes()
    cert = x509.load_pem_x509_certificates(pem[pem.index(b"-----BEGIN CERTIFICATE-----"):])[0]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


# -- real secured clusters --------------------------------------------------------------------


class _PsWatcher:
    """Reads every process's command line and environment-free args while a run goes on."""

    def __init__(self) -> None:
        self.lines: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
            self.lines.update(out.splitlines())
            self._stop.wait(0.3)

    def __enter__(self) -> _PsWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _database_text(url: str) -> str:
    """Every row of every table of the results database, as text."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )]
        return "\n".join(str(row[0]) for t in tables for row in conn.execute(f'SELECT t::text FROM "{t}" t'))


async def _prefect_text() -> str:
    """Every log line and artifact the Prefect API holds."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        logs = await client.read_logs(limit=200)
        artifacts = await client.read_artifacts(limit=200)
        runs = await client.read_flow_runs(limit=200)
    return "\n".join([*(log.message for log in logs), *(str(a.data) for a in artifacts),
                      *(str(r.parameters) for r in runs)])


@pytest.mark.kafka
def test_sasl_ssl_scram_cluster_authenticates_and_the_password_stays_secret(
    prefect_api, lab_env, kafka_dist, fresh_db_url, tmp_path
):
    from prefect.settings import PREFECT_API_URL

    password = "kafkalab-test-Secret-4f2a9c"
    spec_file = tmp_path / "secured.yaml"
    spec_file.write_text(yaml.safe_dump(_spec("it-sasl-ssl", {
        "protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": "perf", "password": "env:KAFKA_PERF_PW",
    })))
    env = {**os.environ, **lab_env, "DATABASE_URL": fresh_db_url, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "KAFKA_PERF_PW": password}
    with _PsWatcher() as ps:
        proc = subprocess.run([sys.executable, "-m", "kafkalab", "run", str(spec_file)], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=420)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert password not in output

    with psycopg.connect(fresh_db_url) as conn:
        status, records = conn.execute(
            "SELECT status, total_records FROM v_run_totals"
        ).fetchone()
    assert status == "ok" and records == RECORDS

    # The load generator and the brokers ran (their JVMs were seen) and none had the password on its command line.
    assert any(loadgen.MAIN in line and " produce " in line for line in ps.lines)
    assert any("kafka.Kafka" in line for line in ps.lines)
    assert not [line for line in ps.lines if password in line]

    run_dir = next(Path(lab_env["KAFKALAB_DATA_DIR"], "runs").glob("*-it-sasl-ssl-*"))
    assert not jvms_of(run_dir)
    holders = [p for p in run_dir.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    assert holders, "the perf tools' client properties carry the password"
    assert all(p.suffix == ".properties" and stat.S_IMODE(p.stat().st_mode) == 0o600 for p in holders), holders
    assert not [p for p in run_dir.rglob("*.log") if password.encode() in p.read_bytes()]

    assert password not in _database_text(fresh_db_url)
    assert "env:KAFKA_PERF_PW" in _database_text(fresh_db_url)  # the stored spec names the reference
    assert password not in asyncio.run(_prefect_text())


@pytest.mark.kafka
def test_sasl_plain_with_a_prefect_secret_block(prefect_api, lab_env, kafka_dist, tmp_path):
    from prefect.blocks.system import Secret

    from flows.experiment import experiment
    from kafkalab.results.store import Store

    password = "block-Secret-77c1e0"
    Secret(value=password).save("kafkalab-test-kafka-password", overwrite=True)
    spec = parse_spec(_spec("it-sasl-plain", {
        "protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "password": "prefect-secret:kafkalab-test-kafka-password",
    }))
    (run_id,) = experiment(spec=spec)
    _, rows = Store(lab_env["DATABASE_URL"]).query(
        "SELECT status, total_records FROM v_run_totals WHERE run_id = :id", {"id": run_id}
    )
    assert rows == [("ok", RECORDS)]
    run_dir = next(Path(lab_env["KAFKALAB_DATA_DIR"], "runs").glob("*-it-sasl-plain-*"))
    consumer_props = next(run_dir.rglob("consumer*.properties")).read_text()
    assert "security.protocol=SASL_PLAINTEXT" in consumer_props and password in consumer_props


@pytest.mark.kafka
def test_an_unresolvable_secret_fails_before_any_jvm_starts(prefect_api, lab_env, kafka_dist, tmp_path):
    from prefect.settings import PREFECT_API_URL

    spec_file = tmp_path / "unset.yaml"
    spec_file.write_text(yaml.safe_dump(_spec("it-sasl-unset", {"protocol": "SASL_SSL", "password": "env:KAFKALAB_NOT_SET"})))
    env = {k: v for k, v in {**os.environ, **lab_env}.items() if k != "KAFKALAB_NOT_SET"}
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    stderr_file = tmp_path / "stderr.txt"
    with stderr_file.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "kafkalab", "run", str(spec_file)], env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        jvms = _java_in_process_tree_until_exit(proc, timeout_s=240)
    output = stderr_file.read_text()
    assert proc.returncode != 0
    assert ("cluster.security.password: env:KAFKALAB_NOT_SET does not resolve: "
            "environment variable KAFKALAB_NOT_SET is not set") in output
    assert "Traceback" not in output
    runs = Path(lab_env["KAFKALAB_DATA_DIR"], "runs")
    assert not [d for d in runs.glob("*-it-sasl-unset-*") if any(d.glob("broker-*"))]
    assert jvms == set()  # watched in this run's own process tree: other suites' JVMs do not count


def _java_in_process_tree_until_exit(proc: subprocess.Popen, *, timeout_s: float) -> set[int]:
    """Pids of every java process seen among `proc`'s descendants, polled until it exits.
    A JVM lives far longer than the poll interval, so none starts unseen. Stops `proc` on timeout."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout_s)
            try:
                children = root.children(recursive=True)
            except psutil.NoSuchProcess:
                children = []  # exiting
            for child in children:
                try:
                    if "java" in child.name():
                        seen.add(child.pid)
                except psutil.Error:
                    pass  # gone between listing and looking
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return seen
