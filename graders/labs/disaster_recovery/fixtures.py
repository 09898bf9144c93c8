"""Fixtures of the disaster-recovery lab: a real registry, the learner's tool, and the drill.

Everything happens on one tmpfs volume mounted at ``/drill`` (owned by the sandbox's user): the
grader's MLflow server keeps its database and artifacts in ``/drill/live``; the learner's
``python -m drtool`` runs in a sandbox workspace (on the server's internal network, with a copy of
their project) and writes backups under ``/drill``. The drill runs in this order, whichever check
asks first: seed the registry and read it back, back up, back up again under writes, destroy the
server and its files, restore, start a fresh server on the restored files and read it back. The
probe that seeds and reads is ``disaster_recovery_probe``.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from graders.containers.cleanup import run_labels
from graders.containers.sandbox import SandboxResult
from graders.containers.services import Service
from graders.containers.workspace import (
    MLFLOW_CLIENT_ENV,
    SUBMISSION,
    WORK,
    Workspace,
    WorkspaceOptions,
    leaving_out,
)
from graders.errors import EnvironmentProblem, GraderError, LearnerFailure
from graders.fixtures.mlflow import MLFLOW_PORT, running_tracking_server
from graders.fixtures.scenario import OpenLabWorkspace
from graders.labs.disaster_recovery.probe import Tables
from graders.timing import heavy_phase

DRILL = "/drill"
LIVE = f"{DRILL}/live"
RESTORED = f"{DRILL}/restored"
SERVICE = "registry"  # the live server, then the restored one, answer by this name
PROJECT = f"{WORK}/project"
TOOL = "python -m drtool"
HOLD_SECONDS = 3.0  # how long the half-finished registration holds the database
STEP_TIMEOUT = 150.0  # for one command of the learner's tool
SERVER_TIMEOUT = 120.0  # for a server on restored files to answer
WORKSPACE = WorkspaceOptions(  # the drill's volume is mounted at DRILL when it opens
    env={
        **MLFLOW_CLIENT_ENV,
        "MLFLOW_TRACKING_URI": f"http://{SERVICE}:{MLFLOW_PORT}",
        "PYTHONDONTWRITEBYTECODE": "1",
    },
    leave_out=leaving_out(".git", "mlruns", "backups"),
    setup=f"cp -a {SUBMISSION} {PROJECT} && mkdir -p {LIVE}/artifacts",
)


def store(folder: str) -> dict[str, str]:
    """The tool's arguments for a registry kept in ``folder``."""
    return {"db": f"{folder}/mlflow.db", "artifacts": f"{folder}/artifacts"}


def backup_command(folder: str, root: str) -> str:
    """``python -m drtool backup`` of the registry in ``folder`` into ``root``."""
    paths = store(folder)
    return (
        f"{TOOL} backup --db {paths['db']} --artifacts {paths['artifacts']} "
        f"--dest {shlex.quote(root)}"
    )


def restore_command(backup: str, folder: str) -> str:
    """``python -m drtool restore`` of ``backup`` into ``folder``."""
    paths = store(folder)
    return (
        f"{TOOL} restore {shlex.quote(backup)} --db {paths['db']} --artifacts {paths['artifacts']}"
    )


def shown(result: SandboxResult, lines: int = 12) -> str:
    """The tail of what a command printed, indented."""
    text = (result.stdout + result.stderr).strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in text) or "    (nothing)"


