"""A lab's truthfulness contract, proven by grading: its grader bites, and only where it should.

The reference solution scores 100 %, the starter at most 20 %, every mutant loses exactly the
checks its ``mutant.toml`` names (checks gated on those may be *blocked*) and no other, and every
``passes-…`` variant keeps 100 %. Checks that need a Kubernetes cluster are *skipped* where none
answers, saying how to get one: they count as lost then (a skip is never a pass), and the rules
hold for every other check; a mutant's ``fails_on_cluster`` are the checks it must lose where a
cluster answers.

A *red-team mistake* is a mutant whose ``mutant.toml`` names ``only`` (criterion numbers or check
ids): it is graded as ``mlops-labs grade --only`` those checks would grade it (those checks and the
checks they require, nothing else), and must lose the checks its ``fails`` names, each among them,
while the checks they require keep their points. A mutant without ``only`` is graded whole.

``mlops-labs selftest LAB`` and ``tests/test_truthfulness.py`` run the same code.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from graders.catalogue import Lab
from graders.contract import Mutant, images_available, lab_checks, mutants_of
from graders.errors import BadInput, GraderError
from graders.report import CheckResult, Outcome, Report, RunStatus

if TYPE_CHECKING:
    from graders.selection import CheckSelection

STARTER_MAX_PERCENT = 20


class Kind(StrEnum):
    """What a case grades."""

    REFERENCE = "reference"
    STARTER = "starter"
    MUTANT = "mutant"  # one realistic mistake: loses exactly its checks
    RED_TEAM = "red-team"  # a mistake aimed at one check, graded with --only it: loses it
    PASSES = "passes"  # another correct solution: keeps every point


# what ``--only`` may name besides a mutant
GROUPS = {
    "reference": (Kind.REFERENCE,),
    "starter": (Kind.STARTER,),
    "mutants": (Kind.MUTANT, Kind.RED_TEAM),
    "passes": (Kind.PASSES,),
    "red-team": (Kind.RED_TEAM,),
}


@dataclass(frozen=True)
class Case:
    """One grading of the contract: the reference, the starter, or one mutant."""

    kind: Kind
    name: str
    mutant: Mutant | None = None

    @classmethod
    def reference(cls) -> Case:
        """The reference solution."""
        return cls(Kind.REFERENCE, "reference")

    @classmethod
    def starter(cls) -> Case:
        """The starter a learner copies."""
        return cls(Kind.STARTER, "starter")

    @classmethod
    def of(cls, mutant: Mutant) -> Case:
        """A mutant, a red-team mistake (``only``), or a ``passes-…`` variant."""
        if mutant.passes:
            return cls(Kind.PASSES, mutant.name, mutant)
        return cls(Kind.RED_TEAM if mutant.red_team else Kind.MUTANT, mutant.name, mutant)

    @property
    def expected(self) -> str:
        """What the contract expects of it, in a few words."""
        if self.kind == Kind.STARTER:
            return f"≤ {STARTER_MAX_PERCENT} %"
        if self.mutant is None:
            return "100 %"
        graded = f" (--only {','.join(self.mutant.only)})" if self.mutant.red_team else ""
        if not (self.mutant.fails or self.mutant.fails_on_cluster):
            return "100 %" + graded
        on_cluster = [f"{c} (on a cluster)" for c in self.mutant.fails_on_cluster]
        return "loses " + ", ".join([*self.mutant.fails, *on_cluster]) + graded


@dataclass(frozen=True)
class Verdict:
    """A case, its report, and what in the report breaks the contract (nothing: it holds)."""

    case: Case
    report: Report
    problems: tuple[str, ...] = field(default=())
    seconds: float = 0.0  # the case's wall time: making its submission and grading it

    @property
    def errored(self) -> bool:
        """True when the grading did not complete: the contract could not be judged."""
        return self.report.status != RunStatus.COMPLETE

    @property
    def holds(self) -> bool:
        """True when the case meets the contract."""
        return not self.errored and not self.problems

    def explain(self) -> str:
        """The problems, then every check's outcome: what a failing test shows."""
        return "\n".join([*self.problems, *self.report.errors, summary(self.report)])


def cases_of(lab: Lab, only: Sequence[str] = ()) -> list[Case]:
    """The cases of a lab's contract, or those ``only`` selects: group names (``reference``,
    ``starter``, ``mutants``, ``passes``) or mutant names. Unknown names are a :class:`BadInput`."""
    mutants = mutants_of(lab)
    every = [Case.reference(), Case.starter(), *(Case.of(mutant) for mutant in mutants)]
    if not only:
        return every
    known = {m.name for m in mutants}
    unknown = [name for name in only if name not in GROUPS and name not in known]
    if unknown:
        raise BadInput(
            f"--only {','.join(unknown)}: not one of {', '.join(GROUPS)} nor a mutant of "
            f"{lab.id} ({', '.join(sorted(known)) or 'it has none'})"
        )
    kinds = {kind for name in only for kind in GROUPS.get(name, ())}
    chosen = [case for case in every if case.kind in kinds or case.name in only]
    if not chosen:
        raise BadInput(f"--only {','.join(only)}: {lab.id} has no such case")
    return chosen


