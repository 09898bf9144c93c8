"""Two ``register`` calls of the model-registry lab released at the same moment, for real.

The registry's container is paused while both commands start and reach it, then unpaused: both
are inside the registry's API at once, which is what a check-then-create race needs to show.
"""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from graders.containers.workspace import Workspace
from graders.labs.model_registry.fixtures import MODELS, PROJECT, RegistryServer
from graders.labs.model_registry.scenario import Scenario, new_model_name, probe
from graders.timing import heavy_phase


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
@heavy_phase()  # the two registers run detached, outside any step: hold the machine throughout
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
        # the two registers must keep running while it counts: no settling
        waiting = workspace.probe("connections", "2", "90", timeout=300, settle=False)["found"]
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
