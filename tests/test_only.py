"""``mlops-labs grade --only``: a partial grading of some checks and the checks they require,
scored out of what it ran and never recorded as the learner's score; red-team mistakes in the
self-test, graded the same way. On the tiny test lab (no Docker)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from graders.catalogue import Lab, Requirements
from graders.contract import mutants_of
from graders.emitters import emit
from graders.emitters.gradebook import render_class_gradebook
from graders.errors import BadInput
from graders.report import CheckResult, Outcome, Report, RunStatus, load_report
from graders.scaffold import make_patch
from graders.selection import narrow, select_checks
from graders.selftest import Case, Kind, cases_of, run_case
from graders.state import last_scores, record_score
from tests.conftest import FIXTURES, run_cli

TINY = "foundation/01-tiny-lab"
LABEL = "partial grading (--only 2): not your score"


def report_json(folder: Path) -> dict[str, Any]:
    """The JSON report in ``folder``."""
    return dict(json.loads((folder / "report.json").read_text()))


def outcomes(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, outcome) of every check in a JSON report."""
    return [(check["id"], check["outcome"]) for check in report["checks"]]


# --- grade --only ---------------------------------------------------------------------------


def test_only_grades_the_check_and_what_it_requires_out_of_their_points(
    tiny_labs: Path, tmp_path: Path
) -> None:
    done = run_cli("grade", TINY, str(tiny_labs / TINY / "starter"), "--only", "2")
    assert done.returncode == 1, done.stdout + done.stderr  # check 2 fails on the starter
    assert f"Score: 2 / 5 (40 %) — {LABEL}" in done.stdout
    assert "only check 2 and the check it requires (1) ran" in done.stdout
    assert "The answer is not slow" not in done.stdout  # check 3 is not collected: no line
    out = tmp_path / "mlops-labs-home" / "reports" / "foundation-01-tiny-lab" / "partial"
    report = report_json(out)  # a partial grading's report does not replace the last whole one
    assert outcomes(report) == [
        ("test_answer_file_exists", "passed"),
        ("test_answer_is_42", "failed"),
    ]
    assert (report["score"], report["max_score"], report["status"]) == (2, 5, "complete")
    assert report["partial"] == {
        "only": [2],
        "required": [1],
        "checks": ["test_answer_file_exists", "test_answer_is_42"],
    }


def test_only_never_collects_the_other_checks(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "120")  # check 3 would hang past the time limit
    done = run_cli(
        "grade", TINY, "--reference", "--only", "1,test_answer_is_42", "--out", str(tmp_path),
        "--time-limit", "30",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr  # every check it ran passed
    report = report_json(tmp_path)
    assert report["status"] == "complete" and report["partial"]["only"] == [1, 2]
    assert report["partial"]["required"] == []
    assert [check for _, check in outcomes(report)] == ["passed", "passed"]
    assert "not run" not in done.stdout


def test_a_partial_grading_is_never_recorded_as_the_score(tiny_labs: Path, tmp_path: Path) -> None:
    starter = str(tiny_labs / TINY / "starter")
    run_cli("grade", TINY, starter, "--only", "3", "--out", str(tmp_path / "a"))
    assert last_scores() == {} and "—" in run_cli("list").stdout
    run_cli("grade", TINY, starter, "--out", str(tmp_path / "b"))  # a whole grading: 3/6
    run_cli("grade", TINY, str(tiny_labs / TINY / "solution"), "--only", "1,2,3")
    assert last_scores()[TINY]["score"] == 3  # the whole one stays, even after 6 of 6 partly
    assert "3/6" in run_cli("list").stdout


def test_the_check_id_and_the_number_name_the_same_check(
    tiny_labs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "graders"))
    by_number = select_checks(tiny_lab_object(), ["3"])
    by_id = select_checks(tiny_lab_object(), ["test_answer_is_not_slow"])
    assert by_number == by_id and by_number.ids == ("test_answer_is_not_slow",)
    assert (by_number.only, by_number.required) == ((3,), ())


@pytest.mark.parametrize(
    ("only", "says"),
    [
        (["--only", "9"], "--only 9: foundation/01-tiny-lab has no check 9; name one by the "
         "number of its acceptance criterion (1-3) or by its id (e.g. test_answer_file_exists)"),
        (["--only", "abc"], "--only abc: foundation/01-tiny-lab has no check abc;"),
        (["--only", "2,x"], "--only x: foundation/01-tiny-lab has no check x;"),
        (["--only", ""], "--only needs the number of a check"),
        (["--only", ","], "--only needs the number of a check"),
        (["--only"], "--only needs the number of a check"),
    ],
    ids=["unknown-number", "not-a-check", "one-of-two-unknown", "empty", "comma", "no-value"],
)  # fmt: skip
def test_bad_only_is_one_line_exit_2_no_traceback(
    tiny_labs: Path, tmp_path: Path, only: list[str], says: str
) -> None:
    done = run_cli("grade", TINY, "--reference", "--out", str(tmp_path), *only)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("mlops-labs: --only ") and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "report.json").exists()  # nothing was graded


