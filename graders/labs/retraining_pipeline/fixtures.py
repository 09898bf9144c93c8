"""Fixtures of the retraining-pipeline lab: the learner's pipeline run as a scenario in a sandbox,
and what the checks conclude from each run.

The grader copies the learner's code into a sandbox workspace, puts the starter's data back (so
every grading starts from the same state), and runs ``python -m pipeline run`` there under a
watching probe, after dropping its hidden batches into ``data/incoming/``. Each check works on its
own copy of the project after the first run.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import pytest

from graders.containers.sandbox import SandboxResult
from graders.containers.workspace import (
    GRADER,
    SUBMISSION,
    WORK,
    Workspace,
    WorkspaceOptions,
    leaving_out,
)
from graders.errors import GraderError, LearnerFailure
from graders.fixtures.scenario import OpenLabWorkspace
from graders.labs.retraining_pipeline.data import Batch, hidden_batches
from graders.labs.retraining_pipeline.probe import (
    Looked,
    ProjectState,
    ServedModel,
    Watched,
    WatchedRun,
)

HOLDOUT = f"{GRADER}/holdout.csv"
RUN_TIMEOUT = 240
KILL_FRACTION = 0.7
STATE = ("data", "models", "history.jsonl")
DECISIONS = {"promoted", "rejected", "quarantined"}
WORKSPACE = WorkspaceOptions(
    env={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
    leave_out=leaving_out(".git"),
    scratch="2g",
)


@dataclass
class RunResult:
    """A watched run of the pipeline (None for a look without a run) and the project afterwards."""

    run: WatchedRun | None
    state: ProjectState

    def decisions(self, batch: Batch) -> list[dict[str, Any]]:
        """The history entries about ``batch``."""
        return [e for e in self.state["history"]["entries"] if e.get("batch") == batch.name]


@dataclass
class Project:
    """A copy of the learner's project inside the workspace."""

    workspace: Workspace
    path: str

    def sh(self, script: str, timeout: float = 120) -> SandboxResult:
        """Run a shell step in the project folder (a grader step: it must work)."""
        done = self.workspace.run(script, cwd=self.path, timeout=timeout)
        if not done.ok:
            raise GraderError(f"a grader step failed in the sandbox ({script}): {done.stderr}")
        return done

    def copy(self, name: str) -> Project:
        """A copy of this project for a check to change freely."""
        target = f"{WORK}/{name}"
        self.sh(f"cp -a {shlex.quote(self.path)} {target}")
        return Project(self.workspace, target)

    def add(self, *batches: Batch) -> None:
        """Drop hidden batches into ``data/incoming/``."""
        copies = " && ".join(
            f"cp {GRADER}/batches/{b.file} data/incoming/{b.name}" for b in batches
        )
        self.sh(f"mkdir -p data/incoming && {copies} && chmod u+w data/incoming/*")

    def run(
        self,
        watched: tuple[Batch, ...] = (),
        kill_after: float | None = None,
        kill_on_model_write: bool = False,
    ) -> RunResult:
        """Run the pipeline once under the probe; what it did and what the project holds."""
        flags = [f"--timeout={RUN_TIMEOUT}"]
        if kill_after is not None:
            flags.append(f"--kill-after={kill_after:.3f}")
        if kill_on_model_write:
            flags.append("--kill-on-model-write")
        found: Watched = self.probe("run", *flags, watched=watched)
        return RunResult(found["run"], found["state"])

    def look(self, watched: tuple[Batch, ...] = ()) -> RunResult:
        """What the project holds now."""
        found: Looked = self.probe("state", watched=watched)
        return RunResult(None, found["state"])

    def probe(self, command: str, *flags: str, watched: tuple[Batch, ...]) -> Any:
        """Run the probe's ``command`` on this project, following the ``watched`` batches."""
        batches = [f"--batch={GRADER}/batches/{b.file}" for b in watched]
        return self.workspace.probe(
            command,
            self.path,
            f"--holdout={HOLDOUT}",
            *flags,
            *batches,
            timeout=RUN_TIMEOUT + 120,
        )


class Ran(NamedTuple):
    """A project and what its last run did."""

    project: Project
    outcome: RunResult


@pytest.fixture(scope="session")
def hidden() -> dict[str, Batch]:
    """The grader's hidden batches, by role (see ``data.hidden_batches``)."""
    return hidden_batches()


@pytest.fixture(scope="session")
def project_workspace(open_lab_workspace: OpenLabWorkspace) -> Iterator[Workspace]:
    """A sandbox with the learner's folder at /submission (read-only) and room for copies."""
    with open_lab_workspace(WORKSPACE) as workspace:
        yield workspace


@pytest.fixture(scope="session")
def clean_project(project_workspace: Workspace) -> Callable[[str], Project]:
    """The learner's code with the starter's data and no model or history: the lab's start."""

    def make(name: str) -> Project:
        target = f"{WORK}/{name}"
        project_workspace.run(f"cp -a {SUBMISSION} {target}")
        project = Project(project_workspace, target)
        project.sh(f"rm -rf {' '.join(STATE)} && cp -a {GRADER}/data data && chmod -R u+w .")
        return project

    return make


@pytest.fixture(scope="session")
def first_run(clean_project: Callable[[str], Project], progress: Callable[[str], None]) -> Ran:
    """The project after its first run on the starter data."""
    progress("running python -m pipeline run on the starter data")
    project = clean_project("first")
    return Ran(project, project.run())


