"""What a batch shows while it runs: a progress bar with an ETA and the names being graded (plain
lines when the console is not a terminal, as in CI), then a summary table."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from graders.emitters._common import format_number
from graders.report import Report


def eta_seconds(durations: list[float], remaining: int, jobs: int) -> float | None:
    """Seconds left: the mean grading time so far, times the gradings left, over the parallel
    slots they can use (None before the first grading finished)."""
    if not durations:
        return None
    if remaining <= 0:
        return 0.0
    return sum(durations) / len(durations) * -(-remaining // max(1, min(jobs, remaining)))


def describe_eta(seconds: float | None) -> str:
    """``"ETA 3m05s"``, or ``"ETA …"`` before there is anything to estimate from."""
    if seconds is None:
        return "ETA …"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"ETA {minutes}m{rest:02d}s" if minutes else f"ETA {rest}s"


def outcome_text(report: Report) -> str:
    """``"complete 8/10"``: the status, and the score when the run's points are a grade."""
    from graders.emitters.gradebook import NOT_A_GRADE

    if report.status in NOT_A_GRADE:
        return report.status.value.upper()
    return f"{report.status.value} {format_number(report.score)}/{format_number(report.max_score)}"


class BatchProgress:
    """Progress of the gradings of one batch run (the kept ones are not counted)."""

    def __init__(self, console: Console, total: int, jobs: int) -> None:
        self.console = console
        self.total = total
        self.jobs = jobs
        self.done = 0
        self.durations: list[float] = []
        self.running: list[str] = []
        self.started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if console.is_terminal and total:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("grading"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                TextColumn("{task.fields[now]}"),
                console=console,
                auto_refresh=False,  # no thread: children are started with a pre-exec hook
                transient=False,
            )
            self._task = self._bar.add_task("batch", total=total, eta="ETA …", now="")
            self._bar.start()

    def started_grading(self, name: str) -> None:
        """``name`` is being graded now."""
        self.running.append(name)
        if self._bar is None:
            self.console.print(
                f"[{self.done}/{self.total}] grading {name}", markup=False, soft_wrap=True
            )
        self.refresh()

    def finished_grading(self, name: str, report: Report, seconds: float) -> None:
        """``name`` got its report after ``seconds``."""
        if name in self.running:
            self.running.remove(name)
        self.done += 1
        self.durations.append(seconds)
        line = (
            f"[{self.done}/{self.total}] {name}: {outcome_text(report)} "
            f"({seconds:.0f} s) — {describe_eta(self._eta())}"
        )
        if self._bar is not None and self._task is not None:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            self._bar.update(self._task, completed=self.done)
        else:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        self.refresh()

    def say(self, line: str) -> None:
        """Print a line above the bar (or plainly)."""
        target = self._bar.console if self._bar is not None else self.console
        target.print(line, markup=False, highlight=False, soft_wrap=True)

    def refresh(self) -> None:
        """Redraw the bar (called from the batch's polling loop)."""
        if self._bar is None or self._task is None:
            return
        now = ", ".join(self.running[:4]) + (" …" if len(self.running) > 4 else "")
        self._bar.update(self._task, eta=describe_eta(self._eta()), now=now)
        self._bar.refresh()

    def close(self) -> None:
        """Stop the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _eta(self) -> float | None:
        return eta_seconds(self.durations, self.total - self.done, self.jobs)


def print_summary(console: Console, rows: Iterable[tuple[str, Report | None, str]]) -> None:
    """The end of a batch: one line per submission (name, status, score, note)."""
    table = Table(title="batch", title_justify="left")
    for column in ("submission", "status", "score", "note"):
        table.add_column(column, no_wrap=column != "note")
    for name, report, note in rows:
        if report is None:
            table.add_row(name, "no report", "", note)
            continue
        status, _, score = outcome_text(report).partition(" ")
        table.add_row(name, status, score, note)
    console.print(table)
