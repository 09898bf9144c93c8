"""Fixtures of the experiment-tracking lab: the learner's sweep, run against a real MLflow server.

The learner's scripts run once per grading, in a sandbox workspace on the tracking server's
internal network (``MLFLOW_TRACKING_URI`` points at the server); every check then reads what the
server holds, through a probe that runs in the same sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from graders.containers.sandbox import SandboxResult
from graders.containers.workspace import (
    GRADER,
    MLFLOW_CLIENT_ENV,
    SUBMISSION,
    WORK,
    Workspace,
    WorkspaceOptions,
)
from graders.fixtures.mlflow import TrackingServer
from graders.fixtures.scenario import OpenLabWorkspace
from graders.labs.experiment_tracking.data import VALID_CSV

if TYPE_CHECKING:  # the probe imports MLflow, which only the sandbox has
    from graders.labs.experiment_tracking.probe import Run

EXPERIMENT = "churn-sweep"
COMMANDS = ("python sweep.py", "python select_best.py")
SWEEP_TIMEOUT = 600
PROJECT = f"{WORK}/project"
LOCAL_STORES = "\\( -name mlruns -type d -o -name 'mlflow.db*' \\)"
# the learner's scripts reach the server through MLFLOW_TRACKING_URI, added when it is known
WORKSPACE = WorkspaceOptions(env={**MLFLOW_CLIENT_ENV, "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"})


@dataclass
class Sweep:
    """What running the learner's scripts did, and what the server holds afterwards."""

    workspace: Workspace
    result: SandboxResult
    local_stores: list[str]
    best_run: Any
    experiment: bool
    runs: list[Run]

    @property
    def finished(self) -> list[Run]:
        """The runs in status FINISHED."""
        return [run for run in self.runs if run["status"] == "FINISHED"]

    def probe(self, command: str, *args: str, failure: str = "") -> Any:
        """Run the MLflow probe's ``command`` in the sandbox; its JSON, a TypedDict of probe.py
        (see ``Workspace.probe`` for ``failure``)."""
        return self.workspace.probe(command, *args, failure=failure)


@pytest.fixture(scope="session")
def sweep(
    open_lab_workspace: OpenLabWorkspace,
    mlflow_server: TrackingServer,
    progress: Callable[[str], None],
) -> Iterator[Sweep]:
    """Run ``python sweep.py`` then ``python select_best.py`` in a copy of the submission."""
    with open_lab_workspace(
        WORKSPACE,
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri},
        network=mlflow_server.network,
    ) as workspace:
        progress("running python sweep.py and python select_best.py against the server")
        result = workspace.run(
            f"cp -a {SUBMISSION} {PROJECT} && mkdir -p {PROJECT}/data && "
            f"cp {GRADER}/{VALID_CSV} {PROJECT}/data/{VALID_CSV} && cd {PROJECT} && " + COMMANDS[0],
            timeout=SWEEP_TIMEOUT,
        )
        if result.ok:  # a crashed try beside the sweep's runs, then select_best.py
            workspace.probe("plant", EXPERIMENT)
            result = workspace.run(f"cd {PROJECT} && {COMMANDS[1]}", timeout=SWEEP_TIMEOUT)
        mlflow_server.still_running()
        stores = workspace.measure(f"find {PROJECT} {SUBMISSION} {LOCAL_STORES} -print")
        best = workspace.measure(f"cat {PROJECT}/best_run.json")
        try:
            best_run = json.loads(best.stdout) if best.ok else None
        except ValueError:
            best_run = "not JSON"
        found = Sweep(workspace, result, stores.stdout.split(), best_run, False, [])
        facts = found.probe("runs", EXPERIMENT)
        found.experiment, found.runs = facts["experiment"], facts["runs"]
        yield found
