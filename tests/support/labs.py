"""Helpers for the tests that hold labs to their contract: checks of a grader, mutants (patches)."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from graders.catalogue import Lab
from graders.checks import MARKER, CheckSpec, spec_of, title_of

CRITERION = re.compile(r"^(\d+)\. \*\*(.+?)\*\* \((\d+(?:\.\d+)?) points?\)", re.M)


@dataclass(frozen=True)
class DeclaredCheck:
    """A check as its grader module declares it."""

    id: str
    title: str
    spec: CheckSpec


@dataclass(frozen=True)
class Mutant:
    """A committed patch on a lab's solution with one realistic mistake."""

    name: str
    path: Path
    description: str
    fails: tuple[str, ...]
    needs_images: tuple[str, ...] = field(default=())
    # checks it loses where a Kubernetes cluster answers (they are skipped where none does)
    fails_on_cluster: tuple[str, ...] = field(default=())

    @property
    def patch(self) -> Path:
        """The mistake, as a unified diff against ``solution/``."""
        return self.path / "mutant.patch"

    def materialize(self, solution: Path, target: Path) -> Path:
        """Copy the solution to ``target`` and apply this mutant's patch there."""
        return patched_copy(solution, self.patch, target)


def patched_copy(solution: Path, patch: Path, target: Path) -> Path:
    """Copy ``solution`` to ``target`` (links as links) and apply ``patch`` (a unified diff
    against it, as ``git diff`` writes it) there."""
    shutil.copytree(solution, target, symlinks=True)
    subprocess.run(
        ["git", "apply", "-p1", "--whitespace=nowarn", str(patch.resolve())],
        cwd=target,
        check=True,
        capture_output=True,
        # never let git find an enclosing repository and apply the patch there instead
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(target.parent)},
    )
    return target


def declared_checks(lab: Lab) -> list[DeclaredCheck]:
    """The checks of a lab's grader module, in file order."""
    module = importlib.import_module(lab.checks_module)
    checks = []
    for name, function in vars(module).items():
        marks = [m for m in getattr(function, "pytestmark", []) if m.name == MARKER]
        if name.startswith("test_") and marks:
            title = title_of(function)
            checks.append(DeclaredCheck(name, title, spec_of(marks[0])))
    return checks


def readme_criteria(lab: Lab) -> list[tuple[int, str, float]]:
    """The numbered acceptance criteria of a lab README: (number, bold title, points)."""
    text = (lab.path / "README.md").read_text(encoding="utf-8")
    section = text.split("## Acceptance criteria", 1)[-1].split("\n## ", 1)[0]
    return [(int(n), title, float(points)) for n, title, points in CRITERION.findall(section)]


def mutants_of(lab: Lab) -> list[Mutant]:
    """Every committed mutant of a lab."""
    found = []
    for folder in sorted(p for p in lab.mutants.glob("*/") if (p / "mutant.toml").exists()):
        raw = tomllib.loads((folder / "mutant.toml").read_text())
        found.append(
            Mutant(
                name=folder.name,
                path=folder,
                description=raw["description"],
                fails=tuple(raw["fails"]),
                needs_images=tuple(raw.get("needs_images", ())),
                fails_on_cluster=tuple(raw.get("fails_on_cluster", ())),
            )
        )
    return found
