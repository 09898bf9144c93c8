"""The structure itself is tested: every lab complete, its README and its grader in step."""

from __future__ import annotations

import pytest

from graders.catalogue import LAB_PARTS, Lab, discover_labs
from tests.support.labs import declared_checks, mutants_of, readme_criteria

LABS = discover_labs()
README_SECTIONS = (
    "## Scenario",
    "## What you will build",
    "## Acceptance criteria",
    "## Run the grader",
    "## Hints",
    "## Cleanup",
)


def test_the_catalogue_has_labs() -> None:
    assert LABS, "no lab found under labs/"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_lab_folder_has_every_part(lab: Lab) -> None:
    missing = [part for part in LAB_PARTS if not (lab.path / part).exists()]
    assert not missing


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_lab_readme_has_the_fixed_sections_in_order(lab: Lab) -> None:
    text = (lab.path / "README.md").read_text()
    positions = [text.find(section) for section in README_SECTIONS]
    assert -1 not in positions and positions == sorted(positions)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_acceptance_criterion_has_a_check_and_every_check_a_criterion(lab: Lab) -> None:
    criteria = readme_criteria(lab)
    checks = [(c.spec.criterion, c.title, c.spec.points) for c in declared_checks(lab)]
    assert criteria, "the README lists no acceptance criterion"
    assert checks == criteria  # same numbers, same words, same points, same order


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_check_has_a_hint_and_a_mutant_that_targets_it(lab: Lab) -> None:
    checks = declared_checks(lab)
    assert all(c.spec.hint.strip() for c in checks)
    targeted = {check for mutant in mutants_of(lab) for check in mutant.fails}
    untested = [c.id for c in checks if c.id not in targeted]
    assert not untested, f"checks with no committed mutant: {untested}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_mutant_names_real_checks_and_overlays_real_files(lab: Lab) -> None:
    ids = {c.id for c in declared_checks(lab)}
    for mutant in mutants_of(lab):
        assert mutant.description and set(mutant.fails) <= ids, mutant.name
        for relative in mutant.delete:
            assert (lab.solution / relative).exists(), f"{mutant.name} deletes a missing {relative}"
        overlay = [p for p in mutant.path.rglob("*") if p.is_file() and p.name != "mutant.toml"]
        assert overlay or mutant.delete, f"{mutant.name} changes nothing"
