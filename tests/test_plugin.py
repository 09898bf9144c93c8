"""The pytest plugin: points, gates, partial credit, hidden checks, and error versus failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

HEADER = """
import pytest
from graders.checks import PartialCredit, check
from graders.errors import GraderError, LearnerFailure
"""


def grade_module(pytester: pytest.Pytester, body: str) -> dict[str, Any]:
    """Run ``body`` as a grader module through the plugin and return its JSON report."""
    pytester.makepyfile(test_grader=HEADER + body)
    report = pytester.path / "report.json"
    pytester.runpytest_subprocess("--mlops-report", str(report))
    return json.loads(report.read_text())


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in report["checks"]}


def test_passed_check_scores_its_points_and_title_comes_from_docstring(
    pytester: pytest.Pytester,
) -> None:
    report = grade_module(
        pytester,
        '''
@check(1, points=3, hint="h")
def test_ok():
    """It works"""
''',
    )
    ok = by_id(report)["test_ok"]
    assert (ok["outcome"], ok["points"], ok["max_points"], ok["title"]) == (
        "passed",
        3,
        3,
        "It works",
    )
    assert (report["score"], report["max_score"], report["status"]) == (3, 3, "complete")


def test_failed_check_scores_zero_and_carries_message_and_hint(pytester: pytest.Pytester) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=3, hint="Add a USER line.")
def test_user():
    assert 1 == 2, "the image runs as root"
""",
    )
    failed = by_id(report)["test_user"]
    assert failed["outcome"] == "failed" and failed["points"] == 0
    assert failed["message"] == "the image runs as root"
    assert failed["hint"] == "Add a USER line."


def test_check_whose_prerequisite_failed_is_blocked_and_does_not_run(
    pytester: pytest.Pytester,
) -> None:
    marker = pytester.path / "ran"
    report = grade_module(
        pytester,
        f"""
@check(1, points=5, hint="h")
def test_builds():
    '''The image builds'''
    assert False, "build failed"

@check(2, points=2, hint="h", requires=["test_builds"])
def test_serves():
    open({str(marker)!r}, "w").write("ran")
""",
    )
    blocked = by_id(report)["test_serves"]
    assert blocked["outcome"] == "blocked" and blocked["points"] == 0
    # named as the README names it, never by the internal test id
    assert "requires check 1 (The image builds), which did not pass" in blocked["message"]
    assert "test_builds" not in blocked["message"]
    assert not marker.exists()


def test_partial_credit_awards_the_fraction_with_its_reason(pytester: pytest.Pytester) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=8, hint="be faster")
def test_latency():
    raise PartialCredit(0.5, "p95 150 ms is over 100 ms")
""",
    )
    partial = by_id(report)["test_latency"]
    assert (partial["outcome"], partial["points"]) == ("partial", 4)
    assert partial["message"] == "p95 150 ms is over 100 ms"
    assert report["score"] == 4


def test_hidden_check_counts_and_is_flagged_hidden(pytester: pytest.Pytester) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=2, hint="h", hidden=True)
def test_secret():
    pass
""",
    )
    assert by_id(report)["test_secret"]["hidden"] is True
    assert report["score"] == 2


def test_grader_error_is_an_error_with_its_fix_not_a_failure(pytester: pytest.Pytester) -> None:
    report = grade_module(
        pytester,
        """
@pytest.fixture
def engine():
    raise GraderError("no Docker engine answers", "start Docker")

@check(1, points=2, hint="h")
def test_needs_engine(engine):
    pass
""",
    )
    errored = by_id(report)["test_needs_engine"]
    assert errored["outcome"] == "error"
    assert (
        "no Docker engine answers" in errored["message"]
        and "Fix: start Docker" in errored["message"]
    )
    assert report["status"] == "error"


def test_unexpected_exception_in_a_check_is_a_grader_error(pytester: pytest.Pytester) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=2, hint="h")
def test_buggy():
    {}["missing"]
""",
    )
    errored = by_id(report)["test_buggy"]
    assert errored["outcome"] == "error" and "KeyError" in errored["message"]
    assert "Fix: this is a bug in the grader" in errored["message"]
    assert report["status"] == "error"


def test_learner_failure_raised_by_a_fixture_is_a_failure(pytester: pytest.Pytester) -> None:
    report = grade_module(
        pytester,
        """