@dataclass
class Drill:
    """The sandbox, the volume, and the servers of one grading."""

    client: docker.DockerClient
    workspace: Workspace
    volume: str
    image: str
    run_id: str
    network: str
    servers: ExitStack = field(default_factory=ExitStack)  # removes them with the drill

    def probe(self, command: str, *args: str, failure: str = "", timeout: float = 300) -> Any:
        """Run the grader's probe in the sandbox; its JSON result (a TypedDict of probe.py)."""
        return self.workspace.probe(command, *args, failure=failure, timeout=timeout)

    def tool(self, script: str, timeout: float = STEP_TIMEOUT) -> SandboxResult:
        """Run a learner's command in their project."""
        return self.workspace.run(script, cwd=PROJECT, timeout=timeout)

    def shell(self, script: str) -> str:
        """Run a grader's shell step; its output (a failure is the grader's)."""
        done = self.workspace.measure(script, cwd="/tmp", timeout=120)
        if not done.ok:
            raise GraderError(f"the drill step `{script[:80]}` failed: {done.stderr.strip()}")
        return done.stdout

    def start_server(
        self, folder: str, *, blame: type[LearnerFailure] | type[GraderError], what: str
    ) -> Service:
        """An MLflow server on the files in ``folder``, as ``registry``, answering /health (one
        that does not raises ``blame``); it is removed with the drill."""
        service, _ = self.servers.enter_context(
            running_tracking_server(
                self.client,
                self.image,
                self.run_id,
                self.network,
                store=folder,
                aliases=(SERVICE,),
                volumes={self.volume: DRILL},
                timeout=SERVER_TIMEOUT,
                blame=blame,
                what=what,
            )
        )
        return service

    def destroy(self, container: Container, folder: str) -> None:
        """The disaster: the server and every file of its registry are gone."""
        container.remove(force=True)
        self.shell(f"rm -rf {folder}")

    def new_entries(self, root: str, before: set[str]) -> list[str]:
        """Folders of ``root`` that were not in ``before`` (hidden ones left out)."""
        return sorted(set(self.listing(root)) - before)

    def listing(self, root: str) -> list[str]:
        """The non-hidden entries of ``root`` ([] when it does not exist)."""
        text = self.shell(f"[ -d {root} ] && ls -1 {root} || true")
        return [line for line in text.splitlines() if line.strip()]


@dataclass
class Backup:
    """What one run of ``drtool backup`` left: its folder and manifest, or why there is none."""

    result: SandboxResult
    folder: str | None = None
    manifest: dict[str, Any] | None = None
    problem: str = ""

    def usable(self) -> str:
        """The backup's folder; the learner fails when there is none."""
        if self.folder is None:
            raise LearnerFailure(f"there is no backup to work with: {self.problem}")
        return self.folder


def take_backup(
    drill: Drill, folder: str, root: str, run: Callable[[str], SandboxResult]
) -> Backup:
    """Run a backup command with ``run`` and find the one new folder it made in ``root``."""
    before = set(drill.listing(root))
    result = run(backup_command(folder, root))
    if not result.ok:
        problem = f"`{TOOL} backup` failed (exit {result.exit_code}):\n{shown(result)}"
        return Backup(result, problem=problem)
    made = drill.new_entries(root, before)
    if len(made) != 1:
        return Backup(result, problem=f"`{TOOL} backup` made {len(made)} folders in {root}, not 1")
    path = f"{root}/{made[0]}"
    text = drill.workspace.measure(f"cat {path}/manifest.json", timeout=30)
    try:
        manifest = json.loads(text.stdout) if text.ok else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        return Backup(result, path, problem=f"{made[0]}/manifest.json is missing or not JSON")
    return Backup(result, path, manifest)


@dataclass
class LiveRegistry:
    """The registry the grader filled, as read back before the disaster."""

    container: Container
    expected: dict[str, Any]  # a Snapshot of probe.py, read part by part
    tables: Tables
    artifacts: dict[str, str]


@pytest.fixture(scope="session")
def drill(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    open_lab_workspace: OpenLabWorkspace,
    internal_network: str,
    run_id: str,
) -> Iterator[Drill]:
    """The volume, the sandbox with the learner's project, and the servers (all removed)."""
    volume = docker_client.volumes.create(
        f"mlops-labs-{run_id}-drill",
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=768m,uid=10001,gid=10001"},
        labels=run_labels(run_id),
    )
    current = None
    try:
        with open_lab_workspace(
            WORKSPACE, network=internal_network, volumes={volume.name: DRILL}
        ) as workspace:
            current = Drill(
                docker_client, workspace, volume.name, sandbox_image, run_id, internal_network
            )
            yield current
    finally:
        if current is not None:
            current.servers.close()
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass


