"""The canonical grading report: one versioned model that every emitter reads.

A report is written to disk after every check finishes (atomically), so that a run killed half-way
still leaves a valid report whose ``status`` says it did not complete.

A *partial grading* (``mlops-labs grade --only``) holds only the checks it ran and says so in
``partial``: its score is out of those checks, and it is never the learner's score.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


class Outcome(StrEnum):
    """What happened to one check."""

    PASSED = "passed"
    PARTIAL = "partial"  # some credit, with a reason
    FAILED = "failed"  # the learner's work did not meet the criterion
    BLOCKED = "blocked"  # a prerequisite check did not pass; the check did not run
    SKIPPED = (
        "skipped"  # the environment lacks something (e.g. no kind cluster); never counts as passed
    )
    ERROR = "error"  # the grader or the environment broke; never the learner's fault
    NOT_RUN = "not run"  # the grading ended (time limit, interruption, crash) before it ran


class RunStatus(StrEnum):
    """How the grading run as a whole ended."""

    RUNNING = "running"  # a partial report: the run is still going, or was killed
    COMPLETE = "complete"  # every check ran to an outcome and none was an error
    ERROR = "error"  # at least one check errored, or the grader crashed
    TIMED_OUT = "timed-out"  # the lab's time limit ran out; the report holds what finished
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM


@dataclass
class CheckResult:
    """One check's result, as shown to learners, instructors and CI."""

    id: str
    title: str
    criterion: int
    outcome: Outcome
    points: float
    max_points: float
    message: str = ""
    hint: str = ""
    hidden: bool = False
    duration: float = 0.0
    logs: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def lost_points(self) -> bool:
        """True when the check scored less than its maximum."""
        return self.points < self.max_points

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CheckResult:
        """Rebuild a result from its JSON form."""
        values = dict(raw)
        values["outcome"] = Outcome(values["outcome"])
        return cls(**values)


@dataclass
class Report:
    """A whole grading run."""

    lab: dict[str, str]
    submission: str
    started_at: str
    finished_at: str | None = None
    duration: float = 0.0
    status: RunStatus = RunStatus.RUNNING
    checks: list[CheckResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # what the grader changed in its copy of the submission before grading it (graders.staging)
    notes: list[str] = field(default_factory=list)
    # a partial grading (``--only``): {"only": criteria named, "required": criteria it ran because
    # those require them, "checks": the ids it ran}; None for a grading of every check
    partial: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def score(self) -> float:
        """Points awarded."""
        return round(sum(check.points for check in self.checks), 4)

    @property
    def max_score(self) -> float:
        """Points available, skipped checks included (a skip is never a pass); for a partial
        grading, the points of the checks it ran."""
        return round(sum(check.max_points for check in self.checks), 4)

    @property
    def full_marks(self) -> bool:
        """True when every check passed and the run completed."""
        return (
            self.status == RunStatus.COMPLETE
            and bool(self.checks)
            and all(check.outcome == Outcome.PASSED for check in self.checks)
        )

    @property
    def is_partial(self) -> bool:
        """True for a partial grading (``--only``): not the learner's score."""
        return self.partial is not None

    @property
    def percent(self) -> float:
        """Score as a percentage of the maximum (0 when nothing was graded)."""
        return round(100.0 * self.score / self.max_score, 2) if self.max_score else 0.0

    def record(self, result: CheckResult) -> None:
        """Put a finished check's result in the report, in place of its *not run* entry."""
        for index, check in enumerate(self.checks):
            if check.id == result.id:
                self.checks[index] = result
                return
        self.checks.append(result)

    def add_not_run(self, declared: Sequence[tuple[str, str, int, float, bool]]) -> None:
        """Make the report hold every check the lab declares, in declaration order: a declared
        check it has no result for is added as *not run* (0 of its points), so that the score is
        always out of the lab's full total. ``declared``: (id, title, criterion, points, hidden)."""
        results = {check.id: check for check in self.checks}
        ordered = []
        for check_id, title, criterion, points, hidden in declared:
            found = results.pop(check_id, None)
            ordered.append(
                found
                or CheckResult(
                    id=check_id,
                    title=title,
                    criterion=criterion,
                    outcome=Outcome.NOT_RUN,
                    points=0.0,
                    max_points=points,
                    hidden=hidden,
                )
            )
        self.checks = ordered + list(results.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the derived score fields included (``partial`` only when the
        grading was partial)."""
        raw = asdict(self)
        if raw["partial"] is None:
            del raw["partial"]
        raw["score"] = self.score
        raw["max_score"] = self.max_score
        raw["percent"] = self.percent
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Report:
        """Rebuild a report from its JSON form (derived fields are recomputed)."""
        values = {k: v for k, v in raw.items() if k not in ("score", "max_score", "percent")}
        if values.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported report schema_version {values.get('schema_version')!r}")
        values["status"] = RunStatus(values["status"])
        values["checks"] = [CheckResult.from_dict(c) for c in values.get("checks", [])]
        return cls(**values)

    def write(self, path: Path) -> None:
        """Write the JSON report atomically: readers never see a half-written file."""
        write_text_atomically(path, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")


def load_report(path: Path) -> Report:
    """Read a JSON report written by :meth:`Report.write`."""
    return Report.from_dict(json.loads(path.read_text(encoding="utf-8")))


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
