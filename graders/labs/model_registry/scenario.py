"""The model-registry lab's scenario: the README's story played with the learner's tool.

Every command runs in the sandbox on the registry's network, as a named actor; the grader records
the champion alias before and after each one, so the checks compare the tool's own account (its
exit codes, its audit trail) with what actually happened. Two registrations are also released at
the same moment, for real (see ``concurrent_registers``).
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from graders.containers.sandbox import SandboxResult
from graders.containers.workspace import GRADER, Workspace
from graders.errors import LearnerFailure
from graders.fixtures.scenario import OpenLabWorkspace
from graders.labs.model_registry.fixtures import MODELS, PROJECT, WORKSPACE, RegistryServer
from graders.timing import heavy_phase

PROMOTIONS = (
    "promote-baseline",
    "promote-worse",
    "promote-unapproved",
    "promote-blank-approval",
    "promote-better",
    "promote-reviewed",
)
# three rollbacks in a row: the last move, the one before it, then nothing left to restore
ROLLBACKS = ("rollback", "rollback-again", "rollback-nothing-left")


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


def tool(workspace: Workspace, actor: str, *args: str, timeout: float = 180) -> SandboxResult:
    """Run ``python -m registry ARGS`` in the project as ``actor``."""
    command = shlex.join(["python", "-m", "registry", *args])
    return workspace.run(
        f"REGISTRY_ACTOR={shlex.quote(actor)} {command}", cwd=PROJECT, timeout=timeout
    )


def new_model_name() -> str:
    """A registered-model name no grading used before."""
    return f"churn-{uuid.uuid4().hex[:6]}"


def probe(workspace: Workspace, command: str, *args: str) -> Any:
    """The grader's probe in the sandbox (a failure is the grader's); what each command returns
    is a TypedDict of ``probe.py``."""
    return workspace.probe(command, *args, timeout=300)


@pytest.fixture(scope="session")
def scenario(
    registry_server: RegistryServer,
    workspace: Workspace,
    open_lab_workspace: OpenLabWorkspace,
    internal_network: str,
    progress: Callable[[str], None],
) -> Scenario:
    """The README's scenario, every command in order, with the champion before and after each.
    ivan audits from his own machine: a second workspace with a fresh copy of the project, where
    only what the registry holds is found."""
    progress("training the grader's three models")
    models = probe(workspace, "train", GRADER, MODELS)
    found = Scenario(new_model_name(), models)

    # The last snapshot of the registered model, read after settling the sandbox: it holds until
    # the learner's code runs again (a step, or serve.py), so it is the next step's "before" (a
    # step reads the champion and the version numbers of it, which the grader's approvals keep).
    last: list[dict[str, Any]] = []

    def registered() -> dict[str, Any]:
        last[:] = [dict(probe(workspace, "model", found.name))]
        return last[0]

    def register(key: str, model: str, actor: str) -> str:
        progress(f"python -m registry register ({key})")
        lineage = found.models.setdefault("lineage", {})[key] = {
            "git_commit": uuid.uuid4().hex[:12],
            "data_version": f"churn-{key}",
            "training_run": f"run-{uuid.uuid4().hex[:8]}",
            "author": actor,
            "roc_auc": str(models["auc"][model]),
        }
        args = [f"--{k.replace('_', '-')}={v}" for k, v in lineage.items()]
        before, after = record(
            key, actor, "register", "--name", found.name, f"--model={MODELS}/{model}.joblib", *args
        )
        new = set(after["versions"]) - set(before["versions"])
        if not found.steps[key].result.ok or len(new) != 1:
            done = ", ".join(list(found.steps)[:-1]) or "none"
            raise LearnerFailure(
                f"the scenario stopped at {actor}'s `python -m registry register` ({key}): it "
                f"did not create one new version (exit {found.steps[key].result.exit_code}, new "
                f"versions {sorted(new)}); the steps before it ran: {done}. Every check of the "
                f"scenario needs its versions:\n" + found.steps[key].output()
            )
        found.steps[key].version = new.pop()
        return str(found.steps[key].version)

    def record(
        key: str, actor: str, *args: str, machine: Workspace = workspace
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run the step on ``machine``; the registered model (champion, versions) before and
        after it."""
        before = last[0] if last else registered()
        last.clear()  # the learner's command runs
        started = time.time()
        result = tool(machine, actor, *args)
        after = registered()
        found.steps[key] = Step(
            " ".join(args[:1]), actor, result, started, time.time(), before["champion"],
            after["champion"],
        )  # fmt: skip
        return before, after

    def promote(key: str, version: str, actor: str, approver: str = "") -> None:
        if approver:
            probe(workspace, "approve", found.name, version, approver)
        progress(f"python -m registry promote ({key})")
        record(key, actor, "promote", "--name", found.name, "--version", version)
        found.steps[key].version = version

    def serve(key: str) -> None:
        progress(f"python serve.py ({key})")
        last.clear()
        found.served[key] = workspace.run(
            shlex.join(["python", "serve.py", found.name, f"{MODELS}/input.csv"]),
            cwd=PROJECT,
            timeout=180,
        )

    baseline = register("register-baseline", "baseline", "alice")
    promote("promote-baseline", baseline, "dave", approver="carol")
    serve("baseline")
    promote("promote-worse", register("register-worse", "worse", "bob"), "erin", approver="carol")
    unapproved = register("register-unapproved", "better", "bob")
    promote("promote-unapproved", unapproved, "frank")
    probe(workspace, "approve", found.name, unapproved, "")  # an approval left blank is none
    promote("promote-blank-approval", unapproved, "frank")
    promote(
        "promote-better", register("register-better", "better", "alice"), "grace", approver="carol"
    )
    serve("better")
    promote("promote-reviewed", unapproved, "frank", approver="carol")  # reviewed at last
    for key in ROLLBACKS[:2]:
        progress(f"python -m registry rollback ({key})")
        record(key, "heidi", "rollback", "--name", found.name)
    progress("python -m registry audit (on another machine)")
    with open_lab_workspace(WORKSPACE, network=internal_network) as ivans:
        record("audit", "ivan", "audit", "--name", found.name, machine=ivans)
    progress(f"python -m registry rollback ({ROLLBACKS[2]})")  # after the audit: not in it
    record(ROLLBACKS[2], "heidi", "rollback", "--name", found.name)
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


def served(scenario: Scenario, key: str) -> dict[str, Any]:
    """What ``python serve.py`` printed (its last line, JSON) after the step ``key``."""
    result = scenario.served[key]
    lines = result.stdout.strip().splitlines()
    if not result.ok or not lines:
        tail = (result.stdout + result.stderr).strip()[-800:]
        raise LearnerFailure(f"python serve.py failed (exit {result.exit_code}):\n{tail}")
    try:
        return dict(json.loads(lines[-1]))
    except (ValueError, TypeError):
        raise LearnerFailure(
            f"python serve.py did not print JSON last: {lines[-1][:200]}"
        ) from None


def moved_to(step: Step, version: str | None, context: str = "") -> None:
    """The step ran and left the champion on ``version`` (``context``: when, in the message)."""
    what = f"`{step.what}` of version {step.version}" + (f" ({context})" if context else "")
    assert step.result.ok, f"{what} failed (exit {step.result.exit_code}):\n{step.output()}"
    assert step.after == version, f"after {what}, champion is {step.after!r}"
