"""Shared fixtures: a real PostgreSQL for the results store (embedded, or given; no mocks).

`results_db_url` is the session's results database: the embedded server of
kafkalab.database in a temp data dir, or the server of KAFKALAB_TEST_DATABASE_URL when set
(to run the same tests against another PostgreSQL). `fresh_db_url` is an empty database
of its own per test. Neither touches DATABASE_URL or KAFKALAB_DATA_DIR.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kafkalab.results import database
from tests.databases import fresh_database


@pytest.fixture(scope="session")
def embedded_results_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[database.EmbeddedServer]:
    """kafkalab's embedded PostgreSQL in a temp data dir, running for the session."""
    data_dir = tmp_path_factory.mktemp("kafkalab-data")
    server = database.EmbeddedServer(data_dir / "postgres")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def results_db_url(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("KAFKALAB_TEST_DATABASE_URL", "").strip()
    if external:
        return database.libpq_url(external)
    server: database.EmbeddedServer = request.getfixturevalue("embedded_results_server")
    return server.url(database.RESULTS_DATABASE)


@pytest.fixture
def fresh_db_url(results_db_url: str) -> Iterator[str]:
    """A new, empty database on the results server, dropped after the test."""
    with fresh_database(results_db_url) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def _no_stray_embedded_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Stop any embedded server a test started under the session's temp dir and left running."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and "-D" in cmdline[:-1]:
            pgdata = Path(cmdline[cmdline.index("-D") + 1])
            if str(pgdata).startswith(base + os.sep):
                database.EmbeddedServer(pgdata.parent).stop()


# --------------------------------------------------------------------------- Kafka and Prefect


@pytest.fixture(scope="session")
def kafka_dist():
    """The real Kafka distribution (fetched by `make kafka` into the user cache, or KAFKA_HOME)."""
    from kafkalab.kafka import distribution

    return distribution.resolve()


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory: pytest.TempPathFactory, results_db_url: str) -> Iterator[dict[str, str]]:
    """Environment of a kafkalab process under test: its own data dir, the test results
    database, an isolated Prefect home. Applied to this process for in-process flow runs."""
    root = tmp_path_factory.mktemp("lab")
    env = {
        "KAFKALAB_DATA_DIR": str(root / "data"),
        "DATABASE_URL": results_db_url,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        from kafkalab.app import prefect_api

        prefect_api.stop()  # the lasting Prefect API that CLI runs under test started in this data dir
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def prefect_api(lab_env: dict[str, str]) -> Iterator[None]:
    """One real (temporary) Prefect server for the session's in-process flow runs."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def jvms_of(directory: Path) -> list[psutil.Process]:
    """Live java processes whose command line mentions `directory` (a run directory)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "java" in (process.info["name"] or "") and str(directory) in cmdline:
            found.append(process)
    return found


@pytest.fixture(scope="session")
def one_broker_cluster(tmp_path_factory: pytest.TempPathFactory, kafka_dist):
    """One local KRaft broker (heap 256 MB, controller 192 MB) shared by the session's tests
    that need just a broker (test_generator_runs, test_run_metrics): one start instead of one
    per module. Each test makes topics of its own names; a test that pauses the broker
    (SIGSTOP) lets it go on (SIGCONT) before it ends."""
    with running_local_cluster(kafka_dist, tmp_path_factory.mktemp("one-broker")) as cluster:
        yield cluster


@contextlib.contextmanager
def running_local_cluster(kafka_dist, root: Path, settings=None, *, brokers: int = 1):
    """A local KRaft cluster (heap 256 MB, controller 192 MB) under `root`, ready; stopped
    after, leaving no JVM."""
    from kafkalab.kafka.broker_config import BrokerSettings
    from kafkalab.platforms.local import LocalCluster

    cluster = LocalCluster(kafka_dist, root / "cluster", settings or BrokerSettings(), heap_mb=256,
                           controller_heap_mb=192)
    try:
        cluster.deploy(brokers)
        cluster.wait_ready(timeout_s=120)
        yield cluster
    finally:
        cluster.stop(grace_s=0)
    assert jvms_of(root / "cluster") == []


# --------------------------------------------------------------------------- Kubernetes


@pytest.fixture(scope="session")
def kube_testbed(tmp_path_factory: pytest.TempPathFactory):
    """A real Kubernetes control plane (kubetestbed) with 3 fake kwok nodes, for the session.
    Fails, never skips, when `make kube-testbed` has not built it."""
    from kubetestbed.controlplane import BinariesMissing, ControlPlane

    plane = ControlPlane(nodes=3, workdir=tmp_path_factory.mktemp("kube"))
    try:
        plane.start()
    except BinariesMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_real_testbed(tmp_path_factory: pytest.TempPathFactory):
    """A control plane with one real node (kubelet + containerd in namespaces) holding the
    images of `make kube-images`, for the session: the node advertises the machine's 2 CPUs,
    so tests size their pods' requests to fit. Fails, never skips, when something is not built.
    Stopped, it must leave no process, mount, namespace, cgroup or kernel setting."""
    from kafkalab.kafka.distribution import DEFAULT_KAFKA_VERSION
    from kubetestbed import images
    from kubetestbed.controlplane import BinariesMissing, ControlPlane
    from kubetestbed.kernel import read_sysctls
    from tests.kube_real import NO_TRACES, assert_kernel_settings_put_back, node_traces

    try:  # the archives first: a missing one fails at once, naming `make kube-images`
        archives = [images.built_archive(name) for name in (
            images.pause_image_name(), images.platform_images.default_image(DEFAULT_KAFKA_VERSION))]
    except images.ImageError as missing:
        pytest.fail(str(missing), pytrace=False)
    before = read_sysctls()
    workdir = tmp_path_factory.mktemp("kube-real")
    plane = ControlPlane(nodes=0, real_nodes=1, workdir=workdir, node_images=archives, timeout_s=300)
    try:
        plane.start()
    except BinariesMissing as missing:
        plane.stop()
        pytest.fail(str(missing), pytrace=False)
    try:
        yield plane
    finally:
        names = [node.cgroups.name for node in plane.real_nodes]
        plane.stop()
    assert plane.cleanup_problems == []
    assert node_traces(workdir, names) == NO_TRACES
    assert_kernel_settings_put_back(before)