def test_grade_help_documents_only() -> None:
    done = run_cli("grade", "--help")
    assert "--only" in done.stdout and "never recorded as your score" in " ".join(
        done.stdout.split()
    )


# --- the selection and the report -------------------------------------------------------------


CHAIN = '''
from graders.checks import check

@check(1, points=1, hint="h")
def test_builds():
    """Builds"""

@check(2, points=2, hint="h", requires=["test_builds"])
def test_starts():
    """Starts"""

@check(3, points=3, hint="h", requires=["test_starts"])
def test_serves():
    """Serves"""

@check(4, points=4, hint="h", hidden=True)
def test_secret():
    """Secret"""
'''


def chain_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    """A lab whose checks require each other in a chain: 1 <- 2 <- 3, and 4 alone (hidden)."""
    package = tmp_path / "graders_chain" / "chain_grader"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "checks.py").write_text(CHAIN)
    monkeypatch.syspath_prepend(str(package.parent))
    return Lab(
        id="foundation/09-chain", title="c", level="foundation", summary="s",
        grader="chain_grader", estimated_hours=1, time_limit_seconds=60,
        requires=Requirements(), path=tmp_path,
    )  # fmt: skip


def test_required_checks_are_selected_transitively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    selection = select_checks(chain_lab(tmp_path, monkeypatch), ["3", "4"])
    assert selection.ids == ("test_builds", "test_starts", "test_serves", "test_secret")
    assert (selection.only, selection.required) == ((3, 4), (1, 2))
    assert select_checks(chain_lab(tmp_path, monkeypatch), ["test_starts"]).only == (2,)


def test_a_narrowed_report_is_out_of_the_checks_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = chain_lab(tmp_path, monkeypatch)
    report = Report(lab={"id": lab.id}, submission="s", started_at="t", status=RunStatus.ERROR)
    report.record(CheckResult("test_builds", "Builds", 1, Outcome.PASSED, 1.0, 1.0))
    narrow(report, select_checks(lab, ["2"]))
    assert [(c.id, c.outcome.value) for c in report.checks] == [
        ("test_builds", "passed"),
        ("test_starts", "not run"),  # cut short: out of what it was to run, not the lab's 10
    ]
    assert (report.score, report.max_score, report.is_partial) == (1, 3, True)


def test_unknown_names_are_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = chain_lab(tmp_path, monkeypatch)
    with pytest.raises(BadInput, match=r"has no check 5; .* \(1-4\) or by its id \(e.g. test_b"):
        select_checks(lab, ["5"])
    with pytest.raises(BadInput, match="needs the number of a check"):
        select_checks(lab, [])


def partial_report() -> Report:
    return Report(
        lab={"id": TINY, "title": "Tiny", "level": "foundation"},
        submission="mine",
        started_at="2026-01-01T00:00:00+00:00",
        status=RunStatus.COMPLETE,
        checks=[
            CheckResult("test_answer_file_exists", "Exists", 1, Outcome.PASSED, 2.0, 2.0),
            CheckResult("test_answer_is_42", "Is 42", 2, Outcome.FAILED, 0.0, 3.0, "41", "42!"),
        ],
        partial={"only": [2], "required": [1], "checks": ["a", "b"]},
    )


def test_every_format_says_a_partial_grading_is_not_the_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    console = Console(record=True, width=200)
    written = emit(
        partial_report(),
        ["terminal", "json", "junit", "gradescope", "prairielearn", "github", "csv"],
        tmp_path,
        console,
    )
    assert LABEL in console.export_text()
    for path in written:
        text = path.read_text()
        assert LABEL in text or '"partial"' in text, path.name
    assert load_report(tmp_path / "report.json").partial == partial_report().partial
    csv = (tmp_path / "gradebook.csv").read_text().splitlines()
    assert csv[0].endswith(",partial") and csv[1].endswith(f",{LABEL}")


def test_a_whole_report_has_no_partial_field_and_a_class_gradebook_no_partial_score(
    tmp_path: Path,
) -> None:
    whole = partial_report()
    whole.partial = None
    whole.write(tmp_path / "report.json")
    assert "partial" not in json.loads((tmp_path / "report.json").read_text())
    book = render_class_gradebook([whole, partial_report()]).splitlines()
    assert book[0].endswith(",partial")
    assert book[1].split(",")[3:6] == ["2", "5", "40"] and book[1].endswith(",")
    assert book[2].split(",")[3:6] == ["", "5", ""]  # a partial grading is never a grade


def test_record_score_ignores_a_partial_grading() -> None:
    record_score(partial_report())
    assert last_scores() == {}


# --- red-team mistakes in the self-test ---------------------------------------------------------


def add_mutant(lab: Path, name: str, answer: str, toml: str) -> None:
    """A mutant of the tiny lab whose ``answer.txt`` reads ``answer``."""
    folder = lab / "mutants" / name
    folder.mkdir(parents=True)
    (folder / "mutant.toml").write_text(f'description = "{name}"\n{toml}')
    (folder / "mutant.patch").write_text(make_patch(lab / "solution", {"answer.txt": answer}))


