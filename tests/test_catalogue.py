"""The structure itself is tested: every lab complete, its README and its grader in step."""

from __future__ import annotations

import filecmp
import os
import re
from pathlib import Path

import pytest

from graders.catalogue import LAB_PARTS, SERVICES, Lab, discover_labs, load_lab
from graders.errors import BadInput
from tests.support.labs import declared_checks, mutants_of, readme_criteria

REPO = Path(__file__).resolve().parent.parent
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


def readme_lab_table(text: str) -> list[str]:
    """The first cell of every row of the first table in ``text`` (the labs' ids), backticks
    removed."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append(line.split("|")[1].strip().strip("`"))
        elif rows:
            break
    return rows[2:]  # the header and the --- line are not labs


def test_readme_lab_table_lists_every_lab_once_in_catalogue_order() -> None:
    listed = readme_lab_table((REPO / "README.md").read_text(encoding="utf-8"))
    assert listed == [lab.id for lab in LABS]


def test_readme_lab_table_reader_takes_the_first_table_only() -> None:
    text = "x\n| lab | a |\n| --- | --- |\n| `f/01-a` | b |\n| `f/02-b` | c |\n\n| `z` | d |\n"
    assert readme_lab_table(text) == ["f/01-a", "f/02-b"]


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_lab_folder_has_every_part(lab: Lab) -> None:
    missing = [part for part in LAB_PARTS if not (lab.path / part).exists()]
    assert not missing


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_lab_readme_says_what_of_the_learners_folder_is_graded(lab: Lab) -> None:
    text = (lab.path / "README.md").read_text()
    said = text.split("**What is graded:**", 1)[1].split("\n\n", 1)[0] if "**What" in text else ""
    expected = {"working-tree": "committed or not", "last-commit": "the last commit"}[lab.graded]
    assert expected in " ".join(said.split()), f"{lab.id}: README says {said!r}"


def test_a_lab_that_clones_the_repository_grades_its_last_commit() -> None:
    graded = {lab.id: lab.graded for lab in discover_labs()}
    assert graded.pop("foundation/02-data-versioning") == "last-commit"
    assert set(graded.values()) == {"working-tree"}


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
    targeted = {
        c
        for mutant in mutants_of(lab)
        if not mutant.red_team  # a red-team mistake is graded with --only: not a check's own
        for c in mutant.fails + mutant.fails_on_cluster
    }
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
        (("docker = true", 'services = ["dvc"]'), "requires.services"),  # a tool, not a service
        (("docker = true", 'services = ["mlflow", "mlflow"]'), "requires.services"),
        (("docker = true", 'tools = ["make"]'), "requires.tools"),
        (("docker = true", 'tools = "dvc"'), "requires.tools"),
        (("docker = true", "dokcer = true"), "requires.dokcer"),
        (("[requires]", 'timed_under_load = "yes"\n[requires]'), "timed_under_load"),
        (("summary = ", "sumary = "), "sumary"),
        (
            ("time_limit_seconds = 60", 'time_limit_seconds = 60\nstart_commit = "no"'),
            "start_commit",
        ),
        (("[requires]", '[submission]\ngraded = "head"\n[requires]'), "submission.graded"),
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
    assert (lab.timed_under_load, lab.requires.services, lab.requires.tools) == (False, (), ())


def test_lab_toml_reads_timed_under_load_services_and_tools(tmp_path: Path) -> None:
    folder = tmp_path / "foundation" / "01-x"
    folder.mkdir(parents=True)
    text = LAB_TOML.replace("[requires]", "timed_under_load = true\n[requires]")
    (folder / "lab.toml").write_text(text + 'services = ["mlflow"]\ntools = ["dvc", "kubectl"]\n')
    lab = load_lab(folder)
    assert (lab.timed_under_load, lab.requires.services, lab.requires.tools) == (
        True,
        ("mlflow",),
        ("dvc", "kubectl"),
    )
    assert lab.requires.describe() == "docker, mlflow, dvc, kubectl"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_its_fixture_module(service: str) -> None:
    assert (REPO / "graders" / "fixtures" / f"{service}.py").is_file()


@pytest.mark.parametrize(("services", "loaded"), [("[]", False), ('["mlflow"]', True)])
def test_a_service_s_fixtures_are_loaded_only_for_a_lab_that_declares_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, services: str, loaded: bool
) -> None:
    folder = pytester.path / "labs" / "foundation" / "01-x"
    folder.mkdir(parents=True)
    (folder / "lab.toml").write_text(
        LAB_TOML.replace("graders.labs.x", "x_grader") + f"services = {services}\n"
    )
    grader = pytester.path / "x_grader"
    grader.mkdir()
    for module in ("__init__.py", "checks.py", "fixtures.py"):
        (grader / module).write_text("")
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(pytester.path / "labs"))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(pytester.path), path])))
    shown = pytester.runpytest_subprocess(
        "--mlops-lab", "foundation/01-x", "--fixtures", "-p", "no:xdist"
    )
    assert shown.ret == 0, shown.stdout.str()
    assert ("mlflow_server" in shown.stdout.str()) is loaded
    assert "docker_client" in shown.stdout.str()  # the modules every lab gets