@pytest.fixture(scope="session")
def live_registry(
    drill: Drill, progress: Callable[[str], None], report_environment: dict[str, Any]
) -> LiveRegistry:
    """The grader's server on /drill/live, filled with the hidden registry and read back."""
    progress("starting an MLflow server and filling its registry")
    server = drill.start_server(LIVE, blame=EnvironmentProblem, what="the grader's MLflow server")
    report_environment["mlflow_server_start_seconds"] = server.seconds_to_ready
    drill.probe("seed")
    return LiveRegistry(
        server.container,
        drill.probe("snapshot"),
        drill.probe("tables", store(LIVE)["db"]),
        drill.probe("tree", store(LIVE)["artifacts"]),
    )


@pytest.fixture(scope="session")
def first_backup(
    drill: Drill, live_registry: LiveRegistry, progress: Callable[[str], None]
) -> Backup:
    """``drtool backup`` of the idle registry into /drill/backups."""
    progress("running your backup")
    return take_backup(drill, LIVE, f"{DRILL}/backups", drill.tool)


@pytest.fixture(scope="session")
def backup_under_writes(
    drill: Drill, live_registry: LiveRegistry, first_backup: Backup, progress: Callable[[str], None]
) -> Backup:
    """``drtool backup`` while the server registers versions and a registration is half done."""
    progress("running your backup while the registry is being written to")

    def run(command: str) -> SandboxResult:
        answer = drill.probe(
            "under-writes",
            store(LIVE)["db"],
            str(HOLD_SECONDS),
            "--",
            "bash",
            "-c",
            f"cd {PROJECT} && {command}",
        )
        code = answer["exit_code"]
        return SandboxResult(
            124 if code is None else code,
            answer["stdout"],
            answer["stderr"],
            answer["seconds"],
            timed_out=code is None,
        )

    return take_backup(drill, LIVE, f"{DRILL}/backups-under-writes", run)


@dataclass
class RestoreDrill:
    """The restore of the first backup after the disaster, and the server started on it."""

    result: SandboxResult | None = None
    recovery_seconds: float | None = None  # restore start → restored server answers
    snapshot: dict[str, Any] | None = None
    problem: str = ""


@pytest.fixture(scope="session")
def restore_drill(
    drill: Drill,
    live_registry: LiveRegistry,
    first_backup: Backup,
    backup_under_writes: Backup,
    progress: Callable[[str], None],
    report_environment: dict[str, Any],
) -> RestoreDrill:
    """Destroy the server and its files, restore the first backup, start a server on it."""
    drill.destroy(live_registry.container, LIVE)
    if first_backup.folder is None:
        return RestoreDrill(problem=f"there was no backup to restore: {first_backup.problem}")
    progress("restoring your backup after the disaster")
    with heavy_phase():  # one phase: the recovery's time counts no wait for the machine
        started = time.monotonic()
        result = drill.tool(restore_command(first_backup.folder, RESTORED))
        if not result.ok:
            problem = f"`{TOOL} restore` failed (exit {result.exit_code}):\n{shown(result)}"
            return RestoreDrill(result, problem=problem)
        try:
            drill.start_server(
                RESTORED, blame=LearnerFailure, what="an MLflow server on the restored files"
            )
        except LearnerFailure as failure:
            return RestoreDrill(result, problem=str(failure))
        seconds = round(time.monotonic() - started, 2)
    report_environment["recovery_seconds"] = seconds
    try:
        snapshot = drill.probe("snapshot", failure="the restored registry could not be read back")
    except LearnerFailure as failure:  # a result, for check 2 to report and check 7 to name
        return RestoreDrill(result, problem=str(failure))
    return RestoreDrill(result, seconds, snapshot)
