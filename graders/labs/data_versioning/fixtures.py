"""Fixtures of the data-versioning lab: fresh clones of the learner's repository in a sandbox.

The learner's working copy is never trusted and never touched: it is copied, mounted read-only
into a sandbox workspace, and every check works on a fresh ``git clone`` of it there (or on a copy
of a clone another fixture already prepared). git, DVC and the learner's pipeline only ever run in
the sandbox.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from graders.catalogue import Lab
from graders.containers.sandbox import SandboxResult
from graders.containers.workspace import (
    NOT_WORK,
    SUBMISSION,
    VERSION_CONTROL_ENV,
    VERSION_CONTROL_SETUP,
    WORK,
    Workspace,
    WorkspaceOptions,
)
from graders.errors import GraderError, LearnerFailure
from graders.fixtures.scenario import OpenLabWorkspace

if TYPE_CHECKING:  # the probe imports DVC, which only the sandbox has
    from graders.labs.data_versioning.probe import Pipeline, Remote

RAW = "data/raw/churn.csv"
REPRO_TIMEOUT = 300
_RAN = re.compile(r"^Running stage '([^']+)'", re.M)
_TAIL = 15


@dataclass
class Repro:
    """What one ``dvc repro`` did."""

    result: SandboxResult
    ran: list[str]


@dataclass
class Clone:
    """A clone of the learner's repository inside the workspace."""

    workspace: Workspace
    path: str

    def run(self, script: str, timeout: float = 120) -> SandboxResult:
        """Run a shell step in this clone."""
        return self.workspace.run(script, cwd=self.path, timeout=timeout)

    def measure(self, script: str, timeout: float = 120) -> SandboxResult:
        """Run a command of the grader's own here (git or DVC reading state), with a fresh HOME:
        nothing the learner's pipeline left in the workspace's HOME reaches it."""
        return self.workspace.measure(script, cwd=self.path, timeout=timeout)

    def must(self, script: str, failure: str, timeout: float = 120) -> SandboxResult:
        """Run a step that must succeed; when it does not, the learner fails with ``failure``."""
        done = self.run(script, timeout)
        if not done.ok:
            raise LearnerFailure(f"{failure}\n`{script}` said:\n{output_tail(done)}")
        return done

    def probe(self, command: str, *args: str, failure: str = "DVC cannot read your project") -> Any:
        """Run the DVC probe's ``command`` here and return its JSON, a TypedDict of probe.py
        (``failure=""``: only the grader can fail)."""
        return self.workspace.probe(command, *args, cwd=self.path, failure=failure)

    def copy(self, name: str) -> Clone:
        """A copy of this clone (its DVC cache, outputs and all) for a check to change freely."""
        target = f"{WORK}/{name}"
        done = self.workspace.run(f"cp -a {shlex.quote(self.path)} {target}")
        if not done.ok:
            raise GraderError(f"could not copy a clone in the workspace: {done.stderr.strip()}")
        return Clone(self.workspace, target)

    def repro(self, *flags: str) -> Repro:
        """``dvc repro`` with ``flags``; which stages ran."""
        done = self.run(shlex.join(["dvc", "repro", *flags]), timeout=REPRO_TIMEOUT)
        return Repro(done, _RAN.findall(done.stdout))

    def hashes(self, paths: list[str]) -> dict[str, str | None]:
        """md5 of each path (files, or every file under a folder); None when it is missing."""
        return dict(self.probe("hash", *paths, failure="")) if paths else {}


def output_tail(done: SandboxResult, lines: int = _TAIL) -> str:
    """The last lines a step printed (both streams), indented for a message."""
    if done.timed_out:
        return f"    (stopped after {done.seconds:.0f} s)"
    text = (done.stdout.rstrip() + "\n" + done.stderr.rstrip()).strip().splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def overlaps(a: str, b: str) -> bool:
    """True when one path is the other or lies inside it."""
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture(scope="session")
def shipped_data(lab: Lab) -> bytes:
    """The raw CSV the starter ships, as the learner received it."""
    return (lab.starter / RAW).read_bytes()


def not_needed_for_a_clone(folder: str, names: list[str]) -> set[str]:
    """What the grader leaves out of its copy of the learner's folder: virtual environments,
    caches and DVC's own cache (a clone has its own; data comes from the remote)."""
    left_out = {name for name in names if name in NOT_WORK}
    if Path(folder).name == ".dvc":
        left_out |= {name for name in names if name in ("cache", "tmp")}
    return left_out


WORKSPACE = WorkspaceOptions(
    env=VERSION_CONTROL_ENV, leave_out=not_needed_for_a_clone, setup=VERSION_CONTROL_SETUP
)


@pytest.fixture(scope="session")
def project_workspace(open_lab_workspace: OpenLabWorkspace) -> Iterator[Workspace]:
    """A sandbox with the learner's folder at /submission (read-only) and room to clone it."""
    with open_lab_workspace(WORKSPACE) as workspace:
        yield workspace


