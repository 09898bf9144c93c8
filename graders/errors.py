"""The three kinds of trouble a grading run can meet, kept apart on purpose.

- :class:`LearnerFailure`: the learner's work does not meet a criterion. It is an ``AssertionError``
  so that a fixture may raise it too; the check is *failed*.
- :class:`GraderError` (and :class:`EnvironmentProblem`): the grader or the machine broke. The check
  is an *error* with a fix-it line, never the learner's failure.
- :class:`BadInput`: the command line named something that does not exist or does not parse.
"""

from __future__ import annotations


class LearnerFailure(AssertionError):
    """The learner's work failed a criterion (raised from checks or the fixtures they use)."""


class GraderError(Exception):
    """The grader could not grade: a bug in a grader or a broken environment."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\nFix: {self.fix}" if self.fix else self.message


class EnvironmentProblem(GraderError):
    """The machine lacks something the lab needs (a Docker engine, disk, a base image)."""


class BadInput(Exception):
    """An unknown lab, a missing folder or a malformed file: one line, exit 2."""