def run_case(lab: Lab, case: Case, workdir: Path, out: Path | None = None) -> Verdict:
    """Make the case's submission under ``workdir``, grade it (reports under ``out``, default
    ``workdir/out``; a red-team mistake with ``--only`` its checks) and judge the report."""
    from graders.grading import grade

    red_team = case.mutant is not None and case.mutant.red_team
    selection = red_team_selection(lab, case.mutant) if red_team else None
    submission = submission_for(lab, case, workdir)
    needs_images = case.mutant.needs_images if case.mutant else ()
    with ExitStack() as stack:
        if needs_images:
            from graders.containers.engine import connect

            client = stack.enter_context(closing(connect()))
            stack.enter_context(images_available(client, needs_images))
        report = grade(
            lab, submission, out or workdir / "out", Console(quiet=True), None, selection
        )
    if report.status == RunStatus.INTERRUPTED:  # Ctrl-C or SIGTERM: the self-test stops too
        raise KeyboardInterrupt
    return judge(lab, case, report)


def red_team_selection(lab: Lab, mutant: Mutant | None) -> CheckSelection:
    """The checks a red-team mistake is graded with: ``--only`` its ``only``. Naming no check
    of the lab is an error of the lab's own file (the case cannot be graded)."""
    from graders.selection import select_checks

    assert mutant is not None and mutant.red_team
    try:
        return select_checks(lab, mutant.only)
    except BadInput as exc:
        raise GraderError(
            f"{mutant.path / 'mutant.toml'}: only: {exc}",
            "name checks by the number of their acceptance criterion or by their id",
        ) from None


def submission_for(lab: Lab, case: Case, workdir: Path) -> Path:
    """The folder graded for ``case``: the starter or solution as they are, a mutant applied to a
    copy of the solution; for a repository lab (``solution/STEPS.sh``), the repository its steps
    make in the sandbox."""
    from graders.reference import has_steps, make_submission

    if case.kind == Kind.STARTER:
        return lab.starter
    folder = lab.solution
    if case.mutant is not None:
        folder = case.mutant.materialize(lab.solution, workdir / "patched")
    if has_steps(folder):
        folder = make_submission(folder, workdir / "submission")
    return folder


def judge(lab: Lab, case: Case, report: Report) -> Verdict:
    """The verdict on one case's report."""
    if report.status != RunStatus.COMPLETE:
        return Verdict(case, report, (f"the grading ended {report.status.value}",))
    if case.kind == Kind.REFERENCE:
        problems = reference_problems(lab, report)
    elif case.kind == Kind.STARTER:
        problems = starter_problems(report)
    elif case.mutant is not None and case.mutant.red_team:
        problems = red_team_problems(lab, case.mutant, report)
    else:
        assert case.mutant is not None
        problems = mutant_problems(lab, case.mutant, report)
    return Verdict(case, report, tuple(problems))


def reference_problems(lab: Lab, report: Report) -> list[str]:
    """The reference scores 100 % (where no cluster answers: every check that ran passed)."""
    problems = []
    declared = len(lab_checks(lab))
    if len(report.checks) != declared:
        problems.append(
            f"the report has {len(report.checks)} checks, checks.py declares {declared}"
        )
    if lab.requires.kind and any(skipped_for_want_of_a_cluster(c) for c in report.checks):
        lost = [
            c.id
            for c in report.checks
            if c.outcome != Outcome.PASSED and not skipped_for_want_of_a_cluster(c)
        ]
    else:
        lost = [c.id for c in report.checks if c.outcome != Outcome.PASSED]
    if lost:
        problems.append(f"the reference lost {', '.join(lost)}")
    return problems


def starter_problems(report: Report) -> list[str]:
    """The starter scores at most 20 %."""
    if report.percent <= STARTER_MAX_PERCENT:
        return []
    return [f"the starter scored {report.percent:g} %, more than {STARTER_MAX_PERCENT} %"]


def mutant_problems(lab: Lab, mutant: Mutant, report: Report) -> list[str]:
    """A mutant loses exactly the checks it names; any other check passes, or is blocked by one
    it names, or is skipped for want of a cluster. A ``passes-…`` variant names none."""
    problems = []
    if mutant.passes and (mutant.fails or mutant.fails_on_cluster):
        problems.append(f"{mutant.name} is a passes-… variant but names checks it fails")
    requires = {c.id: set(c.spec.requires) for c in lab_checks(lab)}
    no_cluster = lab.requires.kind and any(skipped_for_want_of_a_cluster(c) for c in report.checks)
    fails = set(mutant.fails) | (set() if no_cluster else set(mutant.fails_on_cluster))
    lost = {c.id for c in report.checks if c.lost_points}
    kept = sorted(fails - lost)
    if kept:
        problems.append(f"{mutant.name} kept points it must lose: {', '.join(kept)}")
    also = [
        c.id
        for c in report.checks
        if c.id not in fails
        and c.outcome != Outcome.PASSED
        and not (c.outcome == Outcome.BLOCKED and requires.get(c.id, set()) & fails)
        and not (no_cluster and skipped_for_want_of_a_cluster(c))
    ]
    if also:
        problems.append(f"{mutant.name} also lost {', '.join(also)}")
    unsaid = [
        f"{c.id} does not say {words!r}"
        for c in report.checks
        if c.id in fails and c.id in lost
        for words in mutant.says
        if words not in c.message
    ]
    if unsaid:
        problems.append(f"{mutant.name}: {'; '.join(unsaid)}")
    return problems