@pytest.fixture(scope="session")
def first_model_auc(project_workspace: Workspace) -> float:
    """The holdout AUC of the first model as the README defines it: the lab's own ``model.fit``
    on ``data/training/`` of the starter alone (one file, so one order), scored by ``model.auc``
    (computed in the sandbox, in a fresh process)."""
    script = (
        f"import sys; sys.path.insert(0, '{GRADER}/lab_model'); import model; "
        f"from pathlib import Path; print(model.auc(model.fit(model.read([Path('{GRADER}/data/"
        f"training/base.csv')])), model.read([Path('{HOLDOUT}')])))"
    )
    result = project_workspace.measure(f"python -I -c {shlex.quote(script)}", timeout=120)
    if not result.ok:
        raise GraderError(
            f"the grader could not train its own first model: {result.stderr[-300:]}",
            "report this: the lab's model.py failed in the sandbox",
        )
    return float(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def good_batch_run(
    first_run: Ran, hidden: dict[str, Batch], progress: Callable[[str], None]
) -> Ran:
    """After the first run, a run with one good hidden batch."""
    progress("a run with a new, good batch")
    project = first_run.project.copy("good")
    project.add(hidden["good"])
    return Ran(project, project.run(watched=(hidden["good"],)))


# What the checks conclude from an outcome (a failure here is the learner's).
def ran(outcome: RunResult, what: str = "python -m pipeline run") -> WatchedRun:
    """The watched run; fail unless it exited 0 on its own."""
    run = outcome.run
    if run is not None and run["timed_out"]:
        raise LearnerFailure(f"{what} did not finish within {run['seconds']:.0f} s")
    if run is None or run["exit_code"] != 0:
        exit_code = run["exit_code"] if run is not None else None
        output = run["output"] if run is not None else ""
        tail = "\n".join("    " + line for line in output.splitlines()[-12:])
        raise LearnerFailure(f"{what} failed (exit {exit_code}):\n{tail}")
    return run


def entry_problems(entry: dict[str, Any]) -> list[str]:
    """How a history entry breaks the README's format."""
    found = [
        f"no {field!r}" for field in ("time", "batch", "decision", "metrics") if field not in entry
    ]
    try:
        datetime.fromisoformat(str(entry.get("time")))
    except ValueError:
        found.append(f"time {entry.get('time')!r} is not ISO 8601")
    if entry.get("decision") not in DECISIONS:
        found.append(f"decision {entry.get('decision')!r} is not one of {sorted(DECISIONS)}")
    metrics = entry.get("metrics")
    if entry.get("decision") in ("promoted", "rejected") and not (
        isinstance(metrics, dict) and isinstance(metrics.get("candidate_auc"), float | int)
    ):
        found.append("metrics has no candidate_auc number")
    if entry.get("decision") in ("rejected", "quarantined") and not entry.get("reason"):
        found.append("no reason")
    return found


def served(outcome: RunResult, when: str) -> ServedModel:
    """The model ``models/current`` serves; fails when there is none or it cannot predict."""
    current = outcome.state["current"]
    if not current["exists"]:
        raise LearnerFailure(f"{when} there is no models/current")
    if current["link"] and current["link"].startswith("/"):
        raise LearnerFailure(
            f"models/current is an absolute link ({current['link']}): a copy of the project (a "
            "backup, a CI checkout, the grader's) would serve another folder's model"
        )
    if not current["inside"]:
        raise LearnerFailure(f"{when} models/current points outside the project")
    if current["error"]:
        raise LearnerFailure(f"{when} models/current cannot predict: {current['error']}")
    return current


def where(outcome: RunResult, batch: Batch) -> list[str]:
    """Every path under data/ holding the bytes of ``batch``."""
    return list(outcome.state["batches"][batch.file]["locations"])


def rows_in_training(outcome: RunResult, batch: Batch) -> int:
    """How many rows of ``batch`` (by customer id) the training set holds."""
    return outcome.state["batches"][batch.file]["training_rows"]


def consumed_once(outcome: RunResult, batch: Batch, folder: str) -> None:
    """The batch lies, unchanged, in ``data/<folder>/`` and nowhere else."""
    found = where(outcome, batch)
    if not found:
        raise LearnerFailure(f"{batch.name} is gone: nothing is ever deleted, it is moved")
    if found != [f"data/{folder}/{batch.name}"]:
        raise LearnerFailure(
            f"{batch.name} should now be in data/{folder}/ only; its bytes are at {found}"
        )


def one_decision(outcome: RunResult, batch: Batch, *allowed: str) -> dict[str, Any]:
    """The single history entry about ``batch``, with a decision among ``allowed``."""
    entries = outcome.decisions(batch)
    if len(entries) != 1:
        raise LearnerFailure(
            f"history.jsonl has {len(entries)} entries for {batch.name}, not one"
            + (f": {[e.get('decision') for e in entries]}" if entries else "")
        )
    entry = entries[0]
    problems = entry_problems(entry)
    assert not problems, f"the history entry for {batch.name} breaks the format: {problems}"
    assert entry.get("decision") in allowed, (
        f"{batch.name} was {entry.get('decision')!r}, expected {' or '.join(allowed)}"
        + (f" ({entry['reason']})" if entry.get("reason") else "")
    )
    return entry
