"""Fixtures of the model-registry lab: the learner's registry server and tool, for real.

The grader builds the learner's server image (``server/``), starts it on an internal network under
the service name ``registry`` with a volume at ``/data``, and runs the learner's ``registry`` tool
and ``serve.py`` in a sandbox workspace on the same network (``MLFLOW_TRACKING_URI=
http://registry:5000``), reaching that server and nothing else. One scenario runs every command in
the README's order and records what the grader saw around each one; the checks read it.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from graders.containers.cleanup import run_labels
from graders.containers.images import STAND_IN_BASE, BuildResult, build_image, ensure_image
from graders.containers.running import (
    ContainerSpec,
    Limits,
    run_network,
    start_container,
    tail_logs,
)
from graders.containers.sandbox import SandboxResult
from graders.containers.workspace import WORK, Workspace, open_workspace, stage_readable
from graders.errors import LearnerFailure
from graders.labs.churn_data import write_csv

SERVICE = "registry"
PORT = 5000
GRADER = "/grader"
PROJECT = f"{WORK}/project"
MODELS = f"{WORK}/models"
PROBE = Path(__file__).with_name("model_registry_probe.py")
START_TIMEOUT = 150.0
SERVER_LIMITS = Limits(cpus=1.0, memory="1536m", pids=512)
LEFT_OUT = {".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".git", "mlruns"}
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
        self.container = start_container(self.client, self.spec)
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT:
            self.container.reload()
            if self.container.status != "running":
                raise LearnerFailure(
                    f"the registry container stopped ({self.container.attrs['State']['Status']}, "
                    f"exit {self.container.attrs['State']['ExitCode']}):\n{self.logs()}"
                )
            if workspace.probe(f"{GRADER}/probe.py", "health").get("health") == 200:
                self.seconds_to_ready = round(time.monotonic() - started, 2)
                return
            time.sleep(1)
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


@dataclass
class Step:
    """One command of the scenario and what the grader saw around it."""

    what: str
    actor: str
    result: SandboxResult
    started: float
    finished: float
    before: str | None
    after: str | None
    version: str | None = None

    @property
    def moved(self) -> bool:
        """True when the champion alias changed during the step."""
        return self.before != self.after

    def output(self) -> str:
        """What the command printed (both streams), indented."""
        text = (self.result.stdout + self.result.stderr).strip().splitlines()
        return "\n".join("    " + line for line in text[-12:])


@dataclass
class Scenario:
    """Every step of the README's scenario, in order, keyed by name."""

    name: str
    models: dict[str, Any]
    steps: dict[str, Step] = field(default_factory=dict)
    served: dict[str, SandboxResult] = field(default_factory=dict)


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
    context = submission_dir / "server"
    if not (context / "Dockerfile").is_file():
        return BuildResult(False, "", "no server/Dockerfile in the submission", 0.0)
    ensure_image(docker_client, STAND_IN_BASE, progress)
    progress("building your registry server image")
    return build_image(context, f"mlops-labs/model-registry:{run_id}", run_labels(run_id))


@pytest.fixture(scope="session")
def registry_network(docker_client: docker.DockerClient, run_id: str) -> Iterator[str]:
    """An internal network: the registry and the sandbox reach each other and nothing else."""
    name = f"mlops-labs-{run_id}-registry"
    with run_network(docker_client, run_id, name, internal=True):
        yield name


