"""The Kubernetes Job that grades a class larger than one machine (infra/batch-k8s/): its
manifests render with kustomize and validate strictly against the official schemas, and they
run the very command line the batch tests exercise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import REPO

BATCH_K8S = REPO / "infra" / "batch-k8s"
STEPS = ("setup", "grade", "collect")
KUBERNETES = "1.36"


def rendered(step: str) -> list[dict[str, Any]]:
    """``kubectl kustomize infra/batch-k8s/STEP``, parsed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(BATCH_K8S / step)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


def the_job(step: str) -> dict[str, Any]:
    """The one Job of ``step``."""
    (job,) = [obj for obj in rendered(step) if obj["kind"] == "Job"]
    return job


@pytest.mark.parametrize("step", STEPS)
def test_batch_manifests_validate_strictly(step: str) -> None:
    for obj in rendered(step):
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "mlops-labs-batch"


def test_grade_job_is_indexed_one_submission_per_index() -> None:
    job = the_job("grade")
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] >= job["spec"]["parallelism"] >= 1
    (grader,) = job["spec"]["template"]["spec"]["containers"]
    script = grader["args"][0]
    assert '--index "$JOB_COMPLETION_INDEX"' in script and "--resume" in script


def test_every_path_the_grader_mounts_into_containers_is_shared_with_the_docker_sidecar() -> None:
    pod = the_job("grade")["spec"]["template"]["spec"]
    (grader,) = pod["containers"]
    sidecar = next(c for c in pod["initContainers"] if c["name"] == "docker")
    assert sidecar["restartPolicy"] == "Always", "a native sidecar ends with the grader"
    mounts = {
        c["name"]: {m["mountPath"]: m["name"] for m in c["volumeMounts"]} for c in (grader, sidecar)
    }
    for path in ("/tmp", "/data", "/opt/mlops-labs"):  # staged copies, submissions, lab files
        assert mounts["grader"][path] == mounts["docker"][path], path
    assert pod["automountServiceAccountToken"] is False


def test_every_batch_image_is_pinned_and_the_grader_is_one() -> None:
    images = {
        container["image"]
        for step in STEPS
        for obj in rendered(step)
        if obj["kind"] in ("Job", "Pod")
        for container in _containers(obj)
    }
    assert not any(image.endswith(":latest") or ":" not in image for image in images), images
    graders = {image for image in images if "mlops-labs-grader" in image}
    assert len(graders) == 1, graders


def test_the_pods_commands_grade_a_class_and_collect_its_gradebook(
    tiny_labs: Path, tmp_path: Path
) -> None:
    """The grade pods' and the collect pod's own command lines, run here on the tiny lab, with
    tmp_path standing for the volume at /data."""
    classroom = tmp_path / "submissions"
    for name, answer in (("alice", "42"), ("bob", "41")):
        (classroom / name).mkdir(parents=True)
        (classroom / name / "answer.txt").write_text(answer + "\n")
    env = {
        **os.environ,
        "LAB": "foundation/01-tiny-lab",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for step, indexes in (("grade", ["0", "1"]), ("collect", [""])):
        (container,) = the_job(step)["spec"]["template"]["spec"]["containers"]
        script = container["args"][0]
        command = script[script.index("exec mlops-labs") :].replace("/data", str(tmp_path))
        for index in indexes:
            done = subprocess.run(
                ["bash", "-c", command],
                env={**env, "JOB_COMPLETION_INDEX": index},
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, (step, done.stdout, done.stderr)
    rows = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()
    assert [row.split(",")[1:4] for row in rows[1:]] == [
        ["alice", "complete", "6"],
        ["bob", "complete", "3"],
    ]


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Job" else obj["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]
