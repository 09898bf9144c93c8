"""The terminal report: a rich table with feedback under every check that lost points."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

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

MESSAGE_LINES = 15

OUTCOME_STYLES: dict[Outcome, str] = {
    Outcome.PASSED: "bold green",
    Outcome.PARTIAL: "bold yellow",
    Outcome.FAILED: "bold red",
    Outcome.BLOCKED: "magenta",
    Outcome.SKIPPED: "cyan",
    Outcome.ERROR: "bold white on red",
    Outcome.NOT_RUN: "dim",
}


def _check_cell(check: CheckResult) -> Text:
    """The "Check" cell: the title, then dim feedback lines when the check lost points."""
    if check.hidden:
        return Text(hidden_label(check))
    cell = Text(check.title or check.id)
    if not check.lost_points:
        if check.message.strip():  # a passed check's figures (start-up time, p95, image weight)
            cell.append("\n" + first_lines(check.message, 2), style="dim")
        return cell
    details: list[str] = []
    explanation = OUTCOME_EXPLANATIONS.get(check.outcome)
    if explanation:
        details.append(explanation)
    if check.message.strip():
        details.append(first_lines(check.message, MESSAGE_LINES))
    for line in check.hint.strip().splitlines():
        details.append(f"Hint: {line}")
    if details:
        cell.append("\n" + "\n".join(details), style="dim")
    return cell


def build_table(report: Report) -> Table:
    """The per-check table (one row per check, in report order)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Check", overflow="fold")
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    for check in report.checks:
        table.add_row(
            Text(str(check.criterion)),
            _check_cell(check),
            Text(check.outcome.value, style=OUTCOME_STYLES[check.outcome]),
            Text(format_points(check)),
        )
    return table


def _summary(report: Report) -> Group:
    """The score line, the run status when incomplete, and the run's errors when it broke."""
    lines: list[Text] = [Text(score_line(report), style="bold")]
    if report.status != RunStatus.COMPLETE:
        status = Text("Run status: ", style="bold yellow")
        status.append(f"{report.status.value} ({STATUS_EXPLANATIONS[report.status]})")
        lines.append(status)
    if report.status in UNFINISHED_STATUSES and report.errors:
        lines.append(Text("Errors:", style="bold red"))
        for error in report.errors:
            lines.append(Text(f"  {first_lines(error, MESSAGE_LINES)}", style="red"))
    return Group(*lines)


def print_report(report: Report, console: Console) -> None:
    """Print the human-readable report to ``console``."""
    header = Text(lab_heading(report), style="bold")
    console.print(header)
    console.print(Text(f"Submission: {report.submission}", style="dim"))
    if report.is_partial:
        console.print(Text(partial_explanation(report), style="bold yellow"))
    for note in report.notes:
        console.print(Text(f"Note: {note}", style="yellow"))
    if report.checks:
        console.print(build_table(report))
    else:
        console.print(Text("No check ran.", style="yellow"))
    console.print(_summary(report))
