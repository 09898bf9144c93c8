"""The authoring API for checks: a check is a plain pytest test carrying a ``check`` marker.

Example::

    @check(6, points=10, hint="Add a USER instruction that switches to a non-root user.",
           requires=["test_image_builds"])
    def test_runs_as_non_root(lab_image):
        \"\"\"Runs as non-root\"\"\"
        assert lab_image.user not in ("", "root", "0")

The docstring's first line is the check's title; it must equal the bold title of acceptance
criterion number ``criterion`` in the lab README.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from graders.catalogue import Lab
from graders.report import Report, RunStatus

MARKER = "check"
MARKER_HELP = (
    "check(criterion, points, hint, requires=(), hidden=False): a graded check of a lab's "
    "acceptance criterion"
)


@dataclass(frozen=True)
class CheckSpec:
    """What a ``check`` marker declares."""

    criterion: int
    points: float
    hint: str
    requires: tuple[str, ...] = ()
    hidden: bool = False


def check(
    criterion: int,
    *,
    points: float,
    hint: str,
    requires: Sequence[str] = (),
    hidden: bool = False,
) -> pytest.MarkDecorator:
    """Mark a test as graded check number ``criterion`` worth ``points``.

    ``hint`` is shown to the learner when the check loses points; ``requires`` names checks (test
    function names) that must pass first, otherwise this one is *blocked*; a ``hidden`` check
    counts but shows no detail to the learner.
    """
    if points <= 0:
        raise ValueError("a check is worth a positive number of points")
    return pytest.mark.check(
        criterion=criterion, points=points, hint=hint, requires=tuple(requires), hidden=hidden
    )


def spec_of(marker: pytest.Mark) -> CheckSpec:
    """Read a ``check`` marker's arguments into a :class:`CheckSpec`."""
    kwargs = dict(marker.kwargs)
    if marker.args:
        kwargs.setdefault("criterion", marker.args[0])
    return CheckSpec(
        criterion=int(kwargs["criterion"]),
        points=float(kwargs["points"]),
        hint=str(kwargs.get("hint", "")),
        requires=tuple(kwargs.get("requires", ())),
        hidden=bool(kwargs.get("hidden", False)),
    )


class PartialCredit(Exception):
    """Raise from a check to award ``fraction`` of its points, with the reason the rest is lost."""

    def __init__(self, fraction: float, reason: str) -> None:
        if not 0.0 <= fraction < 1.0:
            raise ValueError("partial credit is a fraction in [0, 1)")
        super().__init__(reason)
        self.fraction = fraction
        self.reason = reason


def title_of(function: object) -> str:
    """A check's title: the first paragraph of its docstring, on one line."""
    doc = str(getattr(function, "__doc__", None) or getattr(function, "__name__", ""))
    return " ".join(doc.strip().split("\n\n")[0].split())


@dataclass(frozen=True)
class DeclaredCheck:
    """A check as its grader's ``checks.py`` declares it."""

    id: str
    title: str
    spec: CheckSpec

    def as_declared(self) -> tuple[str, str, int, float, bool]:
        """(id, title, criterion, points, hidden), as :meth:`Report.add_not_run` takes them."""
        return (self.id, self.title, self.spec.criterion, self.spec.points, self.spec.hidden)


def declared_checks(module_name: str) -> list[DeclaredCheck]:
    """The checks a grader module declares, in file order (imports the module: grader code
    only, never a submission's)."""
    module = importlib.import_module(module_name)
    checks = []
    for name, function in vars(module).items():
        marks = [m for m in getattr(function, "pytestmark", []) if m.name == MARKER]
        if name.startswith("test_") and marks:
            checks.append(DeclaredCheck(name, title_of(function), spec_of(marks[0])))
    return checks


def score_out_of_every_check(lab: Lab, report: Report) -> None:
    """Add every check the lab declares that ``report`` has no result for as *not run*, so that
    its score is out of the lab's full total (a run that died, timed out or was interrupted
    before collecting them, a submission refused or not graded at all)."""
    try:
        declared = declared_checks(lab.checks_module)
    except Exception as exc:  # the grader itself cannot be imported: a grader error, said once
        report.errors.append(f"cannot list the lab's checks: {type(exc).__name__}: {exc}")
        report.status = RunStatus.ERROR
        return
    report.add_not_run([check.as_declared() for check in declared])


def ungraded_report(lab: Lab, submission: str, status: RunStatus) -> Report:
    """A finished report of ``lab`` in which nothing was graded: every check *not run*."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    report = Report(
        lab={"id": lab.id, "title": lab.title, "level": lab.level},
        submission=submission,
        started_at=now,
        finished_at=now,
        status=status,
    )
    score_out_of_every_check(lab, report)
    return report
