"""GitHub Actions step-summary markdown (``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import re

from graders.emitters._common import (
    OUTCOME_EXPLANATIONS,
    STATUS_EXPLANATIONS,
    UNFINISHED_STATUSES,
    first_lines,
    format_points,
    hidden_label,
    lab_heading,
    partial_explanation,
    score_line,
)
from graders.report import CheckResult, Outcome, Report, RunStatus

MESSAGE_LINES = 30

OUTCOME_EMOJI: dict[Outcome, str] = {
    Outcome.PASSED: "✅",
    Outcome.PARTIAL: "🟡",
    Outcome.FAILED: "❌",
    Outcome.BLOCKED: "⛔",
    Outcome.SKIPPED: "⏭️",
    Outcome.ERROR: "💥",
    Outcome.NOT_RUN: "⏹️",
}


def _cell(text: str) -> str:
    """Make ``text`` safe inside one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _code_block(text: str) -> str:
    """Fence ``text`` with more backticks than it contains, so it cannot break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _outcome(check: CheckResult) -> str:
    """``"<emoji> outcome"``."""
    return f"{OUTCOME_EMOJI[check.outcome]} {check.outcome.value}"


def _table(report: Report) -> list[str]:
    """The markdown table, one row per check."""
    lines = ["| # | Check | Outcome | Points |", "|---:|---|---|---:|"]
    for check in report.checks:
        name = hidden_label(check) if check.hidden else f"`{check.id}` {check.title}"
        lines.append(
            f"| {check.criterion} | {_cell(name)} | {_outcome(check)} | {format_points(check)} |"
        )
    return lines


def _fix_entry(check: CheckResult) -> list[str]:
    """The "What to fix" entry of one check that lost points."""
    if check.hidden:
        return [f"#### {hidden_label(check)}: {_outcome(check)} ({format_points(check)})", ""]
    lines = [f"#### {check.criterion}. {_cell(check.title or check.id)} (`{check.id}`)", ""]
    lines.append(f"{_outcome(check)}, {format_points(check)} points.")
    explanation = OUTCOME_EXPLANATIONS.get(check.outcome)
    if explanation:
        lines.append(explanation)
    lines.append("")
    if check.message.strip():
        lines.extend([_code_block(first_lines(check.message, MESSAGE_LINES)), ""])
    if check.hint.strip():
        lines.extend([f"**Hint:** {check.hint.strip()}", ""])
    return lines


def render_github(report: Report) -> str:
    """Render the report as GitHub-flavoured markdown for a job's step summary."""
    lines = [f"## {lab_heading(report)}", "", f"**{score_line(report)}**", ""]
    if report.is_partial:
        lines.extend([f"> [!NOTE]\n> {partial_explanation(report)}", ""])
    if report.status != RunStatus.COMPLETE:
        explanation = STATUS_EXPLANATIONS[report.status]
        lines.extend([f"> [!WARNING]\n> Run status: **{report.status.value}** ({explanation})", ""])
    if report.checks:
        lines.extend([*_table(report), ""])
    else:
        lines.extend(["No check ran.", ""])
    lost = [check for check in report.checks if check.lost_points]
    if lost:
        lines.extend(["### What to fix", ""])
        for check in lost:
            lines.extend(_fix_entry(check))
    if report.status in UNFINISHED_STATUSES and report.errors:
        lines.extend(["### Errors", "", _code_block("\n\n".join(report.errors)), ""])
    return "\n".join(lines).rstrip("\n") + "\n"
