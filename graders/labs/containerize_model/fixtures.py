"""Fixtures of the containerize-model lab: the staged build context, the image, the containers.

Kept beside the grader so that the grader itself reads like the lab README's acceptance criteria.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container
from docker.models.networks import Network

from graders.catalogue import Lab
from graders.containers.cleanup import run_labels
from graders.containers.http_exchange import Answer, exchange
from graders.containers.images import STAND_IN_BASE, BuildResult, build_image, ensure_image
from graders.containers.layers import ImageContents, read_image
from graders.containers.running import ContainerSpec, Limits, answers_http, host_port
from graders.containers.sandbox import run_in_sandbox
from graders.containers.services import running_service
from graders.errors import GraderError, LearnerFailure
from graders.fixtures.scenario import temporary_folder

SERVICE_PORT = 8080
SERVICE_LIMITS = Limits(cpus=1.0, memory="512m", pids=256)
START_TIMEOUT = 30.0
PLANTED_DIRS = ("data", ".git", "notebooks", "tests")
PLANTED_BYTES = 4 * 1024 * 1024

# Runs in the sandbox runner, never in the grader: trains the lab's own reference model with the
# provided train.py and predicts on held-out rows jittered by a per-run seed. train.py runs as
# `python train.py --out /tmp/model` would run it, in this Python (one start and one scikit-learn
# import fewer: 1.2 s of every grading); what it prints goes to stderr, stdout carries the answer.
REFERENCE_SCRIPT = """
import contextlib, json, runpy, sys
import joblib, numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
seed, sys.argv = int(sys.argv[1]), ["/lab/train.py", "--out", "/tmp/model"]
with contextlib.redirect_stdout(sys.stderr):
    runpy.run_path("/lab/train.py", run_name="__main__")
X, y = load_breast_cancer(return_X_y=True)
_, X_test, _, _ = train_test_split(X, y, test_size=0.25, random_state=42, stratify=y)
rng = np.random.default_rng(seed)
rows = X_test[rng.choice(len(X_test), 64, replace=False)]
batch = np.round(rows * rng.normal(1.0, 0.02, size=rows.shape), 6)
model = joblib.load("/tmp/model/model.joblib")
predictions = [int(p) for p in model.predict(batch)]
version = json.load(open("/tmp/model/metadata.json"))["model_version"]
answer = {"instances": batch.tolist(), "predictions": predictions, "model_version": version}
print(json.dumps(answer))
"""


@dataclass
class RunningService:
    """A learner container and the loopback URL it answers on."""

    container: Container
    url: str
    started_at: float
    seconds_to_first_answer: float

    def predict(self, instances: list[Any]) -> Answer:
        """POST ``{"instances": instances}`` to ``/predict``; no complete answer within 10 s, or
        one over 1 MB, is the learner's failure (a hung or crashed service), never a grader
        error."""
        return post(self.url + "/predict", json={"instances": instances})


def post(
    url: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """POST to the learner's service: a complete answer within 10 s, at most 1 MB, or an
    ``ExchangeFailed`` (a ``LearnerFailure``) that fails the check that asked."""
    return exchange("POST", url, json_body=json, data=data, headers=headers, deadline=10)


@pytest.fixture(scope="session")
def staged_submission(submission_dir: Path, run_id: str) -> Iterator[Path]:
    """A copy of the submission (without its .git) with planted files the image must not hold."""
    with temporary_folder(run_id, "context") as temporary:
        staged = temporary / "context"
        shutil.copytree(
            submission_dir, staged, symlinks=True, ignore=shutil.ignore_patterns(".git")
        )
        token = f"mlops-labs-planted-{run_id}"
        for folder in PLANTED_DIRS:
            (staged / folder).mkdir(exist_ok=True)
        (staged / "data" / f"{token}.csv").write_bytes(random.randbytes(PLANTED_BYTES))
        (staged / ".git" / f"{token}.pack").write_text("planted git object\n")
        (staged / "notebooks" / f"{token}.ipynb").write_text('{"cells": []}\n')
        (staged / "tests" / f"{token}_test.py").write_text("def test_planted():\n    pass\n")
        yield staged


@pytest.fixture(scope="session")
def base_image_source(
    docker_client: docker.DockerClient,
    progress: Callable[[str], None],
    report_environment: dict[str, Any],
) -> str:
    """Make the lab's base image available (present, pulled, or bootstrapped offline)."""
    how = ensure_image(docker_client, STAND_IN_BASE, progress)
    report_environment["base_image"] = f"{STAND_IN_BASE} ({how})"
    return how


