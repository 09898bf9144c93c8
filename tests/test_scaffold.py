"""``mlops-labs new``: a scaffolded lab passes the catalogue contract and its selftest at once.

Every scaffold is made in a throwaway copy of the repository (``graders/``, ``labs/``, ``tests/``,
``infra/``, ``README.md``), with ``PYTHONPATH`` and ``MLOPS_LABS_ROOT`` pointing there, so that
nothing is ever left in the real tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, run_cli

COPIED = ("graders", "labs", "tests", "infra", "bench", "README.md", "pyproject.toml")
# bench/grade_vs_raw.py's raw side of the new lab, run once as the benchmark runs it
RUN_RAW_SIDE = (
    "import sys, tempfile; from pathlib import Path; sys.path.insert(0, '.'); "
    "from raw import example; from raw._kit import Raw; "
    "assert example.LAB == 'professional/99-example'; "
    "example.run(Raw(Path(sys.argv[1]), Path(tempfile.mkdtemp()), 'no-runner-needed'))"
)
IGNORED = shutil.ignore_patterns("__pycache__", ".mypy_cache", ".pytest_cache")
# the catalogue's and the layout's rules a new lab must meet (the others are per lab: -k example)
CONTRACT_TESTS = (
    "example or belongs_to_exactly_one_lab or readme_lab_table or the_library_never_imports"
)


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    """A copy of the parts of the repository that ``mlops-labs new`` reads and writes."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=IGNORED, symlinks=True)
        else:
            shutil.copy2(source, copy / name)
    return copy


def in_copy(copy: Path) -> dict[str, str]:
    """The environment that points mlops-labs at the copy: its package and its labs."""
    return {**os.environ, "PYTHONPATH": str(copy), "MLOPS_LABS_ROOT": str(copy / "labs")}


def test_new_lab_passes_its_selftest_and_the_catalogue_contract(repository_copy: Path) -> None:
    env = in_copy(repository_copy)
    made = run_cli("new", "professional/99-example", env=env, cwd=repository_copy)
    assert made.returncode == 0, made.stderr
    lab = repository_copy / "labs" / "professional" / "99-example"
    for part in ("lab.toml", "README.md", "starter/config.toml", "solution/config.toml"):
        assert (lab / part).is_file(), part
    assert (repository_copy / "graders" / "labs" / "example" / "checks.py").is_file()
    assert "| `professional/99-example` |" in (repository_copy / "README.md").read_text()

    proven = run_cli("selftest", "professional/99-example", env=env, cwd=repository_copy)
    assert proven.returncode == 0, proven.stdout + proven.stderr
    assert "The contract holds: 5 cases." in proven.stdout

    contract = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
        + ["tests/test_catalogue.py", "tests/test_layout.py", "tests/test_example.py"]
        + ["-k", CONTRACT_TESTS],
        cwd=repository_copy,
        env={k: v for k, v in env.items() if k != "PYTEST_ADDOPTS"},  # the outer run's -n, -k…
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert contract.returncode == 0, contract.stdout[-3000:]
    assert " passed" in contract.stdout and "deselected" in contract.stdout
    raw_side = subprocess.run(  # the benchmark's raw side it wrote runs on the reference
        [sys.executable, "-c", RUN_RAW_SIDE, str(lab / "solution")],
        cwd=repository_copy / "bench",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert raw_side.returncode == 0, raw_side.stderr
    made_code = ["graders/labs/example", "tests/test_example.py", "bench/raw/example.py"]
    for lint in (["check"], ["format", "--check"]):  # what CI's code-quality test holds it to
        done = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), *lint, *made_code],
            cwd=repository_copy,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    # the real tree is untouched
    assert not (REPO / "labs" / "professional" / "99-example").exists()
    assert not (REPO / "graders" / "labs" / "example").exists()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("expert/01-x", "the level must be one of"),
        ("foundation", "the folder must be NN-slug"),
        ("foundation/1-x", "the folder must be NN-slug"),
        ("foundation/01-Feature-Store", "the folder must be NN-slug"),
        ("foundation/01-feature_store", "the folder must be NN-slug"),
        ("foundation/05-import", "is not a Python name"),
        ("foundation/05-3d-model", "is not a Python name"),
        ("foundation/01-tiny-lab", "already exists"),
        ("foundation/01-another-lab", "foundation/01 is taken by foundation/01-tiny-lab"),
        ("advanced/07-containerize-model", "the package 'containerize_model' is another lab's"),
    ],
)
def test_new_refuses_bad_input_in_one_line_and_writes_nothing(
    tmp_path: Path, name: str, problem: str
) -> None:
    labs = tmp_path / "labs"
    shutil.copytree(FIXTURES / "labs", labs)
    shutil.copytree(REPO / "graders", tmp_path / "graders", ignore=IGNORED)
    before = sorted(tmp_path.rglob("*"))
    done = run_cli("new", name, env=in_copy(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("mlops-labs: ") and done.stderr.count("\n") == 1, done.stderr
    assert problem in done.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_new_refuses_a_labs_root_that_does_not_exist(tmp_path: Path) -> None:
    shutil.copytree(REPO / "graders", tmp_path / "graders", ignore=IGNORED)
    env = {**in_copy(tmp_path), "MLOPS_LABS_ROOT": str(tmp_path / "nowhere")}
    done = run_cli("new", "foundation/05-feature-store", env=env)
    assert done.returncode == 2 and "no labs folder at" in done.stderr
    assert not (tmp_path / "nowhere").exists()
    assert not (tmp_path / "graders" / "labs" / "feature_store").exists()