@pytest.fixture
def container():
    raise LearnerFailure("the container exited at start")

@check(1, points=2, hint="h")
def test_serves(container):
    pass
""",
    )
    failed = by_id(report)["test_serves"]
    assert (failed["outcome"], failed["message"]) == ("failed", "the container exited at start")
    assert report["status"] == "complete"


def test_skipped_check_keeps_its_points_in_max_score_but_scores_none(
    pytester: pytest.Pytester,
) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=2, hint="h")
def test_live():
    pytest.skip("no kind cluster: run `mlops-labs cluster up`")

@check(2, points=3, hint="h", requires=["test_live"])
def test_after_live():
    pass
""",
    )
    checks = by_id(report)
    assert checks["test_live"]["outcome"] == "skipped" and checks["test_live"]["points"] == 0
    assert checks["test_after_live"]["outcome"] == "skipped"
    assert (report["score"], report["max_score"]) == (0, 5)


def test_requiring_an_unknown_check_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_grader=HEADER
        + """
@check(1, points=2, hint="h", requires=["test_nope"])
def test_a():
    pass
"""
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*requires*test_nope*not earlier checks*"])


def test_report_is_rewritten_after_each_check(pytester: pytest.Pytester) -> None:
    report_path = pytester.path / "report.json"
    seen = pytester.path / "seen.json"
    pytester.makepyfile(
        test_grader=HEADER
        + f"""
import shutil

@check(1, points=1, hint="h")
def test_first():
    pass

@check(2, points=1, hint="h")
def test_second():
    shutil.copy({str(report_path)!r}, {str(seen)!r})
"""
    )
    pytester.runpytest_subprocess("--mlops-report", str(report_path))
    mid_run = json.loads(seen.read_text())
    assert mid_run["status"] == "running"
    outcomes = [(c["id"], c["outcome"]) for c in mid_run["checks"]]
    assert outcomes == [("test_first", "passed"), ("test_second", "not run")]
    assert (mid_run["score"], mid_run["max_score"]) == (1, 2)


def test_plain_pytest_run_ends_with_the_score(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_grader=HEADER
        + """
@check(1, points=2, hint="h")
def test_ok():
    pass
"""
    )
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*mlops-labs score: 2 / 2*"])


def test_recorded_properties_become_data_and_a_passed_checks_message(
    pytester: pytest.Pytester,
) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=1, hint="h")
def test_measured(record_property):
    record_property("p95_ms", 9.5)
    record_property("message", "p95 9.5 ms")

@check(2, points=1, hint="h")
def test_measured_then_failed(record_property):
    record_property("message", "p95 900 ms")
    assert False, "p95 is over 100 ms"
""",
    )
    checks = by_id(report)
    assert checks["test_measured"]["data"] == {"p95_ms": 9.5}
    assert checks["test_measured"]["message"] == "p95 9.5 ms"
    assert checks["test_measured_then_failed"]["message"] == "p95 is over 100 ms"


def test_check_marker_rejects_non_positive_points() -> None:
    from graders.checks import check

    with pytest.raises(ValueError):
        check(1, points=0, hint="h")


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    from graders.report import CheckResult, Outcome, Report, RunStatus, load_report

    report = Report(
        lab={"id": "x/01-y", "title": "t", "level": "x"},
        submission="s",
        started_at="2026-01-01T00:00:00+00:00",
        status=RunStatus.COMPLETE,
        checks=[CheckResult("test_a", "A", 1, Outcome.PARTIAL, 1.5, 3)],
    )
    report.write(tmp_path / "r.json")
    assert load_report(tmp_path / "r.json") == report


def test_multi_line_failure_message_keeps_its_lines_without_pytest_indent(
    pytester: pytest.Pytester,
) -> None:
    report = grade_module(
        pytester,
        """
@check(1, points=1, hint="h")
def test_inputs():
    problems = ["empty body: HTTP 500", "empty instances: HTTP 500"]
    assert not problems, "\\n".join(problems)
""",
    )
    assert (
        by_id(report)["test_inputs"]["message"] == "empty body: HTTP 500\nempty instances: HTTP 500"
    )
