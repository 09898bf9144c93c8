"""PrairieLearn external-grader ``results.json``.

Format: https://prairielearn.readthedocs.io/en/latest/externalGrading/#grading-results

``gradable`` is false only when the run did not finish (status error, timed-out, interrupted or
still running) *and* no check actually ran (none passed, partially passed or failed): PrairieLearn
then reports a grading failure instead of recording a zero. Any check that ran makes the
submission gradable, so partial credit from a timed-out run is kept.
"""

from __future__ import annotations

import json
from typing import Any

from graders.emitters._common import (
    UNFINISHED_STATUSES,
    feedback_text,
    public_name,
)
from graders.emitters.gradescope import summary_output
from graders.report import CheckResult, Outcome, Report, RunStatus

MESSAGE_LINES = 50

_RAN = frozenset({Outcome.PASSED, Outcome.PARTIAL, Outcome.FAILED})


def is_gradable(report: Report) -> bool:
    """True unless the run broke before any check ran (see the module docstring)."""
    finished = report.status not in UNFINISHED_STATUSES | {RunStatus.RUNNING}
    return finished or any(check.outcome in _RAN for check in report.checks)


def fraction(report: Report) -> float:
    """Score as a fraction in 0..1 (0 when there is nothing to score)."""
    if not report.max_score:
        return 0.0
    return min(1.0, max(0.0, report.score / report.max_score))


def _test(check: CheckResult) -> dict[str, Any]:
    """One entry of ``tests``."""
    return {
        "name": public_name(check),
        "description": "" if check.hidden else check.title,
        "points": check.points,
        "max_points": check.max_points,
        "message": check.outcome.value,
        "output": feedback_text(check, line_limit=MESSAGE_LINES),
    }


def prairielearn_results(report: Report) -> dict[str, Any]:
    """The results as a JSON-ready dict."""
    return {
        "gradable": is_gradable(report),
        "score": fraction(report),
        "message": summary_output(report),
        "tests": [_test(check) for check in report.checks],
    }


def render_prairielearn(report: Report) -> str:
    """Render the report as PrairieLearn's ``results.json`` text."""
    return json.dumps(prairielearn_results(report), indent=2, ensure_ascii=False) + "\n"
