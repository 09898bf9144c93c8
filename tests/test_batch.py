"""``mlops-labs batch``: a class graded in one command — isolated, parallel, resumable.

The fast tests grade the tiny fixture lab (no Docker; ~1 s a grading). Its grader scores
answer.txt: "42" gets 6/6, "41" 3/6 (the answer is wrong), no file 1/6; TINY_GRADER_SLEEP makes
every grading slow, so that a batch can be stopped half-way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from graders.batch import BatchOptions, run_batch, runner
from graders.batch.books import FILE_FORMATS, write_gradebook
from graders.batch.submissions import Submission, prepare
from graders.catalogue import find_lab
from graders.emitters import FILE_NAMES
from graders.emitters.gradebook import render_class_gradebook
from graders.intake import SubmissionRefused
from graders.report import CheckResult, Outcome, Report, RunStatus, load_report
from tests.adversarial.hostile_submissions import (
    FOREIGN_REPOSITORIES,
    INTAKE,
    honest_part,
    odd_names,
    remove_deep,
    repository,
)
from tests.conftest import FIXTURES, REPO, interruptible, run_cli

TINY = "foundation/01-tiny-lab"
ANSWERS = {"alice": "42", "bob": "41", "carol": None}  # None: no answer.txt at all
EXPECTED_SCORE = {"42": 6, "41": 3, None: 1}


def make_class(folder: Path, answers: dict[str, str | None] = ANSWERS) -> Path:
    """A submissions folder: one subfolder per learner, with their answer.txt (or none)."""
    for name, answer in answers.items():
        (folder / name).mkdir(parents=True)
        if answer is not None:
            (folder / name / "answer.txt").write_text(answer + "\n")
    return folder


def gradebook(out: Path) -> list[dict[str, str]]:
    """The rows of OUT/gradebook.csv."""
    return list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))


def batch_state(out: Path) -> dict[str, dict[str, object]]:
    """The per-submission entries of OUT/batch.json."""
    return dict(json.loads((out / "batch.json").read_text())["submissions"])


def start_batch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``mlops-labs batch`` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "graders.cli", "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=interruptible,
    )


def wait_until_finished(out: Path, name: str, timeout: float = 60) -> None:
    """Wait until batch.json records ``name`` as graded to a final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if batch_state(out).get(name, {}).get("status") == "complete":
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{name} never finished in {out}")


