"""``mlops-labs selftest``: its verdicts, on the tiny test lab graded for real (no Docker), and the
cluster rule on reports made by hand."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graders.catalogue import Lab, Requirements
from graders.contract import Mutant
from graders.report import CheckResult, Outcome, Report, RunStatus
from graders.scaffold import make_patch
from graders.selftest import Case, judge
from tests.conftest import FIXTURES, interruptible, run_cli, wait_for_check

TINY = FIXTURES / "labs" / "foundation" / "01-tiny-lab"
CHECKS = ("test_answer_file_exists", "test_answer_is_42", "test_answer_is_not_slow")


def add_mutant(lab: Path, name: str, answer: str, fails: tuple[str, ...]) -> None:
    """A mutant of the tiny lab whose ``answer.txt`` reads ``answer``."""
    folder = lab / "mutants" / name
    folder.mkdir(parents=True)
    listed = ", ".join(f'"{check}"' for check in fails)
    (folder / "mutant.toml").write_text(f'description = "{name}"\nfails = [{listed}]\n')
    (folder / "mutant.patch").write_text(make_patch(lab / "solution", {"answer.txt": answer}))


@pytest.fixture
def tiny_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny lab whose starter has no answer (1 point of 6: at most 20 %), with a
    mutant that loses its check and a passes-* variant; mlops-labs pointed at it."""
    lab = tmp_path / "labs" / "foundation" / "01-tiny-lab"
    shutil.copytree(TINY, lab)
    (lab / "starter" / "answer.txt").unlink()
    (lab / "starter" / "TODO.txt").write_text("Write the answer in answer.txt.\n")
    add_mutant(lab, "wrong-answer", "41\n", ("test_answer_is_42",))
    add_mutant(lab, "passes-answer-with-spaces", "  42 \n", ())
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(tmp_path / "labs"))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FIXTURES / "graders"), path]))
    )
    return lab


def table_row(output: str, case: str) -> str:
    """The table's row of ``case``."""
    return next(line for line in output.splitlines() if line.startswith(f"│ {case} "))