@pytest.fixture(scope="session")
def fresh_clone(project_workspace: Workspace) -> Callable[[str], Clone]:
    """Clone the submission afresh (what git holds, nothing else); fails when it is no repo."""
    head = project_workspace.measure(f"git -C {SUBMISSION} rev-parse --verify HEAD")

    def clone(name: str) -> Clone:
        if not head.ok:
            raise LearnerFailure(
                "your folder is not a git repository with a commit, so there is nothing to clone "
                "(git init, then git add and git commit your work)"
            )
        done = project_workspace.measure(f"git clone -q {SUBMISSION} {WORK}/{name}")
        if not done.ok:
            raise LearnerFailure(f"git clone of your repository failed:\n{output_tail(done)}")
        return Clone(project_workspace, f"{WORK}/{name}")

    return clone


@pytest.fixture(scope="session")
def committed_clone(fresh_clone: Callable[[str], Clone]) -> Clone:
    """A fresh clone, untouched: exactly what a teammate gets from ``git clone``."""
    return fresh_clone("committed")


@pytest.fixture(scope="session")
def pipeline(committed_clone: Clone) -> Pipeline:
    """The stages and ``.dvc``-tracked data, as DVC itself parses the committed project."""
    if not committed_clone.run("test -f .dvc/config").ok:
        raise LearnerFailure("DVC is not initialised in the committed repository (run dvc init)")
    found: Pipeline = committed_clone.probe("pipeline")
    return found


def raw_data_tracker(pipeline: Pipeline) -> tuple[str, str] | None:
    """The ``.dvc`` file that tracks the raw data, and the path it tracks (file or folder)."""
    for tracked in pipeline["tracked"]:
        for out in tracked["outs"]:
            if overlaps(out, RAW) and RAW.startswith(out):
                return tracked["file"], out
    return None


@pytest.fixture(scope="session")
def pulled_clone(
    fresh_clone: Callable[[str], Clone],
    pipeline: Pipeline,
    shipped_data: bytes,
    progress: Callable[[str], None],
) -> Clone:
    """A fresh clone beside a copy of the remote, after ``dvc pull`` of the raw data."""
    progress("cloning your repository and pulling the raw data from its remote")
    clone = fresh_clone("pulled")
    remote: Remote = clone.probe("remote")
    if not remote["name"]:
        local_only = clone.run(f"grep -qs remote {SUBMISSION}/.dvc/config.local").ok
        raise LearnerFailure(
            "no default DVC remote is configured in the committed .dvc/config"
            + (
                ": yours is only in .dvc/config.local, which git ignores, so a clone never sees "
                "it (`dvc remote add -d` without --local writes .dvc/config)"
                if local_only
                else " (dvc remote add -d ...)"
            )
        )
    inside = (remote["path"] or "").removeprefix(clone.path + "/")
    if not remote["path"] or inside == remote["path"]:
        raise LearnerFailure(
            f"the default remote {remote['name']!r} points to {remote['url']!r}; the grader can "
            "reach only a folder inside your project that git ignores, such as dvc-storage/"
        )
    if not clone.run(f"test -d {SUBMISSION}/{shlex.quote(inside)}").ok:
        raise LearnerFailure(
            f"the remote's folder {inside}/ is not in your project folder: run dvc push"
        )
    clone.must(
        f"mkdir -p {shlex.quote(inside)} && cp -r {SUBMISSION}/{shlex.quote(inside)}/. "
        f"{shlex.quote(inside)}/",
        "could not copy your remote",
    )
    tracker = raw_data_tracker(pipeline)
    if tracker is None:
        raise LearnerFailure(f"{RAW} is not tracked by a .dvc file, so dvc pull cannot restore it")
    clone.must(
        f"dvc pull {shlex.quote(tracker[0])}",
        "dvc pull could not restore the raw data from the remote (did you dvc push?)",
    )
    restored = clone.hashes([RAW])[RAW]
    expected = hashlib.md5(shipped_data).hexdigest()
    if restored != expected:
        raise LearnerFailure(
            f"dvc pull restored {RAW} with md5 {restored}, not the data shipped "
            f"with the lab ({expected})"
        )
    return clone


@dataclass
class Reproduction:
    """A pulled clone after ``dvc repro``, with the lock files before and after."""

    clone: Clone
    committed_lock: dict[str, Any] | None
    repro: Repro
    lock_after: dict[str, Any] | None


@pytest.fixture(scope="session")
def reproduction(pulled_clone: Clone, progress: Callable[[str], None]) -> Reproduction:
    """A copy of the pulled clone after ``dvc repro``; fails when the pipeline cannot reproduce."""
    progress("dvc repro of your whole pipeline in a fresh clone")
    clone = pulled_clone.copy("reproduced")
    committed_lock = clone.probe("lock")
    repro = clone.repro()
    if not repro.result.ok:
        raise LearnerFailure(
            f"dvc repro fails in a fresh clone (exit {repro.result.exit_code}):\n"
            + output_tail(repro.result)
        )
    return Reproduction(clone, committed_lock, repro, clone.probe("lock"))


def stage_outputs(pipeline: Pipeline) -> list[str]:
    """Every output path of every pipeline stage."""
    return [out["path"] for stage in pipeline["stages"] for out in stage["outs"]]
