"""Small helpers shared by the emitters: labels, point formatting, hidden-check rules."""

from __future__ import annotations

from graders.report import CheckResult, Outcome, Report, RunStatus

#: One-line explanations of the outcomes that are not plain pass/fail.
OUTCOME_EXPLANATIONS: dict[Outcome, str] = {
    Outcome.BLOCKED: "Did not run: a check it depends on did not pass. Fix that one first.",
    Outcome.SKIPPED: (
        "Did not run: the grading environment lacks something this check needs. "
        "A skipped check never counts as passed."
    ),
    Outcome.ERROR: (
        "The grader or the environment broke while running this check; "
        "this is not a problem with your work."
    ),
    Outcome.NOT_RUN: (
        "Did not run: the grading stopped before this check (the time limit, an interruption, "
        "a grader error, or a submission refused as it was copied: see the notes). It scores 0 "
        "of its points."
    ),
}

#: Run statuses after which the report holds only part of the checks.
UNFINISHED_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.ERROR, RunStatus.TIMED_OUT, RunStatus.INTERRUPTED}
)

STATUS_EXPLANATIONS: dict[RunStatus, str] = {
    RunStatus.RUNNING: "the run did not finish (it is still going, or was killed)",
    RunStatus.COMPLETE: "every check ran",
    RunStatus.ERROR: "the grader or the environment broke during the run",
    RunStatus.TIMED_OUT: "the lab's time limit ran out; the checks that had not run score 0",
    RunStatus.INTERRUPTED: "the run was interrupted; the checks that had not run score 0",
}


def lab_id(report: Report) -> str:
    """The lab's identifier, or ``"lab"`` when the report does not name one."""
    return report.lab.get("id") or "lab"


def lab_title(report: Report) -> str:
    """The lab's human title (may be empty)."""
    return report.lab.get("title", "")


def lab_heading(report: Report) -> str:
    """``"<id> — <title>"``, or just the id when there is no title."""
    title = lab_title(report)
    return f"{lab_id(report)} — {title}" if title else lab_id(report)


def hidden_label(check: CheckResult) -> str:
    """The only name a hidden check is shown under in learner-facing output."""
    return f"Hidden check {check.criterion}"


def check_key(check: CheckResult) -> str:
    """``"NN id"``: the criterion number, zero-padded, then the check id."""
    return f"{check.criterion:02d} {check.id}"


def public_name(check: CheckResult) -> str:
    """The check's learner-facing name: its key, or the hidden label."""
    return hidden_label(check) if check.hidden else check_key(check)


def format_number(value: float) -> str:
    """Format points without noise: ``2.0`` → ``"2"``, ``1.5`` → ``"1.5"``, ``1/3`` → ``"0.33"``."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_points(check: CheckResult) -> str:
    """``"x/y"`` for one check."""
    return f"{format_number(check.points)}/{format_number(check.max_points)}"


def score_line(report: Report) -> str:
    """``"Score: S / M (P %)"`` for the whole report; a partial grading's adds
    ``" — partial grading (--only N): not your score"``."""
    line = (
        f"Score: {format_number(report.score)} / {format_number(report.max_score)} "
        f"({format_number(report.percent)} %)"
    )
    return f"{line} — {partial_label(report)}" if report.is_partial else line


def _criteria(numbers: object) -> list[str]:
    return [str(n) for n in numbers] if isinstance(numbers, list) else []


def partial_label(report: Report) -> str:
    """``"partial grading (--only 3): not your score"`` for a partial grading, else ``""``."""
    if report.partial is None:
        return ""
    only = ",".join(_criteria(report.partial.get("only")))
    return f"partial grading (--only {only}): not your score"


def partial_explanation(report: Report) -> str:
    """What a partial grading graded and why its score is not the learner's (``""`` for a
    grading of every check)."""
    if report.partial is None:
        return ""
    only = _criteria(report.partial.get("only"))
    required = _criteria(report.partial.get("required"))
    ran = f"check {', '.join(only)}" if len(only) == 1 else f"checks {', '.join(only)}"
    if required:
        ran += f" and {'the check' if len(required) == 1 else 'the checks'} it requires "
        ran += f"({', '.join(required)})"
    its = "its" if len(only) + len(required) == 1 else "their"
    return (
        f"Partial grading (--only {','.join(only)}): only {ran} ran, and the score is out of "
        f"{its} points. It is not your score: grade without --only for that."
    )


def first_lines(text: str, limit: int) -> str:
    """The first ``limit`` lines of ``text``, with a marker when lines were cut."""
    lines = text.strip("\n").splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    return "\n".join([*lines[:limit], f"... ({len(lines) - limit} more lines)"])


def feedback_text(check: CheckResult, *, line_limit: int | None = None) -> str:
    """Learner feedback for a visible check: outcome explanation, message and hint.

    Hidden checks get only their outcome (never the message, hint or logs).
    """
    if check.hidden:
        return f"Outcome: {check.outcome.value}"
    parts: list[str] = []
    explanation = OUTCOME_EXPLANATIONS.get(check.outcome)
    if explanation:
        parts.append(explanation)
    if check.message.strip():
        message = check.message.strip("\n")
        parts.append(first_lines(message, line_limit) if line_limit else message)
    if check.hint.strip():
        parts.append(f"Hint: {check.hint.strip()}")
    return "\n".join(parts)
