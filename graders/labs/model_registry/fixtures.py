"""Fixtures of the model-registry lab: the learner's registry server and tool, for real.

The grader builds the learner's server image (``server/``), starts it on an internal network under
the service name ``registry`` with a volume at ``/data``, and runs the learner's ``registry`` tool
and ``serve.py`` in a sandbox workspace on the same network (``MLFLOW_TRACKING_URI=
http://registry:5000``), reaching that server and nothing else. The scenario that drives the tool
is in ``model_registry_scenario``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from graders.containers.cleanup import run_labels
from graders.containers.images import BuildResult, build_submission
from graders.containers.running import ContainerSpec, Limits
from graders.containers.services import IdleWatch, running_service
from graders.containers.workspace import (
    MLFLOW_CLIENT_ENV,
    SUBMISSION,
    WORK,
    Workspace,
    WorkspaceOptions,
    leaving_out,
)
from graders.errors import LearnerFailure
from graders.fixtures.scenario import OpenLabWorkspace
from graders.labs.model_registry.probe import Health

SERVICE = "registry"
PORT = 5000
PROJECT = f"{WORK}/project"
MODELS = f"{WORK}/models"
START_TIMEOUT = 150.0
SERVER_LIMITS = Limits(cpus=1.0, memory="1536m", pids=512)
WORKSPACE = WorkspaceOptions(
    env={
        **MLFLOW_CLIENT_ENV,
        "MLFLOW_TRACKING_URI": f"http://{SERVICE}:{PORT}",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",
        "PYTHONDONTWRITEBYTECODE": "1",
    },
    leave_out=leaving_out(".git", "mlruns"),
    setup=f"cp -a {SUBMISSION} {PROJECT}",
)


@dataclass
class RegistryServer:
    """The learner's server container; ``replace`` starts a new one on the same volume, and
    ``stop`` removes the current one."""

    client: docker.DockerClient
    spec: ContainerSpec
    container: Container | None = None
    seconds_to_ready: float | None = None
    ready_at: float = 0.0  # time.monotonic() when it first answered /health
    settling: IdleWatch | None = None  # watches it from then until it has settled (gone idle)
    running: ExitStack = field(default_factory=ExitStack)

    def start(self, workspace: Workspace) -> None:
        """Start a container and wait until it answers /health through its service name (one
        that exits or does not answer in time fails the check that asked)."""

        def healthy(_: Container) -> bool:
            answer: Health = workspace.probe("health")
            return answer.get("health") == 200

        service = self.running.enter_context(
            running_service(
                self.client,
                self.spec,
                ready=healthy,
                timeout=START_TIMEOUT,
                pause=1,
                port=PORT,
                blame=LearnerFailure,
                what="the registry",
                until=f"answer http://{SERVICE}:{PORT}/health",
            )
        )
        self.container, self.seconds_to_ready = service.container, service.seconds_to_ready
        self.ready_at = service.started_at + service.seconds_to_ready
        self.settling = IdleWatch(service.container, grace=0)

    def replace(self, workspace: Workspace) -> None:
        """Remove the container (not the volume) and start a new one from the same image."""
        self.stop()
        self.start(workspace)

    def stop(self) -> None:
        """Remove the current container, if any."""
        self.running.close()
        self.container = None


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
def workspace(open_lab_workspace: OpenLabWorkspace, internal_network: str) -> Iterator[Workspace]:
    """The sandbox on the registry's network, with a copy of the learner's project in it."""
    with open_lab_workspace(WORKSPACE, network=internal_network) as opened:
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
        raise LearnerFailure(
            registry_build.failure().replace("docker build", "docker build of server/", 1)
        )
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
        server.stop()
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass
