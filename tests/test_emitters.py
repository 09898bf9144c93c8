"""Tests for the report emitters (graders/emitters).

Every format is rendered from one fixed report and compared exactly with a golden file in
tests/golden/emitters/. After an intended change to an emitter, regenerate the golden files with

    .venv/bin/python tests/test_emitters.py

and review the diff (``git diff tests/golden``) before committing it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from graders.emitters import (
    FILE_NAMES,
    FORMATS,
    emit,
    print_report,
    render_classroom,
    render_github,
    render_gradebook,
    render_gradescope,
    render_junit,
    render_prairielearn,
)
from graders.emitters.classroom import SUMMARY_CHARS, classroom_payload
from graders.emitters.gradebook import FIXED_COLUMNS, gradebook_header, gradebook_row
from graders.report import CheckResult, Outcome, Report, RunStatus, load_report

GOLDEN = Path(__file__).parent / "golden" / "emitters"

HIDDEN_SECRETS = (
    "test_secret_not_baked",
    "No secrets baked into the image",
    "AWS_SECRET_ACCESS_KEY found in layer 3",
    "Pass credentials at run time",
    "layer-dump-SECRET-LOG",
)


def make_report() -> Report:
    """A fixed report with one check of every outcome, plus a hidden failed check."""
    return Report(
        lab={"id": "01-docker-basics", "title": "Containerise a model server"},
        submission="submissions/alice",
        started_at="2025-01-15T10:00:00+00:00",
        finished_at="2025-01-15T10:01:23+00:00",
        duration=83.4,
        status=RunStatus.ERROR,
        environment={"python": "3.11.9", "docker": "27.3.1"},
        errors=["test_metrics_endpoint: the Docker daemon stopped responding"],
        checks=[
            CheckResult(
                id="test_image_builds",
                title="The image builds",
                criterion=1,
                outcome=Outcome.PASSED,
                points=2.0,
                max_points=2.0,
                duration=12.5,
            ),
            CheckResult(
                id="test_image_is_small",
                title="The image is under 500 MB",
                criterion=2,
                outcome=Outcome.PARTIAL,
                points=1.0,
                max_points=2.0,
                message="The image is 812 MB; full credit needs less than 500 MB.",
                hint="Use a slim base image and a multi-stage build.",
                duration=0.25,
            ),
            CheckResult(
                id="test_healthcheck",
                title="The container reports its health | HEALTHCHECK",
                criterion=3,
                outcome=Outcome.FAILED,
                points=0.0,
                max_points=2.0,
                message="No HEALTHCHECK instruction in the Dockerfile.\n"
                "[bold]docker inspect[/bold] shows: ```{}```",
                hint="Add a HEALTHCHECK that runs `curl -f http://localhost:8000/health`.",
                duration=1.5,
                logs="\x1b[31mStep 1/7 : FROM python:3.11\x1b[0m",
            ),
            CheckResult(
                id="test_container_serves_predictions",
                title="The container serves predictions",
                criterion=4,
                outcome=Outcome.BLOCKED,
                points=0.0,
                max_points=3.0,
                message="Blocked by test_healthcheck.",
            ),
            CheckResult(
                id="test_runs_on_kind",
                title="The image runs on a kind cluster",
                criterion=5,
                outcome=Outcome.SKIPPED,
                points=0.0,
                max_points=1.0,
                message="No kind cluster is available.",
            ),
            CheckResult(
                id="test_metrics_endpoint",
                title="The server exposes /metrics",
                criterion=6,
                outcome=Outcome.ERROR,
                points=0.0,
                max_points=1.0,
                message="Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
                duration=30.0,
            ),
            CheckResult(
                id="test_secret_not_baked",
                title="No secrets baked into the image",
                criterion=7,
                outcome=Outcome.FAILED,
                points=0.0,
                max_points=2.0,
                message="AWS_SECRET_ACCESS_KEY found in layer 3",
                hint="Pass credentials at run time",
                hidden=True,
                duration=2.0,
                logs="layer-dump-SECRET-LOG",
            ),
            CheckResult(
                id="test_sigterm",
                title="The container stops cleanly on SIGTERM",
                criterion=8,
                outcome=Outcome.NOT_RUN,
                points=0.0,
                max_points=1.0,
            ),
        ],
    )


def recording_console() -> Console:
    """A 100-column console that records instead of printing."""
    return Console(record=True, width=100, file=io.StringIO())


def exported_text(console: Console) -> str:
    """The console's recorded plain text, without the padding rich leaves at line ends.

    (Trailing spaces are stripped so editors and whitespace hooks cannot break the golden file.)
    """
    return "".join(line.rstrip() + "\n" for line in console.export_text().splitlines())


def render_terminal(report: Report) -> str:
    """The terminal report as plain text, 100 columns wide."""
    console = recording_console()
    print_report(report, console)
    return exported_text(console)


def render_json(report: Report, directory: Path) -> str:
    """The JSON report exactly as ``Report.write`` produces it."""
    path = directory / "report.json"
    report.write(path)
    return path.read_text(encoding="utf-8")


RENDERERS: dict[str, Callable[[Report], str]] = {
    "terminal.txt": render_terminal,
    FILE_NAMES["junit"]: render_junit,
    FILE_NAMES["gradescope"]: render_gradescope,
    FILE_NAMES["prairielearn"]: render_prairielearn,
    FILE_NAMES["github"]: render_github,
    FILE_NAMES["classroom"]: render_classroom,
    FILE_NAMES["csv"]: render_gradebook,
}

#: Formats a learner may see (the CSV gradebook and the JSON report are for instructors).
LEARNER_FACING = sorted(set(RENDERERS) - {FILE_NAMES["csv"]})


def golden(name: str) -> str:
    """A golden file's text (read without newline translation)."""
    return (GOLDEN / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never append to a real GitHub step summary or step output when these tests run in GitHub
    Actions."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)


# --- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_rendered_format_matches_golden_file(name: str) -> None:
    """Each learner/CI format renders byte for byte as its golden file."""
    assert RENDERERS[name](make_report()) == golden(name)


def test_json_report_matches_golden_file(tmp_path: Path) -> None:
    """Report.write produces the golden report.json."""
    assert render_json(make_report(), tmp_path) == golden(FILE_NAMES["json"])


def test_json_report_keeps_hidden_check_details(tmp_path: Path) -> None:
    """The JSON report is for instructors: hidden checks keep their message, hint and logs."""
    report = load_report(GOLDEN / FILE_NAMES["json"])
    hidden = [check for check in report.checks if check.hidden]
    assert [check.id for check in hidden] == ["test_secret_not_baked"]
    assert hidden[0].message and hidden[0].hint and hidden[0].logs
    assert report == make_report()


# --- Gradescope -----------------------------------------------------------------------------


def test_gradescope_results_have_the_required_fields() -> None:
    """Top level: score, max_score, int execution_time, output; each test the documented keys."""
    results = json.loads(render_gradescope(make_report()))
    assert results["score"] == 3.0
    assert results["max_score"] == 14.0
    assert isinstance(results["execution_time"], int)
    assert results["execution_time"] == 83
    assert isinstance(results["output"], str)
    assert len(results["tests"]) == 8
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
    assert [test["number"] for test in results["tests"]] == ["1", "2", "3", "4", "5", "6", "7", "8"]


def test_gradescope_marks_only_passed_checks_as_passed() -> None:
    """Partial, blocked, skipped and error checks are all "failed" for Gradescope."""
    report = make_report()
    results = json.loads(render_gradescope(report))
    statuses = {
        check.outcome: test["status"]
        for check, test in zip(report.checks, results["tests"], strict=True)
    }
    assert statuses.pop(Outcome.PASSED) == "passed"
    assert set(statuses.values()) == {"failed"}


def test_gradescope_shows_hidden_checks_after_publication_only() -> None:
    """Hidden checks get visibility "after_published"; the others are "visible"."""
    results = json.loads(render_gradescope(make_report()))
    visibility = {test["name"]: test["visibility"] for test in results["tests"]}
    assert visibility.pop("Hidden check 7") == "after_published"
    assert set(visibility.values()) == {"visible"}


# --- PrairieLearn ---------------------------------------------------------------------------


def test_prairielearn_results_have_the_required_fields() -> None:
    """gradable, a 0..1 score, a message, and tests with name/points/max_points/message."""
    results = json.loads(render_prairielearn(make_report()))
    assert results["gradable"] is True
    assert 0.0 <= results["score"] <= 1.0
    assert results["score"] == pytest.approx(3 / 14)
    assert isinstance(results["message"], str)
    for test in results["tests"]:
        assert {"name", "points", "max_points", "message", "output"} <= set(test)
        assert 0 <= test["points"] <= test["max_points"]


@pytest.mark.parametrize("status", [RunStatus.ERROR, RunStatus.TIMED_OUT, RunStatus.INTERRUPTED])
def test_prairielearn_is_not_gradable_when_the_run_broke_before_any_check_ran(
    status: RunStatus,
) -> None:
    """A broken run whose checks were all blocked/skipped/errored is a grading failure."""
    report = make_report()
    report.status = status
    report.checks = [
        c for c in report.checks if c.outcome in (Outcome.BLOCKED, Outcome.ERROR, Outcome.NOT_RUN)
    ]
    assert json.loads(render_prairielearn(report))["gradable"] is False


@pytest.mark.parametrize(
    "name", ["terminal", "junit", "gradescope", "prairielearn", "github", "classroom", "csv"]
)
def test_a_check_that_never_ran_is_shown_as_not_run_and_scores_zero_of_its_points(
    name: str,
) -> None:
    """A grading cut short scores out of the full total: its unfinished checks say *not run*."""
    report = make_report()
    report.status = RunStatus.TIMED_OUT
    assert report.max_score == 14  # the not-run check's point counts in the total
    rendered = {
        "terminal": render_terminal,
        "junit": render_junit,
        "gradescope": render_gradescope,
        "prairielearn": render_prairielearn,
        "github": render_github,
        "classroom": render_classroom,
        "csv": render_gradebook,
    }[name](report)
    assert "not run" in rendered
    if name == "gradescope":
        sigterm = [t for t in json.loads(rendered)["tests"] if "test_sigterm" in t["name"]][0]
        assert (sigterm["score"], sigterm["max_score"], sigterm["status"]) == (0, 1, "failed")


def test_prairielearn_is_gradable_when_a_timed_out_run_finished_some_checks() -> None:
    """Partial credit from a timed-out run is kept."""
    report = make_report()
    report.status = RunStatus.TIMED_OUT
    assert json.loads(render_prairielearn(report))["gradable"] is True


def test_prairielearn_scores_zero_when_nothing_was_graded() -> None:
    """No checks (max score 0) gives score 0 rather than a division by zero."""
    report = make_report()
    report.status = RunStatus.COMPLETE
    report.checks = []
    results = json.loads(render_prairielearn(report))
    assert results["score"] == 0.0
    assert results["gradable"] is True


# --- GitHub Classroom -----------------------------------------------------------------------
#
# ``reporter_reads`` re-implements what classroom-resources/autograding-grading-reporter (commit
# 43c2d9f524d3c7926caf7cb4fee34200b40b8c26: src/main.js, src/console-results.js,
# src/notify-classroom.js, src/helpers/test-helpers.js) does with the runners' step outputs, with
# JavaScript's semantics where they matter (a missing ``line_no`` is not 0; a missing score is NaN).


def _js_number(value: float) -> str:
    """A number as JavaScript's template strings print it (``3`` for 3.0)."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def reporter_reads(env: dict[str, str], runners: str) -> tuple[list[str], str | None, str | None]:
    """The reporter's log lines, its "Points X/Y" notice (Classroom's grade; None when it posts
    none) and the job failure it sets (None when it passes)."""
    runner_results = []
    for runner in runners.split(","):
        encoded = env[f"{runner.strip().upper()}_RESULTS"]
        results = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
        assert results["status"] in ("pass", "fail", "error")
        assert isinstance(results["tests"], list) and results["tests"], "score / tests.length"
        runner_results.append((runner, results))
    log: list[str] = []
    for runner, results in runner_results:
        log.append(f"🔄 Processing: {runner}")
        for test in results["tests"]:
            assert isinstance(test["name"], str) and test["status"] in ("pass", "fail", "error")
            line = f" - line {test.get('line_no', 'undefined')}" if test.get("line_no") != 0 else ""
            if test["status"] == "pass":
                log.append(f"✅ {test['name']}{line}")
            elif test["status"] == "error":
                fallback = f"Failed to run test '{test['name']}'"
                log.append(f"Error: {test.get('message') or fallback}")
            else:
                log.append(f"❌ {test['name']}{line}")
            if test.get("test_code"):
                log.append(f"Test code:\n{test['test_code']}")
        max_score = results.get("max_score") or 0
        passed = sum(test["status"] == "pass" for test in results["tests"])
        if max_score:  # getTestScore: the share of tests passed, not their scores
            table_score = passed / len(results["tests"]) * max_score
            log.append(f"Total points for {runner}: {table_score:.2f}/{_js_number(max_score)}")
    total, maximum = 0.0, 0.0
    for _, results in runner_results:
        if not results.get("max_score"):
            continue
        maximum += results["max_score"]
        for test in results["tests"]:
            assert type(test["score"]) in (int, float), "a missing score makes the total NaN"
            total += test["score"]
    notice = f"Points {_js_number(total)}/{_js_number(maximum)}" if maximum else None
    statuses = {results["status"] for _, results in runner_results}
    failure = "Some tests failed." if "fail" in statuses else None
    if failure is None and "error" in statuses:
        failure = "Some tests errored."
    return log, notice, failure


def github_output(path: Path) -> dict[str, str]:
    """The one-line ``name=value`` outputs of a ``$GITHUB_OUTPUT`` file (last one wins)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_classroom_payload_decodes_as_the_reporter_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step ``mlops-labs`` → env ``MLOPS-LABS_RESULTS`` → Classroom gets the lab's total and the
    log one line per check; the errored run fails the job."""
    output = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    emit(make_report(), ["classroom"], tmp_path / "out")
    env = {"MLOPS-LABS_RESULTS": github_output(output)["result"]}
    log, notice, failure = reporter_reads(env, "mlops-labs")
    assert notice == "Points 3/14"
    assert failure == "Some tests errored."
    checks = [line for line in log if line.startswith(("✅", "❌", "Error: "))]
    assert checks == [
        "✅ Criterion 1: The image builds (2/2 points)",
        "❌ Criterion 2: The image is under 500 MB — partial (1/2 points)",
        "❌ Criterion 3: The container reports its health | HEALTHCHECK (0/2 points)",
        "❌ Criterion 4: The container serves predictions — blocked (0/3 points)",
        "❌ Criterion 5: The image runs on a kind cluster — skipped (0/1 points)",
        "Error: Criterion 6: The server exposes /metrics — error (0/1 points): The grader or the "
        "environment broke while running this check; this is not a problem with your work.\n"
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
        "❌ Hidden check 7 (0/2 points)",
        "❌ Criterion 8: The container stops cleanly on SIGTERM — not run (0/1 points)",
    ]
    assert "Test code:\nmlops-labs grade 01-docker-basics . --only 3" in log
    assert "Total points for mlops-labs: 1.75/14" in log  # the reporter's own pass-share figure
    decoded = json.loads(base64.b64decode(env["MLOPS-LABS_RESULTS"]))
    assert decoded == json.loads(golden(FILE_NAMES["classroom"]))


@pytest.mark.parametrize(
    ("status", "outcome", "expected"),
    [
        (RunStatus.COMPLETE, Outcome.PASSED, ("pass", None, "Points 14/14")),
        (RunStatus.COMPLETE, Outcome.FAILED, ("fail", "Some tests failed.", "Points 12/14")),
        (RunStatus.TIMED_OUT, Outcome.PASSED, ("error", "Some tests errored.", "Points 14/14")),
    ],
)
def test_classroom_status_is_pass_only_for_full_marks_and_error_for_an_unfinished_run(
    status: RunStatus, outcome: Outcome, expected: tuple[str, str | None, str]
) -> None:
    """Full marks pass the reporter's job; lost points fail it; an unfinished run errors it."""
    report = make_report()
    report.status = status
    for check in report.checks:
        check.outcome, check.points = Outcome.PASSED, check.max_points
    first = report.checks[0]
    first.outcome, first.points = outcome, first.max_points if outcome == Outcome.PASSED else 0.0
    _, notice, failure = reporter_reads({"ML_RESULTS": classroom_payload(report)}, "ml")
    assert (json.loads(render_classroom(report))["status"], failure, notice) == expected


def test_classroom_gives_no_points_when_the_run_broke_before_any_check_ran() -> None:
    """Like PrairieLearn's "not gradable": max_score 0, so Classroom records no zero."""
    report = make_report()
    report.checks = [c for c in report.checks if c.outcome in (Outcome.ERROR, Outcome.NOT_RUN)]
    log, notice, failure = reporter_reads({"ML_RESULTS": classroom_payload(report)}, "ml")
    assert (notice, failure) == (None, "Some tests errored.")
    assert len([line for line in log if line.startswith(("❌", "Error: "))]) == 2


def test_classroom_report_without_checks_still_has_one_test_for_the_reporter() -> None:
    """No checks: one "error" test saying so (the reporter divides by the number of tests)."""
    report = make_report()
    report.checks = []
    log, notice, _ = reporter_reads({"ML_RESULTS": classroom_payload(report)}, "ml")
    assert notice is None
    assert any(line.startswith("Error: No check ran.") for line in log)


def test_classroom_partial_grading_names_every_test_partial() -> None:
    """An --only grading is out of what it ran, and every line says it is not the score."""
    report = make_report()
    report.checks = report.checks[:2]
    report.status = RunStatus.COMPLETE
    report.partial = {"only": [2], "required": [1], "checks": [c.id for c in report.checks]}
    log, notice, _ = reporter_reads({"ML_RESULTS": classroom_payload(report)}, "ml")
    assert notice == "Points 3/4"
    names = [line for line in log if line.startswith(("✅", "❌"))]
    assert len(names) == 2
    assert all(name.endswith("— partial grading (--only 2): not your score") for name in names)


def test_classroom_payload_stays_far_below_the_environment_variable_limit() -> None:
    """Huge messages are clipped: the reporter reads the payload from one env variable."""
    report = make_report()
    for check in report.checks:
        check.message = "x" * 100 + "\n" + "y" * 500_000
    report.errors = ["z" * 500_000]
    payload = classroom_payload(report)
    assert len(payload) < 64 * 1024
    decoded = json.loads(base64.b64decode(payload))
    assert len(decoded["message"]) <= SUMMARY_CHARS
    assert decoded["tests"][1]["message"].endswith("… (clipped)")


def test_emit_appends_the_classroom_result_to_github_output_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$GITHUB_OUTPUT gets one ``result=<base64>`` line after earlier outputs, on a line of its
    own even when the earlier content lacks its final newline; $GITHUB_STEP_SUMMARY is untouched."""
    output = tmp_path / "github-output"
    output.write_text("earlier=1", encoding="utf-8")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    written = emit(make_report(), ["classroom"], tmp_path / "out")
    assert written == [tmp_path / "out" / "classroom-results.json"]
    lines = output.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "earlier=1" and lines[-1] == "" and len(lines) == 3
    assert lines[1] == f"result={classroom_payload(make_report())}"
    assert json.loads(base64.b64decode(lines[1].removeprefix("result="))) == json.loads(
        golden("classroom-results.json")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["github-output", "out"]


# --- JUnit ----------------------------------------------------------------------------------


def test_junit_parses_and_its_counts_add_up() -> None:
    """The testsuite's counters match its testcases' failure/error/skipped children."""
    root = ET.fromstring(render_junit(make_report()))
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "01-docker-basics"
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases) == 8
    assert int(suite.get("failures", "-1")) == sum(c.find("failure") is not None for c in cases)
    assert int(suite.get("errors", "-1")) == sum(c.find("error") is not None for c in cases)
    assert int(suite.get("skipped", "-1")) == sum(c.find("skipped") is not None for c in cases)
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("3", "1", "3")
    assert float(suite.get("time", "-1")) == pytest.approx(83.4)
    assert {case.get("classname") for case in cases} == {"01-docker-basics"}


def test_junit_records_points_per_testcase() -> None:
    """Every testcase carries its points and max_points as properties."""
    root = ET.fromstring(render_junit(make_report()))
    points = []
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        points.append((case.get("name"), props["points"], props["max_points"]))
    assert points[0] == ("01 test_image_builds", "2", "2")
    assert points[1] == ("02 test_image_is_small", "1", "2")
    assert points[-2] == ("Hidden check 7", "0", "2")
    assert points[-1] == ("08 test_sigterm", "0", "1")


def test_junit_strips_characters_xml_cannot_hold() -> None:
    """ANSI escapes in logs do not make the document unparsable."""
    report = make_report()
    report.checks[2].message += "\x1b[0m\x00\x07"
    text = render_junit(report)
    ET.fromstring(text)
    assert "\x1b" not in text and "[31m" not in text


# --- CSV gradebook --------------------------------------------------------------------------


def test_gradebook_csv_parses_back_with_one_column_per_check() -> None:
    """Header plus one row; one "NN check_id" column per check holding its points."""
    report = make_report()
    rows = list(csv.reader(io.StringIO(render_gradebook(report))))
    assert len(rows) == 2
    header, row = rows
    assert header == gradebook_header(report)
    assert row == gradebook_row(report)
    assert header[: len(FIXED_COLUMNS)] == list(FIXED_COLUMNS)
    assert len(header) == len(row) == len(FIXED_COLUMNS) + len(report.checks)
    assert header[len(FIXED_COLUMNS)] == "01 test_image_builds"
    by_column = dict(zip(header, row, strict=True))
    assert by_column["02 test_image_is_small"] == "1"
    assert (by_column["score"], by_column["max_score"], by_column["status"]) == ("3", "14", "error")


# --- hidden checks and the terminal ---------------------------------------------------------


@pytest.mark.parametrize("name", LEARNER_FACING)
def test_hidden_check_leaks_no_title_message_hint_or_logs(name: str) -> None:
    """Learner-facing formats show a hidden check only as "Hidden check N"."""
    text = RENDERERS[name](make_report())
    assert "Hidden check 7" in text
    for secret in HIDDEN_SECRETS:
        assert secret not in text


def test_terminal_shows_the_hint_under_a_failed_check() -> None:
    """The failed check's message and hint follow its title, before the next check."""
    text = render_terminal(make_report())
    title = text.index("The container reports its health")
    message = text.index("No HEALTHCHECK instruction in the Dockerfile.")
    hint = text.index("Hint: Add a HEALTHCHECK")
    next_check = text.index("The container serves predictions")
    assert title < message < hint < next_check


