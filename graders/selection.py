"""Grading only some checks: ``mlops-labs grade LAB DIR --only N[,M]``.

A *partial* grading runs the checks named (by acceptance-criterion number or id) and the checks
they require, transitively; the others are not collected at all. Its report says so
(``partial``) and is scored out of the checks it ran: it is never the learner's score. The
self-test grades a red-team mistake this way (``only`` in its ``mutant.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graders.catalogue import Lab
from graders.errors import BadInput, GraderError
from graders.report import Report

if TYPE_CHECKING:  # graders.checks imports pytest: a whole grading never needs it here
    from graders.checks import DeclaredCheck


@dataclass(frozen=True)
class CheckSelection:
    """The checks a partial grading runs: those ``--only`` named and those they require."""

    checks: tuple[DeclaredCheck, ...]  # every check it runs, in declaration order
    only: tuple[int, ...]  # the criteria named
    required: tuple[int, ...]  # the criteria it runs too because a named check requires them

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids (test function names) of the checks it runs."""
        return tuple(check.id for check in self.checks)

    def report_field(self) -> dict[str, Any]:
        """The report's ``partial`` field."""
        return {"only": list(self.only), "required": list(self.required), "checks": list(self.ids)}


def select_checks(lab: Lab, names: Sequence[str]) -> CheckSelection:
    """The checks of ``lab`` that ``--only`` names (a criterion number, as the README and the
    report show, or a check's id), with every check they require, transitively. A name that is
    no check of the lab, or no name at all, is a :class:`BadInput`."""
    if not names:
        raise BadInput(
            "--only needs the number of a check (its acceptance criterion in the lab's README) "
            "or its id, e.g. --only 3 or --only 2,5"
        )
    from graders.checks import declared_checks

    try:
        declared = declared_checks(lab.checks_module)
    except Exception as exc:  # the grader itself cannot be imported: said once, as an error
        raise GraderError(
            f"cannot list the checks of {lab.id}: {type(exc).__name__}: {exc}",
            "grade without --only to see the grader's error in the report",
        ) from None
    named: list[DeclaredCheck] = []
    for name in names:
        matches = [
            check
            for check in declared
            if (
                check.spec.criterion == int(name)
                if name.isascii() and name.isdigit()
                else check.id == name
            )
        ]
        if not matches:
            example = next((c.id for c in declared if not c.spec.hidden), "")
            raise BadInput(
                f"--only {name}: {lab.id} has no check {name}; name one by the number of its "
                f"acceptance criterion ({_ranges(c.spec.criterion for c in declared)})"
                + (f" or by its id (e.g. {example})" if example else "")
            )
        named.extend(match for match in matches if match not in named)
    by_id = {check.id: check for check in declared}
    running = {check.id for check in named}
    pending = [name for check in named for name in check.spec.requires]
    while pending:
        name = pending.pop()
        if name in by_id and name not in running:
            running.add(name)
            pending.extend(by_id[name].spec.requires)
    only = {check.spec.criterion for check in named}
    checks = tuple(check for check in declared if check.id in running)
    return CheckSelection(
        checks=checks,
        only=tuple(sorted(only)),
        required=tuple(sorted({check.spec.criterion for check in checks} - only)),
    )


def _ranges(numbers: Iterable[int]) -> str:
    """``1-3, 5`` for 1, 2, 3, 5."""
    spans: list[list[int]] = []
    for number in sorted(set(numbers)):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans) or "none"


def narrow(report: Report, selection: CheckSelection) -> None:
    """Make ``report`` a partial grading's: it says so, holds the selected checks only, and each
    of them it has no result for is *not run* (scored out of the checks it was to run)."""
    report.partial = selection.report_field()
    report.checks = [check for check in report.checks if check.id in selection.ids]
    report.add_not_run([check.as_declared() for check in selection.checks])
