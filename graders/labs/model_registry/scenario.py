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
# The steps each check reads, as the grader recorded them when each ran. A partial grading
# (grade --only) plays the story until every step its checks read has run. A check not named here
# gets the whole story: check 4 reads the registry as the whole story leaves it (a promote that
# drops a lineage tag fails it), and check 9 races two registers on a registry the story has used.
STEPS_READ = {
    "test_promote_moves_champion_and_serving_follows": (
        "promote-baseline", "promote-better", "promote-reviewed",
    ),
    "test_promote_refuses_a_worse_or_unapproved_model": PROMOTIONS[1:4],
    "test_rollback_restores_the_previous_champion": (*PROMOTIONS, *ROLLBACKS),
    "test_audit_lists_every_move_and_refusal": (*PROMOTIONS, *ROLLBACKS[:2], "audit"),
}  # fmt: skip


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


class _StoryTold(Exception):
    """Every step the selected checks read has run."""


def steps_read(checks: list[str]) -> set[str] | None:
    """The steps ``checks`` read; None when one of them needs the whole story."""
    if any(name not in STEPS_READ for name in checks):
        return None
    return {key for name in checks for key in STEPS_READ[name]}


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
    request: pytest.FixtureRequest,
) -> Scenario:
    """The README's scenario, every command in order, with the champion before and after each.
    ivan audits from his own machine: a second workspace with a fresh copy of the project, where
    only what the registry holds is found. A partial grading stops once its checks' steps ran."""
    progress("training the grader's three models")
    models = probe(workspace, "train", GRADER, MODELS)
    found = Scenario(new_model_name(), models)
    readers = [i for i in request.session.items if "scenario" in getattr(i, "fixturenames", ())]
    needed = steps_read([item.name for item in readers])
    try:
        _tell(found, needed, workspace, open_lab_workspace, internal_network, progress)
    except _StoryTold:
        pass
    return found


def _tell(
    found: Scenario,
    needed: set[str] | None,
    workspace: Workspace,
    open_lab_workspace: OpenLabWorkspace,
    internal_network: str,
    progress: Callable[[str], None],
) -> None:
    """Play the story into ``found``; raise ``_StoryTold`` once every step in ``needed`` ran."""
    models = found.models

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
        after it. Once every needed step ran, the story ends here instead."""
        if needed is not None and needed <= found.steps.keys():
            raise _StoryTold
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
