"""Turn pytest's per-phase reports into one check outcome.

The rule that keeps learners and graders apart: only an ``AssertionError`` (which includes
:class:`~graders.errors.LearnerFailure`) or ``pytest.fail`` in setup or call is the learner's
failure. A :class:`~graders.errors.GraderError`, or any other exception, is a grader *error*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests

from graders.checks import PartialCredit
from graders.containers.engine import START_DOCKER
from graders.errors import GraderError
from graders.report import Outcome

_MESSAGE_LINES = 40
GRADER_BUG = (
    "this is a bug in the grader, not in your work: report it to the lab's maintainers with "
    "report.json (its logs hold the traceback)"
)


@dataclass
class PhaseOutcome:
    """The outcome of one phase (setup, call or teardown) of a check."""

    outcome: Outcome
    message: str = ""
    fraction: float = 0.0
    traceback: str = ""


@dataclass
class CheckProgress:
    """What is known so far about a check while its phases run (kept in ``item.stash``)."""

    phases: list[PhaseOutcome] = field(default_factory=list)
    blocked_by: str = ""
    not_run_outcome: Outcome | None = None
    logs: list[str] = field(default_factory=list)
    duration: float = 0.0

    def final(self) -> PhaseOutcome:
        """The outcome that counts: the first phase that did not pass."""
        if self.not_run_outcome is not None:
            return PhaseOutcome(self.not_run_outcome, self.blocked_by)
        for phase in self.phases:
            if phase.outcome != Outcome.PASSED:
                return phase
        return PhaseOutcome(Outcome.PASSED)


def classify(call: pytest.CallInfo[None], report: pytest.TestReport) -> PhaseOutcome:
    """Classify one phase of a check from its ``CallInfo`` and ``TestReport``."""
    excinfo = call.excinfo
    if excinfo is None:
        return PhaseOutcome(Outcome.PASSED)
    value = excinfo.value
    traceback = report.longreprtext if report.longrepr is not None else ""
    if isinstance(value, PartialCredit):
        return PhaseOutcome(Outcome.PARTIAL, value.reason, value.fraction)
    if isinstance(value, GraderError):
        return PhaseOutcome(Outcome.ERROR, str(value), traceback=traceback)
    if _engine_stopped_answering(value):
        return PhaseOutcome(
            Outcome.ERROR,
            f"the Docker engine stopped answering ({value})\nFix: {START_DOCKER}",
            traceback=traceback,
        )
    if isinstance(value, pytest.skip.Exception):
        return PhaseOutcome(Outcome.SKIPPED, value.msg or "skipped")
    learner_failure = isinstance(value, AssertionError | pytest.fail.Exception)
    if learner_failure and call.when in ("setup", "call"):
        return PhaseOutcome(Outcome.FAILED, _failure_message(value), traceback=traceback)
    kind = type(value).__name__
    return PhaseOutcome(
        Outcome.ERROR,
        f"grader error in {call.when}: {kind}: {value}\nFix: {GRADER_BUG}",
        traceback=traceback,
    )


def _engine_stopped_answering(value: BaseException) -> bool:
    """A request of the Docker SDK to the engine (``http+docker://``, never a learner's service)
    that could not connect: the machine's fault."""
    request = getattr(value, "request", None)
    url = str(getattr(request, "url", "") or "")
    return isinstance(value, requests.ConnectionError) and url.startswith("http+docker://")


def _failure_message(value: BaseException) -> str:
    """The learner-facing message: the assertion text, without pytest's rewriting noise."""
    text = str(getattr(value, "msg", "") or value).strip()
    kept: list[str] = []
    # pytest's assertion rewriting appends "assert <expr>" lines after the message and indents the
    # message's continuation lines by two spaces: drop the former, undo the latter.
    for line in text.splitlines():
        if line.startswith("assert ") and kept:
            break
        kept.append(line)
    if len(kept) > 1 and all(line.startswith("  ") or not line for line in kept[1:]):
        kept = kept[:1] + [line[2:] for line in kept[1:]]
    return "\n".join(kept[:_MESSAGE_LINES]) or "check failed"
