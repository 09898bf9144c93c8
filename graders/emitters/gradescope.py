"""Gradescope autograder ``results.json``.

Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format
"""

from __future__ import annotations

import json
from typing import Any

from graders.emitters._common import (
    STATUS_EXPLANATIONS,
    UNFINISHED_STATUSES,
    feedback_text,
    first_lines,
    partial_explanation,
    public_name,
    score_line,
)
from graders.report import CheckResult, Outcome, Report, RunStatus

MESSAGE_LINES = 50


def summary_output(report: Report) -> str:
    """The short top-level text: score, what a partial grading graded, run status when
    incomplete, and run errors."""
    lines = [score_line(report)]
    if report.is_partial:
        lines.append(partial_explanation(report))
    if report.status != RunStatus.COMPLETE:
        lines.append(f"Run status: {report.status.value} ({STATUS_EXPLANATIONS[report.status]})")
    if report.status in UNFINISHED_STATUSES and report.errors:
        lines.extend(first_lines(error, MESSAGE_LINES) for error in report.errors)
    return "\n".join(lines)


def _name(check: CheckResult) -> str:
    """``"Title (id)"``; Gradescope shows the criterion number in front of it."""
    if check.hidden:
        return public_name(check)
    return f"{check.title} ({check.id})" if check.title else check.id


def _test(check: CheckResult) -> dict[str, Any]:
    """One entry of ``tests``."""
    return {
        "name": _name(check),
        "number": str(check.criterion),
        "score": check.points,
        "max_score": check.max_points,
        "status": "passed" if check.outcome == Outcome.PASSED else "failed",
        "output": feedback_text(check, line_limit=MESSAGE_LINES),
        "visibility": "after_published" if check.hidden else "visible",
    }


def gradescope_results(report: Report) -> dict[str, Any]:
    """The results as a JSON-ready dict."""
    return {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": int(round(report.duration)),
        "output": summary_output(report),
        "tests": [_test(check) for check in report.checks],
    }


def render_gradescope(report: Report) -> str:
    """Render the report as Gradescope's ``results.json`` text."""
    return json.dumps(gradescope_results(report), indent=2, ensure_ascii=False) + "\n"