@pytest.fixture(scope="session")
def workspace(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    submission_dir: Path,
    grader_files: Path,
    registry_network: str,
    run_id: str,
) -> Iterator[Workspace]:
    """The sandbox on the registry's network, with a copy of the learner's project in it."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-") as temporary:
        staged = stage_readable(
            submission_dir,
            Path(temporary) / "submission",
            lambda _folder, names: {name for name in names if name in LEFT_OUT},
        )
        with open_workspace(
            docker_client,
            sandbox_image,
            run_id=run_id,
            mounts={staged: "/submission", grader_files: GRADER},
            env=TOOL_ENV,
            network=registry_network,
            setup=f"cp -a /submission {PROJECT}",
        ) as opened:
            yield opened


@pytest.fixture(scope="session")
def registry_server(
    docker_client: docker.DockerClient,
    registry_build: BuildResult,
    registry_network: str,
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
        network=registry_network,
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


def tool(workspace: Workspace, actor: str, *args: str, timeout: float = 180) -> SandboxResult:
    """Run ``python -m registry ARGS`` in the project as ``actor``."""
    command = shlex.join(["python", "-m", "registry", *args])
    return workspace.run(
        f"REGISTRY_ACTOR={shlex.quote(actor)} {command}", cwd=PROJECT, timeout=timeout
    )


def new_model_name() -> str:
    """A registered-model name no grading used before."""
    return f"churn-{uuid.uuid4().hex[:6]}"


def probe(workspace: Workspace, *args: str) -> Any:
    """The grader's probe in the sandbox (a failure is the grader's)."""
    return workspace.probe(f"{GRADER}/probe.py", *args, timeout=300)


@pytest.fixture(scope="session")
def scenario(
    registry_server: RegistryServer, workspace: Workspace, progress: Callable[[str], None]
) -> Scenario:
    """The README's scenario, every command in order, with the champion before and after each."""
    progress("training the grader's three models")
    models = probe(workspace, "train", GRADER, MODELS)
    found = Scenario(new_model_name(), models)

    def champion() -> str | None:
        return probe(workspace, "model", found.name)["champion"]

    def register(key: str, model: str, actor: str) -> str:
        progress(f"python -m registry register ({key})")
        before = set(probe(workspace, "model", found.name)["versions"])
        lineage = found.models.setdefault("lineage", {})[key] = {
            "git_commit": uuid.uuid4().hex[:12],
            "data_version": f"churn-{key}",
            "training_run": f"run-{uuid.uuid4().hex[:8]}",
            "author": actor,
            "roc_auc": str(models["auc"][model]),
        }
        args = [f"--{k.replace('_', '-')}={v}" for k, v in lineage.items()]
        record(
            key, actor, "register", "--name", found.name, f"--model={MODELS}/{model}.joblib", *args
        )
        new = set(probe(workspace, "model", found.name)["versions"]) - before
        if not found.steps[key].result.ok or len(new) != 1:
            raise LearnerFailure(
                f"`python -m registry register` ({key}) did not create one new version "
                f"(exit {found.steps[key].result.exit_code}, new versions {sorted(new)}):\n"
                + found.steps[key].output()
            )
        found.steps[key].version = new.pop()
        return str(found.steps[key].version)

    def record(key: str, actor: str, *args: str) -> Step:
        before = champion()
        started = time.time()
        result = tool(workspace, actor, *args)
        found.steps[key] = Step(
            " ".join(args[:1]), actor, result, started, time.time(), before, champion()
        )
        return found.steps[key]

    def promote(key: str, version: str, actor: str, approver: str = "") -> None:
        if approver:
            probe(workspace, "approve", found.name, version, approver)
        progress(f"python -m registry promote ({key})")
        record(key, actor, "promote", "--name", found.name, "--version", version)
        found.steps[key].version = version

    def serve(key: str) -> None:
        progress(f"python serve.py ({key})")
        found.served[key] = workspace.run(
            shlex.join(["python", "serve.py", found.name, f"{MODELS}/input.csv"]),
            cwd=PROJECT,
            timeout=180,
        )

    baseline = register("register-baseline", "baseline", "alice")
    promote("promote-baseline", baseline, "dave", approver="carol")
    serve("baseline")
    promote("promote-worse", register("register-worse", "worse", "bob"), "erin", approver="carol")
    promote("promote-unapproved", register("register-unapproved", "better", "bob"), "frank")
    promote(
        "promote-better", register("register-better", "better", "alice"), "grace", approver="carol"
    )
    serve("better")
    progress("python -m registry rollback")
    record("rollback", "heidi", "rollback", "--name", found.name)
    progress("python -m registry audit")
    record("audit", "ivan", "audit", "--name", found.name)
    return found


@dataclass
class Concurrent:
    """Two ``register`` calls released at the same moment, and what the registry holds after."""

    name: str
    exit_codes: list[int | None]
    outputs: list[str]
    waiting: int
    versions: dict[str, dict[str, str]]
    commits: list[str]


@pytest.fixture(scope="session")
def concurrent_registers(
    registry_server: RegistryServer,
    workspace: Workspace,
    scenario: Scenario,
    progress: Callable[[str], None],
) -> Concurrent:
    """Two registers of a new model name, held at the server (paused) until both wait on it,
    then released together: both are inside the registry's API at the same moment."""
    progress("two python -m registry register at the same moment")
    name = new_model_name()
    commits = [uuid.uuid4().hex[:12] for _ in range(2)]
    assert registry_server.container is not None
    registry_server.container.pause()
    try:
        for number, commit in enumerate(commits):
            command = shlex.join([
                "python", "-m", "registry", "register", "--name", name,
                f"--model={MODELS}/baseline.joblib", f"--git-commit={commit}",
                "--data-version=churn-concurrent", f"--training-run=run-{commit}",
                f"--author=worker-{number}", f"--roc-auc={scenario.models['auc']['baseline']}",
            ])  # fmt: skip
            script = (
                f"cd {PROJECT} && REGISTRY_ACTOR=worker-{number} {command} "
                f"> /tmp/concurrent-{number}.out 2>&1; echo $? > /tmp/concurrent-{number}.code"
            )
            workspace.container.exec_run(
                ["bash", "-c", script], environment=workspace.env, detach=True
            )
        waiting = probe(workspace, "connections", "2", "90")["found"]
    finally:
        registry_server.container.unpause()
    deadline = time.monotonic() + 240
    codes: list[int | None] = [None, None]
    while time.monotonic() < deadline and None in codes:
        time.sleep(1)
        for number in range(2):
            done = workspace.run(f"cat /tmp/concurrent-{number}.code 2>/dev/null", cwd="/tmp")
            codes[number] = int(done.stdout) if done.stdout.strip().isdigit() else None
    outputs = [
        workspace.run(f"tail -c 2000 /tmp/concurrent-{n}.out", cwd="/tmp").stdout for n in range(2)
    ]
    versions = probe(workspace, "model", name)["versions"]
    return Concurrent(name, codes, outputs, waiting, versions, commits)