def red_team_problems(lab: Lab, mutant: Mutant, report: Report) -> list[str]:
    """A red-team mistake, graded with ``--only`` its checks, loses the checks its ``fails``
    names (each among the checks it ran) and keeps the others it ran, as a mutant does over a
    whole grading: a check it requires that lost would block the target, which would then lose
    without having caught the mistake. (A ``passes-…`` variant with ``only`` keeps every point
    of what it ran.)"""
    graded = f"--only {','.join(mutant.only)}"
    if report.partial is None:
        return [f"{mutant.name} is a red-team mistake but was graded whole, not with {graded}"]
    if not mutant.passes and not (mutant.fails or mutant.fails_on_cluster):
        return [f"{mutant.name} is a red-team mistake but names no check it must lose"]
    ran = {check.id for check in report.checks}
    outside = [c for c in (*mutant.fails, *mutant.fails_on_cluster) if c not in ran]
    if outside:
        return [f"{mutant.name} must lose {', '.join(outside)}, which {graded} does not grade"]
    return mutant_problems(lab, mutant, report)


def skipped_for_want_of_a_cluster(check: CheckResult) -> bool:
    """True when a check was skipped because no Kubernetes cluster answers (directly, or because
    its prerequisite was)."""
    return check.outcome == Outcome.SKIPPED and (
        "mlops-labs cluster up" in check.message or "did not pass (skipped)" in check.message
    )


def summary(report: Report) -> str:
    """Every check's outcome and points, one line each."""
    return "\n".join(
        f"{c.id}: {c.outcome.value} {c.points:g}/{c.max_points:g} {c.message[:300]}"
        for c in report.checks
    )


def run_selftest(
    lab: Lab, cases: Sequence[Case], out: Path, say: Callable[[str], None]
) -> list[Verdict]:
    """Grade every case in turn (reports under ``out/<case>/``), saying each verdict as it
    comes; the verdicts, in case order."""
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="mlops-labs-selftest-") as temporary:
        for number, case in enumerate(cases, 1):
            say(f"[{number}/{len(cases)}] {case.name}: grading…")
            workdir = Path(temporary) / f"{number:03d}"
            workdir.mkdir()
            started = time.monotonic()
            try:
                verdict = run_case(lab, case, workdir, out / case.name)
            except GraderError as exc:  # e.g. a patch that does not apply, a STEPS.sh that fails
                verdict = Verdict(case, _not_graded(lab, str(exc)), ("it could not be graded",))
            verdict = replace(verdict, seconds=round(time.monotonic() - started, 1))
            say(f"[{number}/{len(cases)}] {case.name}: {word(verdict)}, {score(verdict.report)}")
            verdicts.append(verdict)
    return verdicts


def _not_graded(lab: Lab, error: str) -> Report:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    lab_fields = {"id": lab.id, "title": lab.title, "level": lab.level}
    return Report(lab_fields, "", started, status=RunStatus.ERROR, errors=[error])


def word(verdict: Verdict) -> str:
    """``holds``, ``BROKEN`` (the contract does not hold) or ``ERROR`` (the grading did not
    complete)."""
    return "ERROR" if verdict.errored else ("holds" if verdict.holds else "BROKEN")


def score(report: Report) -> str:
    """E.g. ``42/60 (70 %)``."""
    return f"{report.score:g}/{report.max_score:g} ({report.percent:g} %)"


def verdict_table(lab: Lab, verdicts: Sequence[Verdict]) -> Table:
    """One row per case: what it is, what the contract expects, what it scored, the checks it
    lost, and the verdict."""
    total = sum(verdict.seconds for verdict in verdicts)
    table = Table(
        title=f"selftest {lab.id}",
        title_justify="left",
        caption=f"{len(verdicts)} cases in {total:.0f} s of grading (budget: docs/authoring.md)",
        caption_justify="left",
    )
    table.add_column("case", no_wrap=True)
    table.add_column("expected", overflow="fold")
    table.add_column("score", no_wrap=True)
    table.add_column("lost", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("time", no_wrap=True, justify="right")
    for verdict in verdicts:
        lost = [
            f"{c.id} (no cluster)" if skipped_for_want_of_a_cluster(c) else c.id
            for c in verdict.report.checks
            if c.lost_points
        ]
        no_cluster = any(skipped_for_want_of_a_cluster(c) for c in verdict.report.checks)
        colour = "green" if verdict.holds else "red"
        table.add_row(
            verdict.case.name,
            verdict.case.expected + (", of what ran (no cluster)" if no_cluster else ""),
            score(verdict.report),
            ", ".join(lost) or "—",
            f"[{colour}]{word(verdict)}[/]",
            f"{verdict.seconds:.0f} s",
        )
    return table