def test_selftest_says_the_contract_holds_and_exits_0(tiny_lab: Path, tmp_path: Path) -> None:
    done = run_cli("selftest", "tiny-lab", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    for case in ("reference", "starter", "wrong-answer", "passes-answer-with-spaces"):
        assert "holds" in table_row(done.stdout, case)
        assert (tmp_path / "out" / case / "report.json").is_file()
    assert "The contract holds: 4 cases." in done.stdout


def test_selftest_names_what_breaks_the_contract_and_exits_1(tiny_lab: Path) -> None:
    # the grader strips the answer: this "mistake" keeps its points
    add_mutant(tiny_lab, "answer-with-spaces", " 42\n", ("test_answer_is_42",))
    # and this "correct variant" loses one
    add_mutant(tiny_lab, "passes-answer-41", "41\n", ())
    done = run_cli("selftest", "tiny-lab", "--only", "answer-with-spaces,passes,reference")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in table_row(done.stdout, "answer-with-spaces")
    assert "BROKEN" in table_row(done.stdout, "passes-answer-41")
    assert "holds" in table_row(done.stdout, "passes-answer-with-spaces")
    assert "answer-with-spaces kept points it must lose: test_answer_is_42" in done.stdout
    assert "passes-answer-41 also lost test_answer_is_42" in done.stdout
    assert "The contract does not hold: 2 of 4 cases." in done.stdout
    assert "wrong-answer" not in done.stdout and "starter" not in done.stdout


def test_a_mistake_whose_check_loses_without_saying_its_cause_breaks_the_contract(
    tiny_lab: Path,
) -> None:
    add_mutant(tiny_lab, "answer-41-named", "41\n", ("test_answer_is_42",))
    add_mutant(tiny_lab, "answer-43-unnamed", "43\n", ("test_answer_is_42",))
    for name, words in (("answer-41-named", "'41'"), ("answer-43-unnamed", "too big")):
        with (tiny_lab / "mutants" / name / "mutant.toml").open("a") as toml:
            toml.write(f"says = [{json.dumps(words)}]\n")
    done = run_cli("selftest", "tiny-lab", "--only", "answer-41-named,answer-43-unnamed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "holds" in table_row(done.stdout, "answer-41-named")
    assert "BROKEN" in table_row(done.stdout, "answer-43-unnamed")
    assert "answer-43-unnamed: test_answer_is_42 does not say 'too big'" in done.stdout


def test_selftest_exits_3_when_a_grading_errors(
    tiny_lab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tiny_lab / "lab.toml"
    toml.write_text(toml.read_text().replace("time_limit_seconds = 60", "time_limit_seconds = 2"))
    monkeypatch.setenv("TINY_GRADER_SLEEP", "30")
    done = run_cli("selftest", "tiny-lab", "--only", "reference")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "ERROR" in table_row(done.stdout, "reference")
    assert "the grading ended timed-out" in done.stdout


@pytest.mark.parametrize(
    ("only", "problem"),
    [("bogus", "--only bogus: not one of reference, starter, mutants, passes"), ("passes", "")],
)
def test_selftest_refuses_an_unknown_case_in_one_line(
    tiny_lab: Path, only: str, problem: str
) -> None:
    shutil.rmtree(tiny_lab / "mutants" / "passes-answer-with-spaces")
    done = run_cli("selftest", "tiny-lab", "--only", only)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("mlops-labs: --only ") and done.stderr.count("\n") == 1
    assert problem in done.stderr


def cluster_lab(monkeypatch: pytest.MonkeyPatch) -> Lab:
    """The tiny lab's grader, as if its lab needed a kind cluster."""
    monkeypatch.syspath_prepend(str(FIXTURES / "graders"))
    return Lab(
        id="foundation/01-tiny-lab",
        title="t",
        level="foundation",
        summary="s",
        grader="tiny_grader",
        estimated_hours=1,
        time_limit_seconds=60,
        requires=Requirements(kind=True),
        path=TINY,
    )


def report_of(*outcomes: tuple[Outcome, str]) -> Report:
    """A complete report of the tiny lab's checks with these outcomes and messages."""
    checks = [
        CheckResult(check, check, n, outcome, 1.0 if outcome == Outcome.PASSED else 0.0, 1.0, msg)
        for n, (check, (outcome, msg)) in enumerate(zip(CHECKS, outcomes, strict=True), 1)
    ]
    return Report({}, "", "", status=RunStatus.COMPLETE, checks=checks)


NO_CLUSTER = (Outcome.SKIPPED, "no kind cluster: run `mlops-labs cluster up`")
PASSED = (Outcome.PASSED, "")
FAILED = (Outcome.FAILED, "wrong")


@pytest.mark.parametrize(
    ("outcomes", "problems"),
    [
        ((PASSED, PASSED, PASSED), ()),
        ((PASSED, NO_CLUSTER, PASSED), ()),  # where no cluster answers: 100 % of what ran
        ((FAILED, NO_CLUSTER, PASSED), ("the reference lost test_answer_file_exists",)),
        ((PASSED, (Outcome.SKIPPED, "other"), PASSED), ("the reference lost test_answer_is_42",)),
    ],
)
def test_reference_verdict_counts_only_what_ran_where_no_cluster_answers(
    monkeypatch: pytest.MonkeyPatch,
    outcomes: tuple[tuple[Outcome, str], ...],
    problems: tuple[str, ...],
) -> None:
    verdict = judge(cluster_lab(monkeypatch), Case.reference(), report_of(*outcomes))
    assert verdict.problems == problems


@pytest.mark.parametrize(
    ("outcomes", "problems"),
    [
        ((FAILED, NO_CLUSTER, PASSED), ()),  # its cluster check cannot be judged without one
        ((FAILED, FAILED, PASSED), ()),  # with a cluster it loses it
        ((FAILED, PASSED, PASSED), ("m kept points it must lose: test_answer_is_42",)),
        ((FAILED, FAILED, FAILED), ("m also lost test_answer_is_not_slow",)),
    ],
)
def test_mutant_verdict_expects_its_cluster_checks_only_where_a_cluster_answers(
    monkeypatch: pytest.MonkeyPatch,
    outcomes: tuple[tuple[Outcome, str], ...],
    problems: tuple[str, ...],
) -> None:
    mutant = Mutant("m", TINY, "d", ("test_answer_file_exists",), (), ("test_answer_is_42",))
    verdict = judge(cluster_lab(monkeypatch), Case.of(mutant), report_of(*outcomes))
    assert verdict.problems == problems


def test_a_mutant_that_cannot_be_made_is_an_error_and_the_others_are_still_graded(
    tiny_lab: Path,
) -> None:
    (tiny_lab / "mutants" / "wrong-answer" / "mutant.patch").write_text("not a patch\n")
    done = run_cli("selftest", "tiny-lab", "--only", "wrong-answer,reference")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "ERROR" in table_row(done.stdout, "wrong-answer")
    assert "holds" in table_row(done.stdout, "reference")
    assert "wrong-answer: it could not be graded;" in done.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_stopped_selftest_stops_its_grading_and_starts_no_other_case(
    tiny_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "120")
    out = tmp_path / "out"
    selftest = subprocess.Popen(
        [sys.executable, "-m", "graders.cli", "selftest", "tiny-lab", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    wait_for_check(out / "reference" / "report.json", "test_answer_is_42")
    selftest.send_signal(signum)
    selftest.communicate(timeout=60)  # not the 120 s the grading would sleep, nor 3 cases more
    assert selftest.returncode == 130
    report = json.loads((out / "reference" / "report.json").read_text())
    assert report["status"] == "interrupted"
    assert sorted(path.name for path in out.iterdir()) == ["reference"]
