"""The command line as learners, instructors and CI use it: exit codes, messages, files."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, start_grading, wait_for_check

TINY = "foundation/01-tiny-lab"


def test_list_shows_labs_with_requirements_and_last_score(tiny_labs: Path, tmp_path: Path) -> None:
    before = run_cli("list")
    assert before.returncode == 0 and TINY in before.stdout and "docker" in before.stdout
    run_cli("grade", TINY, str(tiny_labs / TINY / "starter"), "--out", str(tmp_path / "o"))
    after = run_cli("list")
    assert "3/6" in after.stdout


def test_grade_says_first_what_of_the_folder_it_grades(tiny_labs: Path, tmp_path: Path) -> None:
    starter = tiny_labs / TINY / "starter"
    done = run_cli("grade", TINY, str(starter), "--out", str(tmp_path / "o"))
    assert done.stdout.splitlines()[0] == (
        f"Grading {TINY}: the files in {starter} as they are now, committed or not"
    )
    reference = run_cli("grade", TINY, "--reference", "--out", str(tmp_path / "r"))
    assert reference.stdout.splitlines()[0] == f"Grading {TINY}: its reference solution"


def test_grade_reference_with_full_marks_exits_0(tiny_labs: Path, tmp_path: Path) -> None:
    done = run_cli("grade", TINY, "--reference", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["score"], report["max_score"], report["status"]) == (6, 6, "complete")


def test_grade_without_full_marks_exits_1_and_shows_the_hint(
    tiny_labs: Path, tmp_path: Path
) -> None:
    done = run_cli("grade", TINY, str(tiny_labs / TINY / "starter"), "--out", str(tmp_path))
    assert done.returncode == 1
    assert "Hint: The answer is 42." in done.stdout


def test_grade_defaults_to_the_current_folder(tiny_labs: Path, tmp_path: Path) -> None:
    done = run_cli("grade", TINY, "--out", str(tmp_path), cwd=tiny_labs / TINY / "solution")
    assert done.returncode == 0, done.stdout + done.stderr


def test_grade_writes_every_requested_format(tiny_labs: Path, tmp_path: Path) -> None:
    done = run_cli(
        "grade",
        TINY,
        "--reference",
        "--out",
        str(tmp_path),
        "--format",
        "json,junit,gradescope",
        "--format",
        "prairielearn,github,csv",
    )
    assert done.returncode == 0, done.stderr
    written = {p.name for p in tmp_path.iterdir()}
    assert {
        "report.json",
        "junit.xml",
        "gradescope-results.json",
        "prairielearn-results.json",
        "step-summary.md",
        "gradebook.csv",
    } <= written


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["grade", "no/such-lab"], "unknown lab 'no/such-lab'"),
        (["grade", TINY, "/no/such/folder"], "no such folder: /no/such/folder"),
        (["grade", TINY, "--reference", "--format", "pdf"], "unknown report format 'pdf'"),
        (["start", "nope"], "unknown lab 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(
    tiny_labs: Path, args: list[str], says: str
) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_malformed_lab_toml_names_the_file_and_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lab = tmp_path / "labs" / "foundation" / "01-broken"
    (lab / "starter").mkdir(parents=True)
    (lab / "lab.toml").write_text('id = "foundation/01-broken"\ntitle = "x"\nlevel = "expert"\n')
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(tmp_path / "labs"))
    done = run_cli("grade", "foundation/01-broken", str(lab))
    assert done.returncode == 2
    assert f"{lab / 'lab.toml'}: field 'level'" in done.stderr
    assert "Traceback" not in done.stderr


def test_start_copies_the_starter_into_a_git_repository(tiny_labs: Path, tmp_path: Path) -> None:
    target = tmp_path / "mine"
    done = run_cli("start", TINY, str(target))
    assert done.returncode == 0, done.stderr
    assert (target / "answer.txt").read_text() == "41\n"
    log = subprocess.run(
        ["git", "-C", str(target), "log", "--oneline"], capture_output=True, text=True, check=True
    )
    assert f"Start {TINY}" in log.stdout
    assert f"mlops-labs grade {TINY} ." in done.stdout


def test_start_of_a_versioning_lab_leaves_git_to_the_learner(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    done = run_cli("start", "foundation/02-data-versioning", str(target))
    assert done.returncode == 0, done.stderr
    assert (target / "data" / "raw" / "churn.csv").is_file()
    assert not (target / ".git").exists(), "the raw CSV must not go into a commit made for them"


def test_reference_that_needs_steps_with_the_engine_down_is_an_error_with_a_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    done = run_cli("grade", "foundation/02-data-versioning", "--reference", "--out", str(tmp_path))
    assert done.returncode == 3
    assert "no Docker engine answers" in done.stderr and "Fix: start a Docker engine" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_start_refuses_a_folder_that_is_not_empty(tiny_labs: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = run_cli("start", TINY, str(tmp_path))
    assert done.returncode == 2 and "not empty" in done.stderr


def test_every_command_has_help_with_an_example() -> None:
    for command in ("list", "start", "grade", "batch", "doctor", "cluster", "new", "selftest"):
        done = run_cli(command, "--help")
        assert done.returncode == 0 and "Example" in done.stdout, command


def test_doctor_reports_each_finding_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    done = run_cli("doctor")
    assert done.returncode == 3
    for name in ("Docker engine", "base image", "kubectl", "kind", "free disk"):
        assert name in done.stdout
    assert "fix: start a Docker engine" in done.stdout


def test_doctor_names_the_labs_each_missing_tool_blocks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from graders.catalogue import discover_labs
    from graders.doctor import lab_tools

    monkeypatch.setenv("PATH", str(tmp_path))  # no tool at all
    found = {finding.name: finding for finding in lab_tools(discover_labs())}
    assert set(found) == {"dvc", "promtool", "kubectl", "kind"}
    assert "foundation/02-data-versioning" in found["dvc"].detail
    assert "dvc==" in found["dvc"].fix  # the grader's own pinned version
    assert "professional/02-drift-alerts" in found["promtool"].detail
    assert "professional/03-ha-inference-on-kind" in found["kind"].detail
    assert not any(finding.ok or finding.required for finding in found.values())


def test_doctor_leaves_out_a_tool_no_lab_requires(tiny_labs: Path) -> None:
    from graders.catalogue import discover_labs
    from graders.doctor import lab_tools

    assert [finding.name for finding in lab_tools(discover_labs())] == []


@pytest.mark.parametrize("columns", ["50", "80"])
def test_list_never_cuts_a_lab_id_however_narrow_the_terminal(
    columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graders.catalogue import discover_labs

    monkeypatch.setenv("COLUMNS", columns)
    done = run_cli("list")
    assert done.returncode == 0
    for lab in discover_labs():
        assert lab.id in done.stdout, (lab.id, done.stdout)


def test_output_to_a_pipe_is_not_squeezed_into_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    done = run_cli("list")
    assert "Run a highly available inference service on Kubernetes" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) > 80


def test_a_submission_conftest_and_pytest_ini_have_no_effect(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submission = tmp_path / "cheater"
    submission.mkdir()
    (submission / "answer.txt").write_text("41\n")
    (submission / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(wrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    report = yield\n"
        "    report.outcome = 'passed'\n"
        "    return report\n"
    )
    (submission / "pytest.ini").write_text("[pytest]\naddopts = -p no:mlops_labs --deselect x\n")
    done = run_cli("grade", TINY, str(submission), "--out", str(tmp_path / "out"), cwd=submission)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert done.returncode == 1
    assert report["score"] == 3 and report["status"] == "complete"


def test_time_limit_leaves_a_report_out_of_the_full_total_and_exits_3(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "120")
    done = run_cli(
        "grade",
        TINY,
        "--reference",
        "--out",
        str(tmp_path),
        "--time-limit",
        "4",
        "--format",
        "json,junit",
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert done.returncode == 3
    assert report["status"] == "timed-out"
    outcomes = [(c["id"], c["outcome"]) for c in report["checks"]]
    assert outcomes == [
        ("test_answer_file_exists", "passed"),
        ("test_answer_is_42", "passed"),
        ("test_answer_is_not_slow", "not run"),
    ]
    assert (report["score"], report["max_score"]) == (5, 6)  # out of the lab's full total
    assert any("time limit" in error for error in report["errors"])
    junit = (tmp_path / "junit.xml").read_text()
    assert 'type="not run"' in junit


def test_a_grading_that_died_before_listing_its_checks_scores_out_of_every_declared_check(
    tiny_labs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graders.catalogue import find_lab
    from graders.checks import score_out_of_every_check
    from graders.report import Report, RunStatus

    monkeypatch.syspath_prepend(str(tiny_labs.parent / "graders"))
    report = Report(lab={"id": TINY}, submission="s", started_at="t", status=RunStatus.ERROR)
    score_out_of_every_check(find_lab(TINY), report)
    assert [(c.id, c.outcome.value) for c in report.checks] == [
        ("test_answer_file_exists", "not run"),
        ("test_answer_is_42", "not run"),
        ("test_answer_is_not_slow", "not run"),
    ]
    assert (report.score, report.max_score) == (0, 6)


@pytest.mark.parametrize("presses", [1, 2], ids=["once", "twice"])
def test_ctrl_c_stops_the_run_with_an_interrupted_report_and_cleans_up(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, presses: int
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "120")
    learner = start_grading(TINY, tmp_path)
    wait_for_check(tmp_path / "report.json", "test_answer_is_42")
    for _ in range(presses):  # a second Ctrl-C must not skip stopping the grader or the cleanup
        learner.send_signal(signal.SIGINT)
        time.sleep(0.2)
    learner.communicate(timeout=60)
    report = json.loads((tmp_path / "report.json").read_text())
    assert learner.returncode == 130
    assert report["status"] == "interrupted"
    assert "run_id" in report["environment"]  # written by the supervising process after cleanup