@pytest.fixture
def tiny_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny lab with a mutant graded whole and a red-team mistake on check 2;
    mlops-labs pointed at it (its child and this process)."""
    lab = tmp_path / "labs" / "foundation" / "01-tiny-lab"
    shutil.copytree(FIXTURES / "labs" / TINY, lab)
    add_mutant(lab, "wrong-answer", "41\n", 'fails = ["test_answer_is_42"]\n')
    add_mutant(lab, "red-team-43", "43\n", 'fails = ["test_answer_is_42"]\nonly = [2]\n')
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(tmp_path / "labs"))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FIXTURES / "graders"), path]))
    )
    monkeypatch.syspath_prepend(str(FIXTURES / "graders"))
    return lab


def tiny_lab_object() -> Lab:
    """The tiny lab where ``MLOPS_LABS_ROOT`` points."""
    from graders.catalogue import find_lab

    return find_lab(TINY)


def test_a_red_team_mistake_is_graded_with_only_and_loses_its_target(
    tiny_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "120")  # check 3 would hang: it is never collected
    lab = tiny_lab_object()
    red_team, mutant = (
        next(m for m in mutants_of(lab) if m.name == name)
        for name in ("red-team-43", "wrong-answer")
    )
    assert (red_team.only, mutant.only) == (("2",), ())
    case = Case.of(red_team)
    assert case.kind == Kind.RED_TEAM and case.expected == "loses test_answer_is_42 (--only 2)"
    verdict = run_case(lab, case, tmp_path / "work")  # the path tests/test_truthfulness.py takes
    assert verdict.holds, verdict.explain()
    assert verdict.report.partial == {
        "only": [2],
        "required": [1],
        "checks": ["test_answer_file_exists", "test_answer_is_42"],
    }
    assert [(c.id, c.outcome) for c in verdict.report.checks] == [
        ("test_answer_file_exists", Outcome.PASSED),
        ("test_answer_is_42", Outcome.FAILED),
    ]
    assert [c.name for c in cases_of(lab, ["red-team"])] == ["red-team-43"]
    assert [c.name for c in cases_of(lab, ["mutants"])] == ["red-team-43", "wrong-answer"]


def test_selftest_grades_a_mutant_whole_and_a_red_team_mistake_with_only(
    tiny_lab: Path, tmp_path: Path
) -> None:
    done = run_cli("selftest", "tiny-lab", "--only", "mutants", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The contract holds: 2 cases." in done.stdout
    whole = report_json(tmp_path / "out" / "wrong-answer")
    assert "partial" not in whole and len(outcomes(whole)) == 3  # keeps the full contract
    red_team = report_json(tmp_path / "out" / "red-team-43")
    assert red_team["partial"]["only"] == [2] and len(outcomes(red_team)) == 2


DELETES_THE_ANSWER = """diff --git a/answer.txt b/answer.txt
deleted file mode 100644
--- a/answer.txt
+++ /dev/null
@@ -1 +0,0 @@
-42
"""


@pytest.mark.parametrize(
    ("answer", "toml", "verdict", "says"),
    [
        # the grader strips the answer: this "mistake" keeps the points of its target
        (" 42\n", 'fails = ["test_answer_is_42"]\nonly = [2]\n', "BROKEN",
         "aimed: aimed kept points it must lose: test_answer_is_42"),
        # it loses its target only because it breaks the check it requires (then blocked)
        ("", 'fails = ["test_answer_is_42"]\nonly = [2]\n', "BROKEN",
         "aimed also lost test_answer_file_exists"),
        (" 41\n", 'fails = ["test_answer_is_42"]\nonly = [3]\n', "BROKEN",
         "aimed must lose test_answer_is_42, which --only 3 does not grade"),
        ("41\n", 'fails = ["test_answer_is_42"]\nonly = [9]\n', "ERROR",
         "aimed/mutant.toml: only: --only 9: foundation/01-tiny-lab has no check 9;"),
    ],
    ids=["keeps-its-target", "blocked-not-caught", "target-not-graded", "unknown-check"],
)  # fmt: skip
def test_selftest_says_when_a_red_team_mistake_breaks_the_contract(
    tiny_lab: Path, answer: str, toml: str, verdict: str, says: str
) -> None:
    add_mutant(tiny_lab, "aimed", answer or "41\n", toml)
    if not answer:  # no answer file at all: check 1 fails, and blocks check 2
        (tiny_lab / "mutants" / "aimed" / "mutant.patch").write_text(DELETES_THE_ANSWER)
    done = run_cli("selftest", "tiny-lab", "--only", "aimed")
    assert done.returncode == (3 if verdict == "ERROR" else 1), done.stdout + done.stderr
    assert "The contract does not hold: 1 of 1 cases." in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ aimed "))
    assert verdict in row
    assert says in done.stdout


def test_a_malformed_only_in_a_mutant_toml_names_the_file(tiny_lab: Path) -> None:
    add_mutant(tiny_lab, "odd", "41\n", 'fails = ["test_answer_is_42"]\nonly = "2"\n')
    with pytest.raises(BadInput, match=r"odd/mutant.toml: not a mutant.toml .*'only' is a list"):
        mutants_of(tiny_lab_object())