def test_batch_of_three_gives_a_gradebook_row_each_and_every_format(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submissions = make_class(tmp_path / "class")
    out = tmp_path / "out"
    step_files = {
        name: tmp_path / name.lower() for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
    }
    environment = {**os.environ, **{name: str(path) for name, path in step_files.items()}}
    done = run_cli("batch", TINY, str(submissions), "--out", str(out), env=environment)
    assert done.returncode == 0, done.stdout + done.stderr
    # in GitHub Actions, the batch job's summary and outputs are not each submission's
    assert not any(path.exists() for path in step_files.values())
    rows = gradebook(out)
    assert [row["submission"] for row in rows] == sorted(ANSWERS)
    for row in rows:
        report = load_report(out / "submissions" / row["submission"] / "report.json")
        assert report.submission == row["submission"]  # the name, not the private copy's path
        assert float(row["score"]) == report.score == EXPECTED_SCORE[ANSWERS[row["submission"]]]
        assert row["status"] == "complete"
        written = {p.name for p in (out / "submissions" / row["submission"]).iterdir()}
        assert {FILE_NAMES[name] for name in FILE_FORMATS} <= written
    assert f"Gradebook: {out / 'gradebook.csv'}" in done.stdout
    assert f"Class report: {out / 'class-report.html'}" in done.stdout
    assert not (out / ".work").exists(), "private copies are removed"
    assert not (tmp_path / "mlops-labs-home" / "scores.json").exists(), "instructor's own state"


def test_parallel_batch_gives_the_same_gradebook_as_one_at_a_time(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submissions = make_class(
        tmp_path / "class", {f"s{i}": "42" if i % 2 else "41" for i in range(4)}
    )
    for jobs in ("1", "2"):
        done = run_cli("batch", TINY, str(submissions), "--out", str(tmp_path / jobs), "-j", jobs)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "1" / "gradebook.csv").read_text() == (
        tmp_path / "2" / "gradebook.csv"
    ).read_text()
    assert len(gradebook(tmp_path / "2")) == 4


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_batch_stopped_half_way_then_resumed_gives_the_uninterrupted_gradebook(
    tiny_labs: Path, tmp_path: Path, signum: int
) -> None:
    submissions = make_class(tmp_path / "class")
    whole = run_cli("batch", TINY, str(submissions), "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "out"
    batch = start_batch(TINY, str(submissions), "--out", str(out), env={"TINY_GRADER_SLEEP": "4"})
    wait_until_finished(out, "alice", timeout=90)
    first = (out / "submissions" / "alice" / "report.json").stat().st_mtime_ns
    batch.send_signal(signum)
    stdout, _ = batch.communicate(timeout=120)
    assert batch.returncode == (130 if signum == signal.SIGINT else -signal.SIGKILL)
    assert [row["submission"] for row in gradebook(out)] == ["alice"], "finished rows only"
    if signum == signal.SIGINT:
        assert "--resume" in stdout

    resumed = run_cli("batch", TINY, str(submissions), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "gradebook.csv").read_text() == (tmp_path / "whole" / "gradebook.csv").read_text()
    assert (out / "submissions" / "alice" / "report.json").stat().st_mtime_ns == first
    assert "grading alice" not in resumed.stdout and "grading bob" in resumed.stdout


def test_resume_regrades_a_submission_changed_since_it_was_graded(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submissions = make_class(tmp_path / "class")
    out = tmp_path / "out"
    assert run_cli("batch", TINY, str(submissions), "--out", str(out)).returncode == 0
    (submissions / "bob" / "answer.txt").write_text("42\n")
    resumed = run_cli("batch", TINY, str(submissions), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "grading bob" in resumed.stdout and "grading alice" not in resumed.stdout
    assert {row["submission"]: row["score"] for row in gradebook(out)}["bob"] == "6"


def test_only_regrades_just_the_named_submission(tiny_labs: Path, tmp_path: Path) -> None:
    submissions = make_class(tmp_path / "class")
    out = tmp_path / "out"
    assert run_cli("batch", TINY, str(submissions), "--out", str(out)).returncode == 0
    before = {n: (out / "submissions" / n / "report.json").stat().st_mtime_ns for n in ANSWERS}
    (submissions / "carol" / "answer.txt").write_text("42\n")
    done = run_cli("batch", TINY, str(submissions), "--out", str(out), "--only", "carol")
    assert done.returncode == 0, done.stderr
    after = {n: (out / "submissions" / n / "report.json").stat().st_mtime_ns for n in ANSWERS}
    assert [n for n in ANSWERS if before[n] != after[n]] == ["carol"]
    assert {row["submission"]: row["score"] for row in gradebook(out)} == {
        "alice": "6",
        "bob": "3",
        "carol": "6",
    }


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` as a learner would."""
    identity = ["-c", "user.name=Learner", "-c", "user.email=learner@example.invalid"]
    done = subprocess.run(
        ["git", "-C", str(folder), *identity, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_git_submission_is_graded_at_its_head_commit(tiny_labs: Path, tmp_path: Path) -> None:
    repository = tmp_path / "class" / "dave"
    repository.mkdir(parents=True)
    git(repository, "init", "-q")
    (repository / "answer.txt").write_text("42\n")
    git(repository, "add", "answer.txt")
    git(repository, "commit", "-q", "-m", "my answer")
    (repository / "answer.txt").write_text("41\n")  # an edit never committed
    out = tmp_path / "out"
    done = run_cli("batch", TINY, str(tmp_path / "class"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert gradebook(out)[0]["score"] == "6"
    assert batch_state(out)["dave"]["commit"] == git(repository, "rev-parse", "HEAD")
    assert (repository / "answer.txt").read_text() == "41\n", "the learner's folder is untouched"


def test_a_git_copy_keeps_ignored_files_and_never_writes_through_a_committed_link(
    tmp_path: Path,
) -> None:
    repository = tmp_path / "erin"
    (repository / "dvc-storage").mkdir(parents=True)
    git(repository, "init", "-q")
    (repository / ".gitignore").write_text("/dvc-storage/\n/escape/\n")
    (repository / "escape").symlink_to(tmp_path / "outside")
    git(repository, "add", ".gitignore")
    git(repository, "add", "-f", "escape")  # HEAD holds a link where the working copy has one
    git(repository, "commit", "-q", "-m", "one")
    (repository / "dvc-storage" / "blob").write_text("data\n")
    (repository / "untracked.txt").write_text("not committed\n")
    (repository / "escape").unlink()
    (repository / "escape").mkdir()  # ignored files under a folder that HEAD has as a link
    (repository / "escape" / "planted").write_text("x\n")
    prepared = prepare(Submission("erin", repository), tmp_path / "copy")
    assert (prepared.path / "dvc-storage" / "blob").read_text() == "data\n"
    assert not (prepared.path / "untracked.txt").exists()
    assert (prepared.path / "escape").is_symlink()
    assert not (tmp_path / "outside").exists()
    assert prepared.commit and prepared.fingerprint.startswith(f"git:{prepared.commit}+")


def test_plain_copy_keeps_symlinks_as_links(tmp_path: Path) -> None:
    folder = tmp_path / "frank"
    folder.mkdir()
    (folder / "secret").symlink_to("/etc/hostname")
    prepared = prepare(Submission("frank", folder), tmp_path / "copy")
    assert os.readlink(prepared.path / "secret") == "/etc/hostname"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["no/such-lab", "{class}"], "unknown lab 'no/such-lab'"),
        ([TINY, "{tmp}/nowhere"], "no such folder:"),
        ([TINY, "{tmp}/empty"], "no submissions in"),
        ([TINY, "{class}", "--only", "zoe"], "no submission named zoe"),
        ([TINY, "{class}", "-j", "0"], "-j must be at least 1"),
        ([TINY, "{class}", "--index", "7"], "--index 7 is out of range"),
        ([TINY, "{class}", "--out", "{tmp}/done"], "pass --resume"),
    ],
)
def test_bad_batch_input_is_one_line_exit_2(
    tiny_labs: Path, tmp_path: Path, args: list[str], says: str
) -> None:
    make_class(tmp_path / "class", {"alice": "42"})
    (tmp_path / "empty").mkdir()
    if "{tmp}/done" in args:
        first = run_cli("batch", TINY, str(tmp_path / "class"), "--out", str(tmp_path / "done"))
        assert first.returncode == 0, first.stderr
    values = {"class": str(tmp_path / "class"), "tmp": str(tmp_path)}
    done = run_cli("batch", *[arg.format(**values) for arg in args])
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_unreachable_engine_exits_3_before_grading_anyone(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    submissions = make_class(tmp_path / "class")
    done = run_cli(
        "batch", "foundation/02-tiny-docker-lab", str(submissions), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 3
    assert done.stderr.startswith("mlops-labs: no Docker engine answers")
    assert "Fix: start a Docker engine" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o" / "submissions").exists(), "nobody was graded into an error"


def test_a_grader_crash_is_an_error_row_not_a_low_score_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = tmp_path / "labs" / "foundation" / "01-crashing"
    (lab / "starter").mkdir(parents=True)
    (lab / "solution").mkdir()
    (lab / "README.md").write_text("# Crashing\n")
    tiny = (REPO / "tests" / "fixtures" / "labs" / TINY / "lab.toml").read_text()
    (lab / "lab.toml").write_text(
        tiny.replace(TINY, "foundation/01-crashing").replace("tiny_grader", "no_such_grader")
    )
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(tmp_path / "labs"))
    submissions = make_class(tmp_path / "class", {"alice": "42"})
    done = run_cli(
        "batch", "foundation/01-crashing", str(submissions), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 3, done.stdout + done.stderr
    row = gradebook(tmp_path / "o")[0]
    assert (row["status"], row["score"], row["percent"]) == ("error", "", "")
    assert "ERROR" in done.stdout


def test_a_submission_over_the_time_limit_is_timed_out_and_the_batch_goes_on(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "60")
    submissions = make_class(tmp_path / "class", {"alice": "42", "bob": "42"})
    out = tmp_path / "out"
    done = run_cli("batch", TINY, str(submissions), "--out", str(out), "--time-limit", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(row["submission"], row["status"]) for row in gradebook(out)] == [
        ("alice", "timed-out"),
        ("bob", "timed-out"),
    ]


def test_index_gradings_then_collect_give_the_batch_gradebook(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submissions = make_class(tmp_path / "class")
    assert (
        run_cli("batch", TINY, str(submissions), "--out", str(tmp_path / "whole")).returncode == 0
    )
    out = tmp_path / "pvc"
    for index in range(len(ANSWERS)):  # as the pods of a Kubernetes indexed Job would
        done = run_cli("batch", TINY, str(submissions), "--out", str(out), "--index", str(index))
        assert done.returncode == 0, done.stderr
        assert not (out / "gradebook.csv").exists(), "pods leave the gradebook to --collect"
    collected = run_cli("batch", TINY, str(submissions), "--out", str(out), "--collect")
    assert collected.returncode == 0, collected.stderr
    assert (out / "gradebook.csv").read_text() == (tmp_path / "whole" / "gradebook.csv").read_text()


def make_report(name: str, status: RunStatus, points: list[float]) -> Report:
    """A report of ``name`` with one check per entry of ``points`` (each out of 2)."""
    checks = [
        CheckResult(f"test_{i}", f"Check {i}", i, Outcome.PASSED, p, 2.0)
        for i, p in enumerate(points, 1)
    ]
    return Report({"id": TINY}, name, "2026-01-01T00:00:00+00:00", status=status, checks=checks)


def test_class_gradebook_has_one_header_and_leaves_an_errors_score_empty() -> None:
    text = render_class_gradebook(
        [
            make_report("alice", RunStatus.COMPLETE, [2, 1.5]),
            make_report("bob", RunStatus.ERROR, [2]),  # crashed before its second check
        ]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-2:] == ["01 test_1", "02 test_2"]
    assert rows[1][2:6] == ["complete", "3.5", "4", "87.5"]
    assert rows[2][2:] == ["error", "", "2", "", "2", ""]


def test_gradebook_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gradebook.csv"
    write_gradebook(path, [make_report("alice", RunStatus.COMPLETE, [2])])
    before, inode = path.read_text(), path.stat().st_ino
    write_gradebook(path, [make_report("alice", RunStatus.COMPLETE, [1])])
    assert path.stat().st_ino != inode, "a new file renamed over the old one, never rewritten"

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_gradebook(path, [make_report("bob", RunStatus.COMPLETE, [2])])
    assert path.read_text() != before and "bob" not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["gradebook.csv"], "no temporary file left"


def test_batch_help_has_an_example() -> None:
    done = run_cli("batch", "--help")
    assert done.returncode == 0 and "Example" in done.stdout and "--resume" in done.stdout


@pytest.mark.docker
def test_parallel_docker_gradings_have_their_own_run_ids_and_leave_nothing(
    tiny_labs: Path, tmp_path: Path, docker_engine: Any
) -> None:
    dockerfile = tiny_labs / "foundation" / "02-tiny-docker-lab" / "solution" / "Dockerfile"
    for name in ("ann", "ben"):
        (tmp_path / "class" / name).mkdir(parents=True)
        (tmp_path / "class" / name / "Dockerfile").write_text(dockerfile.read_text())
    out = tmp_path / "out"
    done = run_cli(
        "batch",
        "foundation/02-tiny-docker-lab",
        str(tmp_path / "class"),
        "--out",
        str(out),
        "-j",
        "2",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = {
        load_report(out / "submissions" / n / "report.json").environment["run_id"]
        for n in ("ann", "ben")
    }
    assert len(runs) == 2
    assert [row["status"] for row in gradebook(out)] == ["complete", "complete"]
    for run in runs:
        label = f"org.mlops-labs.run={run}"
        assert not docker_engine.containers.list(all=True, filters={"label": label})
        assert not docker_engine.networks.list(filters={"label": label})


# --- a batch survives any one submission (hostile ones: tests/adversarial/hostile_submissions.py)

#: Submission folders whose names are not letters and digits, and the names they go by.
ODD_FOLDERS = {
    "Zoë": "Zo%C3%AB",
    os.fsdecode(b"\xff\xfe-x"): "%FF%FE-x",
    "a\nb\x1b[2J": "a%0Ab%1B%5B2J",
}


def hostile_class(folder: Path) -> None:
    """Honest submissions among every hostile one: alice (42, a folder), bob (42, a repository,
    the classmate the foreign repositories point at), odd file names in a folder and in a
    repository (committed and ignored), odd folder names, and each intake attack."""
    honest_part(folder / "alice")
    repository(folder / "bob", "42")
    for hostile in INTAKE:
        hostile.build(folder / hostile.name)
    for name, (build, _) in FOREIGN_REPOSITORIES.items():
        build(folder / name, folder / "bob")
    odd_names(folder / "odd-names")
    odd_repository = folder / "odd-repository"
    odd_names(odd_repository)
    (odd_repository / ".gitignore").write_text("data-*\n")
    git(odd_repository, "init", "-q")
    git(odd_repository, "add", "-A")
    git(odd_repository, "commit", "-q", "-m", "odd names, committed")
    for odd in ODD_FOLDERS:
        honest_part(folder / odd)


def test_a_class_with_every_hostile_submission_grades_all_others_and_resumes(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submissions, out, scratch = tmp_path / "class", tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    try:
        hostile_class(submissions)
        done = run_cli("batch", TINY, str(submissions), "--out", str(out), env=env, timeout=600)
        first = (out / "gradebook.csv").read_text()
        resumed = run_cli(
            "batch", TINY, str(submissions), "--out", str(out), "--resume", env=env, timeout=600
        )
    finally:
        remove_deep(submissions / "deep-nesting")
    assert done.returncode == 0, done.stdout + done.stderr  # every submission has a final report
    rows = {row["submission"]: row for row in gradebook(out)}
    state = batch_state(out)
    honest = ["alice", "bob", "odd-names", "odd-repository", *ODD_FOLDERS.values()]
    assert {name: rows[name]["score"] for name in honest} == dict.fromkeys(honest, "6")
    for hostile in INTAKE:
        row = rows[hostile.name]
        assert row["status"] == "complete" and float(row["score"]) <= hostile.max_score, row
        if not hostile.max_score:
            assert hostile.says in str(state[hostile.name]["reason"]), state[hostile.name]
    for name, (_, says) in FOREIGN_REPOSITORIES.items():
        assert (rows[name]["status"], rows[name]["score"]) == ("complete", "0"), rows[name]
        assert says in str(state[name]["reason"]), state[name]
        assert state[name]["commit"] is None, "nobody else's commit is recorded"
    assert len(rows) == len(honest) + len(INTAKE) + len(FOREIGN_REPOSITORIES)
    assert "Traceback" not in done.stderr + resumed.stderr
    assert not (out / ".work").exists() and list(scratch.iterdir()) == []
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "gradebook.csv").read_text() == first
    assert "grading alice" not in resumed.stdout and "grading Zo%C3%AB" not in resumed.stdout


def test_any_fault_of_one_submission_is_its_error_row_and_resume_regrades_it(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "graders"))  # the tiny grader, in this process
    submissions, out = make_class(tmp_path / "class"), tmp_path / "out"
    prepare_for_real, record_for_real = runner.prepare, runner.finish_report
    failed_to_record: list[str] = []

    def prepare_fails_for_bob(submission: Submission, target: Path) -> Any:
        if submission.name == "bob":
            raise RuntimeError("boom while copying bob")
        return prepare_for_real(submission, target)

    def recording_fails_once_for_carol(report: Report, folder: Path, name: str, facts: Any) -> None:
        if name == "carol" and not failed_to_record:
            failed_to_record.append(name)
            raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
        record_for_real(report, folder, name, facts)

    with pytest.raises(RuntimeError):  # the faults are real: uncaught, each ended the batch
        prepare_fails_for_bob(Submission("bob", submissions / "bob"), tmp_path / "copy")
    monkeypatch.setattr(runner, "prepare", prepare_fails_for_bob)
    monkeypatch.setattr(runner, "finish_report", recording_fails_once_for_carol)
    lab = find_lab(TINY)
    quiet = Console(file=io.StringIO())
    assert run_batch(BatchOptions(lab, submissions, out), quiet) == 3  # a grading ended in error
    state = batch_state(out)
    assert (state["alice"]["status"], state["alice"]["score"]) == ("complete", 6)
    assert state["bob"]["status"] == "error"
    assert "RuntimeError: boom while copying bob" in str(state["bob"]["reason"])
    assert state["carol"]["status"] == "error"
    assert "could not record the report: UnicodeEncodeError" in str(state["carol"]["reason"])
    assert [row["score"] for row in gradebook(out)] == ["6", "", ""]  # errors are not grades
    monkeypatch.setattr(runner, "prepare", prepare_for_real)
    monkeypatch.setattr(runner, "finish_report", record_for_real)
    assert run_batch(BatchOptions(lab, submissions, out, resume=True), quiet) == 0
    assert {row["submission"]: row["score"] for row in gradebook(out)} == {
        "alice": "6",
        "bob": "3",
        "carol": "1",
    }


def test_a_repository_whose_head_is_over_a_limit_is_refused_before_its_checkout(
    tmp_path: Path,
) -> None:
    learner = tmp_path / "class" / "mallory"
    repository(learner, "42")
    deep = learner.joinpath(*["d"] * 70)
    deep.mkdir(parents=True)
    (deep / "bomb.txt").write_text("x\n")
    git(learner, "add", "-A")
    git(learner, "commit", "-q", "-m", "deep")
    shutil.rmtree(learner / "d")  # the folder is small; its HEAD commit is not
    assert git(learner, "ls-tree", "-r", "--name-only", "HEAD").count("/") >= 70
    with pytest.raises(SubmissionRefused, match="more than 64 nested folders in its HEAD"):
        prepare(Submission("mallory", learner), tmp_path / "copy")
    assert not (tmp_path / "copy" / "d").exists(), "nothing of it was checked out"


def test_odd_folder_names_are_graded_percent_encoded_and_only_takes_either_name(
    tiny_labs: Path, tmp_path: Path
) -> None:
    submissions = make_class(tmp_path / "class", {"Zoë": "42", "-rf": "41"})
    out = tmp_path / "out"
    done = run_cli("batch", TINY, str(submissions), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr  # before: "rename: …", exit 2
    assert {row["submission"]: row["score"] for row in gradebook(out)} == {
        "%2Drf": "3",
        "Zo%C3%AB": "6",
    }
    for name in ("Zoë", "Zo%C3%AB"):
        again = run_cli("batch", TINY, str(submissions), "--out", str(out), "--only", name)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "grading Zo%C3%AB" in again.stdout and "grading %2Drf" not in again.stdout
