"""The files ``mlops-labs new`` writes, as ``string.Template`` texts (``${name}`` placeholders).

The example lab they make is real and cheap: the learner writes a training config, ``config.toml``,
and the grader reads it (no Docker, no learner code run), so ``mlops-labs selftest`` proves it in
seconds. An author replaces the config by the lab's own task, keeping the shape: one check per
acceptance criterion, a mutant per check, a starter that scores nothing.
"""

from __future__ import annotations

# labs/<level>/<NN-slug>/, relative paths -> text
LAB_FILES = {
    "lab.toml": """\
id = "${lab_id}"
title = "${title}"
level = "${level}"
summary = "TODO: one sentence: what the learner builds, and how it is graded."
grader = "graders.labs.${package}"   # the grader package: checks.py, fixtures.py
estimated_hours = 1
time_limit_seconds = 120              # the whole grading run
timed_under_load = false              # true when a check times a section under load

[requires]
docker = false                        # true when the grader builds or runs containers
kind = false                          # true when checks need a kind cluster
services = []                         # services the grader runs: mlflow, prometheus
""",
    "README.md": """\
# ${title}

## Scenario

TODO: who has what problem, and why it matters (a paragraph or two).

## What you will build

Start from the files in your lab folder: `config.toml`, the training settings that `train.py`
(not part of this example) reads.

You deliver `config.toml` as valid TOML with a `[training]` table whose `seed` is a fixed whole
number, so that two trainings split and fit the data the same way.

## Acceptance criteria

1. **The training config is valid TOML** (4 points) — `config.toml` parses as TOML and holds a
   `[training]` table. Criterion 2 needs this one.
2. **The training seed is a fixed whole number** (6 points) — `training.seed` is an integer, not
   a string, a float or absent.

## Run the grader

**What is graded:** the files in your folder as they are when you run the grader, committed or not
(`grade` says so in its first line). A Python virtual environment in it (`.venv/`) is left out.

```bash
mlops-labs grade ${lab_id} .
```

## Hints

1. `python -c "import tomllib; print(tomllib.load(open('config.toml', 'rb')))"` shows what a
   TOML reader sees.
2. `seed = "42"` is a string; `seed = 42` is a number.

## Cleanup

Nothing to clean up: the grader leaves nothing running.
""",
    "starter/config.toml": """\
# Training settings, read by train.py.
# TODO: put them in a [training] table, and fix the seed (see the README).
seed =
test_size = 0.2
""",
    "solution/config.toml": """\
# Training settings, read by train.py.
[training]
seed = 42
test_size = 0.2
n_estimators = 100
""",
}

# mutants/<name>/: (description, the checks it loses, solution/config.toml as it changes it)
MUTANTS = {
    "invalid-toml": (
        "A value is left unfinished (seed =), so config.toml is not valid TOML.",
        ("test_config_is_valid_toml",),
        "# Training settings, read by train.py.\n[training]\nseed =\ntest_size = 0.2\n"
        "n_estimators = 100\n",
    ),
    "seed-not-fixed": (
        "The seed is removed, so every training splits and fits the data differently.",
        ("test_seed_is_fixed",),
        "# Training settings, read by train.py.\n[training]\ntest_size = 0.2\nn_estimators = 100\n",
    ),
    "passes-dotted-keys": (
        "Not a mistake: the [training] table written with dotted keys (training.seed = 42), "
        "which TOML reads as the same table. It must keep every point.",
        (),
        "# Training settings, read by train.py.\ntraining.seed = 42\ntraining.test_size = 0.2\n"
        "training.n_estimators = 100\n",
    ),
}
MUTATED_FILE = "config.toml"

# graders/labs/<package>/, file names -> text
PACKAGE_FILES = {
    "__init__.py": '''\
"""The grader of ${lab_id}: ${title}."""
''',
    "checks.py": '''\
"""The checks of ${lab_id}: one per acceptance criterion of its README,
in the same order, with the same title (the docstring's first line) and points.

Nothing here runs the learner's code: these checks only read a file. A lab that runs it does so in
the sandbox (docs/authoring.md, "Running learner code").
"""

from __future__ import annotations

from graders.checks import check
from graders.labs.${package}.fixtures import TrainingConfig


@check(1, points=4, hint="Make config.toml valid TOML with a [training] table (see the README).")
def test_config_is_valid_toml(training_config: TrainingConfig) -> None:
    """The training config is valid TOML"""
    assert not training_config.problem, training_config.problem


@check(
    2,
    points=6,
    hint="Set training.seed to a whole number, e.g. seed = 42 (no quotes).",
    requires=["test_config_is_valid_toml"],
)
def test_seed_is_fixed(training_config: TrainingConfig) -> None:
    """The training seed is a fixed whole number"""
    seed = training_config.training.get("seed")
    assert isinstance(seed, int) and not isinstance(seed, bool), (
        f"training.seed is {seed!r}, not a whole number"
    )
''',
    "fixtures.py": '''\
"""Fixtures of ${lab_id}:
what its checks read from the learner's copy (the plugin loads this module for the lab)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CONFIG = "config.toml"


@dataclass(frozen=True)
class TrainingConfig:
    """The learner's ``[training]`` table, or why it could not be read."""

    training: dict[str, Any] = field(default_factory=dict)
    problem: str = ""


def read_config(path: Path) -> TrainingConfig:
    """Read the ``[training]`` table of ``path``; what is wrong with the file is reported in
    ``problem``, never raised (it is the learner's to fix)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TrainingConfig(problem=f"{path.name} is missing")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return TrainingConfig(problem=f"{path.name} is not valid TOML: {exc}")
    training = raw.get("training")
    if not isinstance(training, dict):
        return TrainingConfig(problem=f"{path.name} has no [training] table")
    return TrainingConfig(training)


@pytest.fixture
def training_config(submission_dir: Path) -> TrainingConfig:
    """The learner's ``config.toml``, read from the run's own copy of the submission."""
    return read_config(submission_dir / CONFIG)
''',
}

# tests/test_<package>.py
TEST_FILE = '''\
"""The ${lab_id} grader's own code, tested without grading."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.labs.${package}.fixtures import read_config


def test_read_config_gives_the_training_table(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[training]\\nseed = 7\\n")
    found = read_config(tmp_path / "config.toml")
    assert (found.training, found.problem) == ({"seed": 7}, "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [(None, "is missing"), ("seed =\\n", "not valid TOML"), ("seed = 7\\n", "no [training]")],
)
def test_read_config_says_what_is_wrong(tmp_path: Path, text: str | None, problem: str) -> None:
    path = tmp_path / "config.toml"
    if text is not None:
        path.write_text(text)
    found = read_config(path)
    assert found.training == {} and problem in found.problem
'''

# bench/raw/<package>.py: the raw side of bench/grade_vs_raw.py (docs/authoring.md, the time budget)
RAW_FILE = '''\
"""${lab_id} by hand.

The work a grading of its reference does, with no harness around it (bench/raw/__init__.py). The
new lab's checks read solution/config.toml; as the checks grow, do here the same builds,
containers, commands and probes, as many times as a grading does.
"""

from __future__ import annotations

import tomllib

from raw._kit import Raw

LAB = "${lab_id}"


def run(raw: Raw) -> None:
    """The grading's work, by hand."""
    with (raw.solution / "config.toml").open("rb") as stream:
        tomllib.load(stream)
'''
