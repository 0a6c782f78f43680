"""The test bed's runner image (kubetestbed/runner_image.py) holds what docker/runner.Dockerfile
describes and runs as the work pool's template runs it. Fast: reads the recipe, builds nothing
(the image itself runs in tests/test_kube_work_pool_real.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import kafkalab
from kubetestbed import runner_image

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "docker" / "runner.Dockerfile").read_text()
TEMPLATE = json.loads((REPO / "deployments" / "kubernetes" / "base-job-template.json").read_text())


def test_it_holds_what_the_dockerfile_copies_where_the_deployments_expect_it():
    copied = re.findall(r"^COPY (\S+(?: \S+)*?) \S+$", DOCKERFILE, flags=re.MULTILINE)
    assert sorted(p for line in copied for p in line.split()) == sorted(runner_image.PROJECT_PARTS)
    assert re.search(rf"^WORKDIR {runner_image.PROJECT_HOME}$", DOCKERFILE, flags=re.MULTILINE)
    assert f"KAFKALAB_CACHE_DIR={runner_image.CACHE_HOME}" in DOCKERFILE
    assert f"KAFKALAB_DATA_DIR={runner_image.DATA_HOME}" in DOCKERFILE


def test_it_runs_as_the_templates_user_under_an_honest_local_name():
    (container,) = TEMPLATE["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["runAsUser"] == runner_image.RUNNER_UID
    assert re.search(rf"^USER {runner_image.RUNNER_UID}$", DOCKERFILE, flags=re.MULTILINE)
    assert runner_image.image_name() == f"kafkalab.local/runner:{kafkalab.__version__}"


def test_its_python_packages_are_kafkalabs_at_the_building_venvs_versions():
    requirements = runner_image.requirements()
    assert "prefect-kubernetes" in requirements and any(r.startswith("prefect>=") for r in requirements)
    pins = dict(line.split("==") for line in runner_image.constraints())
    import prefect
    import prefect_kubernetes

    assert pins["prefect"] == prefect.__version__ and pins["prefect-kubernetes"] == prefect_kubernetes.__version__
    assert "kafkalab" not in pins  # its source goes into the layer


@pytest.mark.kafka
def test_the_layer_has_the_jars_marked_whole_and_no_lock_files(kafka_dist):
    recipe = runner_image.runner_recipe(kafka_dist.version, on_progress=lambda _: None)
    paths = {entry.path for entry in recipe.entries}
    libs = f"{runner_image.CACHE_HOME}/kafka/{kafka_dist.version}/libs"
    assert f"{libs}/.complete" in paths  # else the pod would fetch the jars again (with Maven it has not)
    assert any(p.startswith(f"{libs}/kafka_2.13-") for p in paths)
    assert not [p for p in paths if p.endswith(".lock") or "__pycache__" in p]
    assert f"{runner_image.PROJECT_HOME}/flows/experiment.py" in paths
    assert recipe.config.user == f"{runner_image.RUNNER_UID}:{runner_image.RUNNER_UID}"
