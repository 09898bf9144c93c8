"""Fixtures of the experiment-tracking lab: the learner's sweep, run against a real MLflow server.

The learner's scripts run once per grading, in a sandbox workspace on the tracking server's
internal network (``MLFLOW_TRACKING_URI`` points at the server); every check then reads what the
server holds, through a probe that runs in the same sandbox.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from graders.catalogue import Lab
from graders.containers.sandbox import SandboxResult
from graders.containers.workspace import (
    GRADER,
    SUBMISSION,
    WORK,
    Workspace,
    stage_readable,
    submission_workspace,
)
from graders.fixtures.mlflow import TrackingServer

EXPERIMENT = "churn-sweep"
COMMANDS = ("python sweep.py", "python select_best.py")
SWEEP_TIMEOUT = 600
PROJECT = f"{WORK}/project"
PROBE = Path(__file__).with_name("probe.py")
LOCAL_STORES = "\\( -name mlruns -type d -o -name 'mlflow.db*' \\)"


@dataclass
class Sweep:
    """What running the learner's scripts did, and what the server holds afterwards."""

    workspace: Workspace
    result: SandboxResult
    local_stores: list[str]
    best_run: Any
    experiment: bool
    runs: list[dict[str, Any]]

    @property
    def finished(self) -> list[dict[str, Any]]:
        """The runs in status FINISHED."""
        return [run for run in self.runs if run["status"] == "FINISHED"]

    def probe(self, *args: str, failure: str = "") -> Any:
        """Run the MLflow probe in the sandbox (see ``Workspace.probe`` for ``failure``)."""
        return self.workspace.probe(f"{GRADER}/probe.py", *args, failure=failure)


@pytest.fixture(scope="session")
def sweep(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    mlflow_server: TrackingServer,
    submission_dir: Path,
    lab: Lab,
    run_id: str,
    progress: Callable[[str], None],
) -> Iterator[Sweep]:
    """Run ``python sweep.py`` then ``python select_best.py`` in a copy of the submission."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-grader-") as temporary:
        grader = Path(temporary) / "grader-files"
        grader.mkdir()
        shutil.copy(PROBE, grader / "probe.py")
        shutil.copy(lab.starter / "data" / "valid.csv", grader / "valid.csv")
        env = {
            "HOME": "/tmp",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "GIT_PYTHON_REFRESH": "quiet",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        }
        with submission_workspace(
            docker_client,
            sandbox_image,
            submission=submission_dir,
            grader_files=stage_readable(grader, grader.with_name("g")),
            run_id=run_id,
            env=env,
            network=mlflow_server.network,
        ) as workspace:
            progress("running python sweep.py and python select_best.py against the server")
            result = workspace.run(
                f"cp -a {SUBMISSION} {PROJECT} && cd {PROJECT} && " + " && ".join(COMMANDS),
                timeout=SWEEP_TIMEOUT,
            )
            mlflow_server.still_running()
            stores = workspace.run(f"find {PROJECT} {SUBMISSION} {LOCAL_STORES} -print")
            best = workspace.run(f"cat {PROJECT}/best_run.json")
            try:
                best_run = json.loads(best.stdout) if best.ok else None
            except ValueError:
                best_run = "not JSON"
            found = Sweep(workspace, result, stores.stdout.split(), best_run, False, [])
            facts = found.probe("runs", EXPERIMENT)
            found.experiment, found.runs = facts["experiment"], facts["runs"]
            yield found
