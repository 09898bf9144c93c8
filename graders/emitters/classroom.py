"""GitHub Classroom autograding: the JSON a runner hands to ``autograding-grading-reporter``.

A Classroom workflow step (``id: mlops-labs``) runs ``mlops-labs grade LAB . --format classroom``;
``emit`` writes ``classroom-results.json`` and appends ``result=<base64 of the JSON>`` to
``$GITHUB_OUTPUT``. The reporter step (``runners: mlops-labs``) reads the env variable
``MLOPS-LABS_RESULTS`` (the runner id upper-cased, then ``_RESULTS``), base64-decodes it, parses
the JSON and reads: ``status`` ("pass"/"fail"/"error": "fail" or "error" fails the job),
``max_score`` (a runner with a falsy one is left out of the points), and per test ``name``,
``status``, ``score`` (summed into Classroom's "Points X/Y"), ``line_no`` (0: no "- line N"),
``message`` (printed for an "error" test, in place of its name) and ``test_code`` (printed when not
empty). Keys as the official runners emit them (``autograding-command-grader``, version 1), plus
each test's ``max_score``.

One test per check, in report order: ``"Criterion N: title (x/y points)"``, with the outcome when
it is neither passed nor failed; a hidden check is only ``"Hidden check N"`` and its outcome.
Only a passed check is "pass"; a check the grader or environment broke is "error"; every other
outcome (partial, failed, blocked, skipped, not run) is "fail" and scores what it earned.

``max_score`` is the lab's total (a partial grading's: the points of what it ran, and every test
name says it is partial). It is 0 — Classroom then records no points, rather than a zero that is
not the learner's — only when the run broke before any check ran (PrairieLearn's "not gradable").
The reporter reads the payload from an environment variable, so messages are clipped to keep it
far below Linux's 128 KiB limit for one.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from graders.emitters._common import (
    UNFINISHED_STATUSES,
    feedback_text,
    format_points,
    hidden_label,
    lab_id,
    partial_label,
)
from graders.emitters.gradescope import summary_output
from graders.emitters.prairielearn import is_gradable
from graders.report import CheckResult, Outcome, Report, RunStatus

#: The payload format version (that of ``autograding-command-grader``, whose keys these are).
VERSION = 1
MESSAGE_LINES = 20
#: Characters kept of one test's message, and of the top-level message.
MESSAGE_CHARS = 2000
SUMMARY_CHARS = 4000

#: Outcomes the name leaves out (the reporter's ✅ and ❌ already say passed and failed).
_SILENT_OUTCOMES = frozenset({Outcome.PASSED, Outcome.FAILED})


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked when cut."""
    marker = " … (clipped)"
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def check_name(check: CheckResult, report: Report) -> str:
    """The line the reporter prints for the check, e.g.
    ``"Criterion 2: The image is under 500 MB — partial (1/2 points)"``."""
    name = hidden_label(check) if check.hidden else f"Criterion {check.criterion}: "
    if not check.hidden:
        name += check.title or check.id
    if check.outcome not in _SILENT_OUTCOMES:
        name += f" — {check.outcome.value}"
    name += f" ({format_points(check)} points)"
    if report.is_partial:
        name += f" — {partial_label(report)}"
    return name


def check_status(check: CheckResult) -> str:
    """``"pass"``, ``"error"`` (the grader or environment broke) or ``"fail"``."""
    if check.outcome == Outcome.PASSED:
        return "pass"
    return "error" if check.outcome == Outcome.ERROR else "fail"


def run_status(report: Report) -> str:
    """The runner's status: ``"error"`` for a run that did not finish or errored, ``"pass"`` for
    full marks, otherwise ``"fail"``."""
    if report.status in UNFINISHED_STATUSES | {RunStatus.RUNNING}:
        return "error"
    return "pass" if report.full_marks else "fail"


def _message(check: CheckResult, name: str) -> str:
    """The feedback; an "error" test's starts with its name (the reporter prints only this)."""
    feedback = feedback_text(check, line_limit=MESSAGE_LINES)
    if check_status(check) == "error":
        feedback = f"{name}: {feedback}" if feedback else name
    return _clip(feedback, MESSAGE_CHARS)


def _test_code(check: CheckResult, report: Report) -> str:
    """How to re-run a visible check that lost points alone (``""`` otherwise)."""
    if check.hidden or not check.lost_points:
        return ""
    return f"mlops-labs grade {lab_id(report)} . --only {check.criterion}"


def _test(check: CheckResult, report: Report) -> dict[str, Any]:
    """One entry of ``tests``."""
    name = check_name(check, report)
    return {
        "name": name,
        "status": check_status(check),
        "score": check.points,
        "max_score": check.max_points,
        "message": _message(check, name),
        "test_code": _test_code(check, report),
        "filename": "",
        "line_no": 0,
        "duration": round(check.duration, 3),
    }


def _no_check(report: Report) -> dict[str, Any]:
    """The one "error" test of a report without checks (the reporter divides by their count)."""
    return {
        "name": "No check ran",
        "status": "error",
        "score": 0,
        "max_score": 0,
        "message": _clip(f"No check ran.\n{summary_output(report)}", MESSAGE_CHARS),
        "test_code": "",
        "filename": "",
        "line_no": 0,
        "duration": 0,
    }


def classroom_results(report: Report) -> dict[str, Any]:
    """The results as a JSON-ready dict (see the module docstring)."""
    tests = [_test(check, report) for check in report.checks] or [_no_check(report)]
    return {
        "version": VERSION,
        "status": run_status(report),
        "max_score": report.max_score if is_gradable(report) else 0,
        "message": _clip(summary_output(report), SUMMARY_CHARS),
        "tests": tests,
    }


def render_classroom(report: Report) -> str:
    """Render the report as the runner JSON (``classroom-results.json``)."""
    return json.dumps(classroom_results(report), indent=2, ensure_ascii=False) + "\n"


def classroom_payload(report: Report) -> str:
    """The step output ``result``: base64 of the same JSON, compact, as the runners encode it."""
    compact = json.dumps(classroom_results(report), ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(compact.encode("utf-8")).decode("ascii")
