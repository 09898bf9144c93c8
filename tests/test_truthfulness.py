"""The truthfulness contract, over every lab: graders are proven to bite.

The rules (reference 100 %, starter at most 20 %, every mutant loses exactly its checks, every
red-team mistake graded with ``--only`` its checks loses the ones it targets, every ``passes-…``
variant keeps 100 %, checks that need a cluster skipped where none answers) are
``graders.selftest``'s, the code ``mlops-labs selftest LAB`` runs: here one test per case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.catalogue import Lab, discover_labs
from graders.contract import Mutant, mutants_of
from graders.selftest import Case, Verdict, run_case

pytestmark = [pytest.mark.docker, pytest.mark.slow]
LABS = discover_labs()
MUTANTS = [(lab, mutant) for lab in LABS for mutant in mutants_of(lab)]


def holds(verdict: Verdict) -> None:
    """Fail with the contract's problems and every check's outcome, unless the case holds."""
    assert not verdict.errored, f"grading errored:\n{verdict.explain()}"
    assert verdict.holds, verdict.explain()


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_reference_solution_scores_100_percent(
    lab: Lab, docker_engine: object, tmp_path: Path
) -> None:
    holds(run_case(lab, Case.reference(), tmp_path))


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_starter_scores_at_most_20_percent(lab: Lab, docker_engine: object, tmp_path: Path) -> None:
    holds(run_case(lab, Case.starter(), tmp_path))


@pytest.mark.parametrize(("lab", "mutant"), MUTANTS, ids=lambda v: getattr(v, "name", "") or v.id)
def test_mutant_loses_exactly_its_checks(
    lab: Lab, mutant: Mutant, docker_engine: object, tmp_path: Path
) -> None:
    """A mutant is graded whole; a red-team mistake (``only`` in its mutant.toml) is graded with
    ``--only`` those checks, and must lose the ones its ``fails`` names."""
    verdict = run_case(lab, Case.of(mutant), tmp_path)
    holds(verdict)
    if mutant.red_team:
        assert verdict.report.partial is not None, "a red-team mistake is graded with --only"
        lost = {check.id for check in verdict.report.checks if check.lost_points}
        assert set(mutant.fails) <= lost, verdict.explain()
    else:
        assert verdict.report.partial is None, "a mutant without only is graded whole"
