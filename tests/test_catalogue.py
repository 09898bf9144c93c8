"""The structure itself is tested: every lab complete, its README and its grader in step."""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from graders.catalogue import LAB_PARTS, Lab, discover_labs, load_lab
from graders.errors import BadInput
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
    targeted = {c for mutant in mutants_of(lab) for c in mutant.fails + mutant.fails_on_cluster}
    untested = [c.id for c in checks if c.id not in targeted]
    assert not untested, f"checks with no committed mutant: {untested}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_mutant_names_real_checks_and_its_patch_applies(lab: Lab, tmp_path: Path) -> None:
    ids = {c.id for c in declared_checks(lab)}
    for mutant in mutants_of(lab):
        assert mutant.description and set(mutant.fails + mutant.fails_on_cluster) <= ids
        changed = mutant.materialize(lab.solution, tmp_path / mutant.name)
        same = filecmp.dircmp(lab.solution, changed)
        assert (
            same.left_only
            or same.right_only
            or same.diff_files
            or any(
                sub.diff_files or sub.left_only or sub.right_only for sub in same.subdirs.values()
            )
        ), f"{mutant.name} changes nothing"


LAB_TOML = """id = "foundation/01-x"
title = "X"
level = "foundation"
summary = "s"
grader = "graders.labs.x"
estimated_hours = 1
time_limit_seconds = 60

[requires]
docker = true
"""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('level = "foundation"', 'level = "expert"'), "level"),
        (('id = "foundation/01-x"', 'id = "foundation/02-y"'), "id"),
        (('title = "X"\n', ""), "title"),
        (("estimated_hours = 1", 'estimated_hours = "one"'), "estimated_hours"),
        (("time_limit_seconds = 60", "time_limit_seconds = 1.5"), "time_limit_seconds"),
        (('grader = "graders.labs.x"', 'grader = "graders/labs/x.py"'), "grader"),
        (("docker = true", "docker = 1"), "requires.docker"),
        (("docker = true", 'services = ["redis"]'), "requires.services"),
        (("summary = ", "sumary = "), "sumary"),
        (
            ("time_limit_seconds = 60", 'time_limit_seconds = 60\nstart_commit = "no"'),
            "start_commit",
        ),
    ],
)
def test_malformed_lab_toml_names_the_field_at_fault(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    folder = tmp_path / "foundation" / "01-x"
    folder.mkdir(parents=True)
    (folder / "lab.toml").write_text(LAB_TOML.replace(*change))
    with pytest.raises(BadInput, match=f"lab.toml: field '{re.escape(field)}' "):
        load_lab(folder)


def test_lab_toml_that_is_not_toml_is_reported_with_its_path(tmp_path: Path) -> None:
    folder = tmp_path / "foundation" / "01-x"
    folder.mkdir(parents=True)
    (folder / "lab.toml").write_text("id = [unclosed")
    with pytest.raises(BadInput, match="lab.toml: not valid TOML"):
        load_lab(folder)


def test_valid_lab_toml_loads_every_field(tmp_path: Path) -> None:
    folder = tmp_path / "foundation" / "01-x"
    folder.mkdir(parents=True)
    (folder / "lab.toml").write_text(LAB_TOML)
    lab = load_lab(folder)
    assert (lab.id, lab.level, lab.time_limit_seconds, lab.requires.docker) == (
        "foundation/01-x",
        "foundation",
        60,
        True,
    )
