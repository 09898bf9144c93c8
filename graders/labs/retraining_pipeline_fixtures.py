"""Fixtures of the retraining-pipeline lab: the learner's pipeline run as a scenario in a sandbox.

The grader copies the learner's code into a sandbox workspace, puts the starter's data back (so
every grading starts from the same state), and runs ``python -m pipeline run`` there under a
watching probe, after dropping its hidden batches into ``data/incoming/``. Each check works on its
own copy of the project after the first run.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from graders.catalogue import Lab
from graders.containers.workspace import WORK, Workspace, open_workspace, stage_readable
from graders.errors import GraderError
from graders.labs.retraining_data import Batch, hidden_batches

GRADER = "/grader"
HOLDOUT = f"{GRADER}/holdout.csv"
PROBE = Path(__file__).with_name("retraining_pipeline_probe.py")
RUN_TIMEOUT = 240
KILL_FRACTION = 0.7
LEFT_OUT = {".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".git"}
STATE = ("data", "models", "history.jsonl")


@dataclass
class Outcome:
    """A watched run of the pipeline (None for a look without a run) and the project afterwards."""

    run: dict[str, Any] | None
    state: dict[str, Any]

    def decisions(self, batch: Batch) -> list[dict[str, Any]]:
        """The history entries about ``batch``."""
        return [e for e in self.state["history"]["entries"] if e.get("batch") == batch.name]


@dataclass
class Project:
    """A copy of the learner's project inside the workspace."""

    workspace: Workspace
    path: str

    def sh(self, script: str, timeout: float = 120) -> Any:
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
        names = " ".join(f"{GRADER}/batches/{b.name}" for b in batches)
        self.sh(f"mkdir -p data/incoming && cp {names} data/incoming/ && chmod u+w data/incoming/*")

    def run(
        self,
        watched: tuple[Batch, ...] = (),
        kill_after: float | None = None,
        kill_on_model_write: bool = False,
    ) -> Outcome:
        """Run the pipeline once under the probe; what it did and what the project holds."""
        flags = ["--timeout", str(RUN_TIMEOUT)]
        if kill_after is not None:
            flags += ["--kill-after", f"{kill_after:.3f}"]
        if kill_on_model_write:
            flags.append("--kill-on-model-write")
        found = self.probe("run", *flags, watched=watched)
        return Outcome(found["run"], found["state"])

    def look(self, watched: tuple[Batch, ...] = ()) -> Outcome:
        """What the project holds now."""
        return Outcome(None, self.probe("state", watched=watched)["state"])

    def probe(self, command: str, *flags: str, watched: tuple[Batch, ...]) -> Any:
        batches = [f"--batch={GRADER}/batches/{b.name}" for b in watched]
        return self.workspace.probe(
            f"{GRADER}/probe.py",
            command,
            self.path,
            f"--holdout={HOLDOUT}",
            *flags,
            *batches,
            timeout=RUN_TIMEOUT + 120,
        )


@pytest.fixture(scope="session")
def hidden() -> dict[str, Batch]:
    """The grader's hidden batches, by role (see ``retraining_data.hidden_batches``)."""
    return hidden_batches()


@pytest.fixture(scope="session")
def grader_files(lab: Lab, hidden: dict[str, Batch], run_id: str) -> Iterator[Path]:
    """The probe, the starter's data, its holdout and the hidden batches, mounted at /grader."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-grader-") as temporary:
        folder = Path(temporary) / "grader"
        (folder / "batches").mkdir(parents=True)
        shutil.copy(PROBE, folder / "probe.py")
        shutil.copytree(lab.starter / "data", folder / "data")
        shutil.copy(lab.starter / "data" / "holdout.csv", folder / "holdout.csv")
        for batch in hidden.values():
            (folder / "batches" / batch.name).write_bytes(batch.content)
        yield stage_readable(folder, Path(temporary) / "mounted")


@pytest.fixture(scope="session")
def project_workspace(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    submission_dir: Path,
    grader_files: Path,
    run_id: str,
) -> Iterator[Workspace]:
    """A sandbox with the learner's folder at /submission (read-only) and room for copies."""
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
            env={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
            scratch_size="2g",
        ) as workspace:
            yield workspace


@pytest.fixture(scope="session")
def clean_project(project_workspace: Workspace) -> Callable[[str], Project]:
    """The learner's code with the starter's data and no model or history: the lab's start."""

    def make(name: str) -> Project:
        target = f"{WORK}/{name}"
        project_workspace.run(f"cp -a /submission {target}")
        project = Project(project_workspace, target)
        project.sh(f"rm -rf {' '.join(STATE)} && cp -a {GRADER}/data data && chmod -R u+w .")
        return project

    return make


@pytest.fixture(scope="session")
def first_run(clean_project: Callable[[str], Project], progress: Callable[[str], None]) -> Any:
    """The project after its first run on the starter data."""
    progress("running python -m pipeline run on the starter data")
    project = clean_project("first")
    return project, project.run()


@pytest.fixture(scope="session")
def good_batch_run(
    first_run: tuple[Project, Outcome], hidden: dict[str, Batch], progress: Callable[[str], None]
) -> tuple[Project, Outcome]:
    """After the first run, a run with one good hidden batch."""
    progress("a run with a new, good batch")
    project = first_run[0].copy("good")
    project.add(hidden["good"])
    return project, project.run(watched=(hidden["good"],))