@pytest.fixture(scope="session")
def lab_image_build(
    staged_submission: Path,
    base_image_source: str,
    run_id: str,
    progress: Callable[[str], None],
) -> BuildResult:
    """The result of building the learner's Dockerfile (a failed build is a result, no error)."""
    if not (staged_submission / "Dockerfile").is_file():
        return BuildResult(False, "", "no Dockerfile in the submission", 0.0)
    progress("building the learner's image")
    tag = f"mlops-labs/containerize-model:{run_id}"
    return build_image(staged_submission, tag, run_labels(run_id))


@pytest.fixture(scope="session")
def lab_image(lab_image_build: BuildResult) -> str:
    """The tag of the learner's built image (checks that use it require test_image_builds)."""
    if not lab_image_build.ok:
        raise LearnerFailure("the image did not build")
    return lab_image_build.tag


@pytest.fixture(scope="session")
def lab_image_contents(
    docker_client: docker.DockerClient, lab_image: str, progress: Callable[[str], None]
) -> ImageContents:
    """What the learner's image ships in every layer and installs in its final filesystem, read
    once (one ``docker save``) for the build-context and the dependencies checks."""
    progress("reading the learner's image")
    return read_image(docker_client, lab_image)


@pytest.fixture(scope="session")
def reference_batch(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    lab: Lab,
    run_id: str,
    progress: Callable[[str], None],
    report_environment: dict[str, Any],
) -> dict[str, Any]:
    """A held-out batch, the reference model's predictions and its ``model_version`` (from the
    ``metadata.json`` the provided train.py writes), computed in the sandbox runner."""
    seed = random.SystemRandom().randrange(1_000_000)
    report_environment["hidden_batch_seed"] = seed
    progress("training the reference model in the sandbox")
    done = run_in_sandbox(
        docker_client,
        sandbox_image,
        ["python", "-c", REFERENCE_SCRIPT, str(seed)],
        run_id=run_id,
        mounts={lab.solution / "train.py": "/lab/train.py"},
        timeout=180,
    )
    if not done.ok:
        raise GraderError(f"the reference model did not train:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def loopback_url(container: Container, port: int) -> str:
    """``http://127.0.0.1:PORT`` where ``port`` of ``container`` is published ("" if it is not)."""
    published = host_port(container, port)
    return f"http://127.0.0.1:{published}" if published else ""


@contextmanager
def service_running(
    client: docker.DockerClient,
    image: str,
    run_id: str,
    *,
    name: str,
    network: Network | None = None,
    env: dict[str, str] | None = None,
    port: int = SERVICE_PORT,
    read_only: bool = False,
) -> Iterator[RunningService]:
    """The learner's image, once it answers HTTP on ``port`` (any status); removed however the
    block ends. One that exits or does not answer in time fails the check (learner blame)."""
    spec = ContainerSpec(
        image=image,
        run_id=run_id,
        name_hint=name,
        env=env or {},
        limits=SERVICE_LIMITS,
        publish=(port,),
        read_only=read_only,
        network=network.name if network is not None else None,
        drop_capabilities=True,  # the service needs none: it binds a port above 1024
    )
    url = ""

    def answers(container: Container) -> bool:
        nonlocal url
        url = url or loopback_url(container, port)  # published at the start, asked once
        return answers_http(url + "/")()

    with running_service(
        client,
        spec,
        ready=answers,
        timeout=START_TIMEOUT,
        pause=0.1,
        port=port,
        blame=LearnerFailure,
        what="the container",
        until=f"answer HTTP on port {port}",
    ) as service:  # started_at: the container's start, after any wait for the machine
        yield RunningService(service.container, url, service.started_at, service.seconds_to_ready)


@pytest.fixture(scope="session")
def lab_service(
    docker_client: docker.DockerClient,
    lab_image: str,
    run_id: str,
    docker_network: Network,
    progress: Callable[[str], None],
) -> Iterator[RunningService]:
    """The learner's service under 1 CPU and 512 MB, shared by the checks that only call it."""
    progress("starting the learner's container")
    with service_running(
        docker_client, lab_image, run_id, name="service", network=docker_network
    ) as service:
        yield service