def test_terminal_shows_score_status_and_run_errors() -> None:
    """An errored run prints the total, the run status and the run's errors."""
    text = render_terminal(make_report())
    assert "Score: 3 / 14 (21.43 %)" in text
    assert "Run status: error" in text
    assert "the Docker daemon stopped responding" in text


def test_terminal_prints_no_run_status_for_a_complete_run() -> None:
    """A complete run prints the score but neither status nor errors."""
    report = make_report()
    report.status = RunStatus.COMPLETE
    text = render_terminal(report)
    assert "Score: 3 / 14" in text
    assert "Run status" not in text
    assert "stopped responding" not in text


# --- emit -----------------------------------------------------------------------------------


def test_emit_writes_exactly_the_expected_files(tmp_path: Path) -> None:
    """Every file format lands in out_dir under its name, matching the golden files."""
    out_dir = tmp_path / "out"
    console = recording_console()
    written = emit(make_report(), FORMATS, out_dir, console=console)
    assert written == [out_dir / FILE_NAMES[name] for name in FORMATS if name != "terminal"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(FILE_NAMES.values())
    for path in written:
        assert path.read_text(encoding="utf-8") == golden(path.name)
    assert exported_text(console) == golden("terminal.txt")


def test_emit_rejects_an_unknown_format_before_writing_anything(tmp_path: Path) -> None:
    """An unknown name raises ValueError listing the choices, and no file is written."""
    out_dir = tmp_path / "out"
    with pytest.raises(ValueError, match=r"unknown report format 'pdf' \(choose from: terminal, "):
        emit(make_report(), ["json", "pdf"], out_dir)
    assert not out_dir.exists()


def test_emit_appends_to_the_github_step_summary_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$GITHUB_STEP_SUMMARY gets the markdown appended after earlier steps' summaries."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    written = emit(make_report(), ["github"], tmp_path / "out")
    assert written == [tmp_path / "out" / "step-summary.md"]
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + golden("step-summary.md")


def test_emit_leaves_step_summary_and_github_output_alone_when_unset(tmp_path: Path) -> None:
    """Without $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT only the files in out_dir are written."""
    emit(make_report(), ["github", "classroom"], tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "classroom-results.json",
        "step-summary.md",
    ]


def regenerate_goldens() -> None:
    """Rewrite every golden file from the current emitters (see the module docstring)."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    report = make_report()
    for name, render in RENDERERS.items():
        (GOLDEN / name).write_text(render(report), encoding="utf-8", newline="")
    render_json(report, GOLDEN)


if __name__ == "__main__":
    regenerate_goldens()
