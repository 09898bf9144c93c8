"""The steps of the GitHub Action and of the GitLab job, run here as scripts against this checkout:
infra/ci/grade.sh (install, needs-kind, grade) and infra/ci/gitlab/grade-in-dind.sh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADE_SH = ROOT / "infra" / "ci" / "grade.sh"
DIND_SH = ROOT / "infra" / "ci" / "gitlab" / "grade-in-dind.sh"
TINY = "foundation/01-tiny-lab"
CONTAINERIZE = "foundation/01-containerize-model"


def run_step(
    script: Path, *args: str, cwd: Path, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a CI step as the runner would: its settings in the environment, files for
    ``$GITHUB_STEP_SUMMARY`` and ``$GITHUB_OUTPUT``, and this venv's Python."""
    environment = {**os.environ, "MLOPS_LABS_PYTHON": sys.executable, **env}
    return subprocess.run(
        ["bash", str(script), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def github_files(tmp_path: Path) -> dict[str, str]:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    summary.write_text("")
    output.write_text("")
    return {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}


def test_install_is_skipped_when_this_checkout_is_installed(tmp_path: Path) -> None:
    done = run_step(GRADE_SH, "install", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"install skipped: mlops-labs is installed from {ROOT} already" in done.stderr


@pytest.mark.parametrize(
    ("lab", "needs"),
    [(CONTAINERIZE, "false"), ("professional/03-ha-inference-on-kind", "true")],
)
def test_needs_kind_reads_the_lab_toml(lab: str, needs: str, tmp_path: Path) -> None:
    files = github_files(tmp_path)
    done = run_step(GRADE_SH, "needs-kind", cwd=tmp_path, MLOPS_LABS_LAB=lab, **files)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"kind={needs}\n"
    assert Path(files["GITHUB_OUTPUT"]).read_text() == f"kind={needs}\n"


def test_grade_without_a_lab_is_bad_input(tmp_path: Path) -> None:
    done = run_step(GRADE_SH, "grade", cwd=tmp_path, MLOPS_LABS_LAB="")
    assert done.returncode == 2 and "set MLOPS_LABS_LAB" in done.stderr


def test_grade_of_an_unknown_lab_still_writes_a_summary(tmp_path: Path) -> None:
    files = github_files(tmp_path)
    done = run_step(GRADE_SH, "grade", cwd=tmp_path, MLOPS_LABS_LAB="no-such-lab", **files)
    assert done.returncode == 2
    summary = Path(files["GITHUB_STEP_SUMMARY"]).read_text()
    assert "**No report: `mlops-labs grade` exited 2 (bad input).**" in summary
    assert "exit-code=2\n" in Path(files["GITHUB_OUTPUT"]).read_text()


def test_grade_of_a_starter_exits_1_with_summary_and_reports(
    tiny_labs: Path, tmp_path: Path
) -> None:
    files = github_files(tmp_path)
    Path(files["GITHUB_STEP_SUMMARY"]).write_text("earlier step\n")
    starter = tiny_labs / TINY / "starter"
    done = run_step(
        GRADE_SH,
        "grade",
        cwd=tmp_path,
        MLOPS_LABS_LAB=TINY,
        MLOPS_LABS_PATH=str(starter),
        MLOPS_LABS_FORMATS="json,junit",  # github is added under GitHub Actions
        **files,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "mlops-labs-report" / "report.json").read_text())
    assert report["status"] == "complete" and report["percent"] < 100
    assert (tmp_path / "mlops-labs-report" / "junit.xml").is_file()
    summary = Path(files["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("earlier step\n## ") and TINY in summary
    assert "No report" not in summary
    assert "exit-code=1\n" in Path(files["GITHUB_OUTPUT"]).read_text()
    assert "exit code 1: not full marks" in done.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_action_steps_grade_a_copy_of_the_reference_to_full_marks(tmp_path: Path) -> None:
    files = github_files(tmp_path)
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "labs" / CONTAINERIZE / "solution", workspace)
    installed = run_step(GRADE_SH, "install", cwd=workspace)
    assert "install skipped" in installed.stderr
    needs = run_step(GRADE_SH, "needs-kind", cwd=workspace, MLOPS_LABS_LAB=CONTAINERIZE, **files)
    assert needs.stdout == "kind=false\n"
    out = tmp_path / "report"
    done = run_step(
        GRADE_SH, "grade", cwd=workspace, MLOPS_LABS_LAB=CONTAINERIZE, MLOPS_LABS_OUT=str(out),
        **files,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    full = report["status"] == "complete" and report["percent"] == 100
    assert done.returncode == (0 if full else 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert full, done.stdout[-3000:]
    assert (out / "junit.xml").is_file() and (out / "step-summary.md").is_file()
    summary = Path(files["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary == (out / "step-summary.md").read_text()
    assert "kind=false\nexit-code=0\n" == Path(files["GITHUB_OUTPUT"]).read_text()


@pytest.mark.docker
@pytest.mark.slow
def test_gitlab_job_script_grades_in_a_container_on_the_engine(tmp_path: Path) -> None:
    """As in the GitLab job, but with this machine's engine as the service and a slim image."""
    workspace = tmp_path / "project"
    shutil.copytree(ROOT / "labs" / CONTAINERIZE / "solution", workspace)
    done = run_step(
        DIND_SH,
        cwd=workspace,
        MLOPS_LABS_LAB=CONTAINERIZE,
        MLOPS_LABS_GRADER_IMAGE="python:3.11-slim",
        CI_JOB_ID=f"test-{os.getpid()}",
    )
    out = workspace / "mlops-labs-report"
    assert (out / "report.json").is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["percent"] == 100, done.stdout[-3000:]
    assert done.returncode == 0 and (out / "junit.xml").is_file()
    assert "install done: mlops-labs" in done.stderr
