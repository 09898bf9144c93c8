"""Fixtures of the model-registry lab: the learner's registry server and tool, for real.

The grader builds the learner's server image (``server/``), starts it on an internal network under
the service name ``registry`` with a volume at ``/data``, and runs the learner's ``registry`` tool
and ``serve.py`` in a sandbox workspace on the same network (``MLFLOW_TRACKING_URI=
http://registry:5000``), reaching that server and nothing else. The scenario that drives the tool
is in ``model_registry_scenario``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from graders.containers.cleanup import run_labels
from graders.containers.images import BuildResult, build_submission
from graders.containers.running import (
    ContainerSpec,
    Limits,
    is_running,
    start_container,
    tail_logs,
    wait_while_running,
)
from graders.containers.workspace import (
    GRADER,
    SUBMISSION,
    WORK,
    Workspace,
    leaving_out,
    stage_readable,
    submission_workspace,
)
from graders.errors import LearnerFailure
from graders.labs._shared.churn import write_csv

SERVICE = "registry"
PORT = 5000
PROJECT = f"{WORK}/project"
MODELS = f"{WORK}/models"
PROBE = Path(__file__).with_name("probe.py")
START_TIMEOUT = 150.0
SERVER_LIMITS = Limits(cpus=1.0, memory="1536m", pids=512)
TOOL_ENV = {
    "HOME": "/tmp",
    "MLFLOW_TRACKING_URI": f"http://{SERVICE}:{PORT}",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass
class RegistryServer:
    """The learner's server container; ``replace`` starts a new one on the same volume."""

    client: docker.DockerClient
    spec: ContainerSpec
    container: Container | None = None
    seconds_to_ready: float | None = None

    def start(self, workspace: Workspace) -> None:
        """Start a container and wait until it answers /health through its service name."""
        container = self.container = start_container(self.client, self.spec)
        self.seconds_to_ready = wait_while_running(
            container,
            lambda: workspace.probe(f"{GRADER}/probe.py", "health").get("health") == 200,
            START_TIMEOUT,
            pause=1,
        )
        if self.seconds_to_ready is not None:
            return
        if not is_running(container):
            raise LearnerFailure(
                f"the registry container stopped ({container.attrs['State']['Status']}, "
                f"exit {container.attrs['State']['ExitCode']}):\n{self.logs()}"
            )
        raise LearnerFailure(
            f"the registry did not answer http://{SERVICE}:{PORT}/health within "
            f"{START_TIMEOUT:.0f} s:\n{self.logs()}"
        )

    def replace(self, workspace: Workspace) -> None:
        """Remove the container (not the volume) and start a new one from the same image."""
        if self.container is not None:
            self.container.remove(force=True)
        self.start(workspace)

    def logs(self) -> str:
        """The last lines the server wrote, indented."""
        text = tail_logs(self.container, 15) if self.container else ""
        return "\n".join("    " + line for line in text.strip().splitlines())


@pytest.fixture(scope="session")
def grader_files(run_id: str) -> Iterator[Path]:
    """The probe and the data the grader trains its models on, mounted at /grader."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-grader-") as temporary:
        folder = Path(temporary) / "grader"
        folder.mkdir()
        shutil.copy(PROBE, folder / "probe.py")
        write_csv(folder / "train.csv", seed=7001, count=6_000)
        write_csv(folder / "holdout.csv", seed=7002, count=3_000)
        yield stage_readable(folder, Path(temporary) / "mounted")


@pytest.fixture(scope="session")
def registry_build(
    docker_client: docker.DockerClient,
    submission_dir: Path,
    run_id: str,
    progress: Callable[[str], None],
) -> BuildResult:
    """The result of building ``server/`` (a failed build is a result, not an error)."""
    return build_submission(
        docker_client,
        submission_dir / "server",
        f"mlops-labs/model-registry:{run_id}",
        run_id,
        progress,
        where="server/Dockerfile",
        what="your registry server image",
    )


@pytest.fixture(scope="session")
def workspace(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    submission_dir: Path,
    grader_files: Path,
    internal_network: str,
    run_id: str,
) -> Iterator[Workspace]:
    """The sandbox on the registry's network, with a copy of the learner's project in it."""
    with submission_workspace(
        docker_client,
        sandbox_image,
        submission=submission_dir,
        grader_files=grader_files,
        run_id=run_id,
        env=TOOL_ENV,
        leave_out=leaving_out(".git", "mlruns"),
        network=internal_network,
        setup=f"cp -a {SUBMISSION} {PROJECT}",
    ) as opened:
        yield opened


@pytest.fixture(scope="session")
def registry_server(
    docker_client: docker.DockerClient,
    registry_build: BuildResult,
    internal_network: str,
    workspace: Workspace,
    run_id: str,
    progress: Callable[[str], None],
    report_environment: dict[str, Any],
) -> Iterator[RegistryServer]:
    """The learner's server, started with a fresh volume at /data; removed with it afterwards."""
    if not registry_build.ok:
        tail = "\n".join("    " + line for line in registry_build.log.strip().splitlines()[-15:])
        raise LearnerFailure(f"docker build of server/ failed:\n{tail}")
    volume = docker_client.volumes.create(
        f"mlops-labs-{run_id}-registry-data", labels=run_labels(run_id)
    )
    spec = ContainerSpec(
        image=registry_build.tag,
        run_id=run_id,
        name_hint="registry",
        limits=SERVER_LIMITS,
        network=internal_network,
        aliases=(SERVICE,),
        volumes={volume.name: "/data"},
        drop_capabilities=True,
    )
    server = RegistryServer(docker_client, spec)
    try:
        progress("starting your registry server")
        server.start(workspace)
        report_environment["registry_start_seconds"] = server.seconds_to_ready
        yield server
    finally:
        if server.container is not None:
            try:
                server.container.remove(force=True)
            except docker.errors.APIError:
                pass
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass
