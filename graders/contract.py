"""What a lab's own files declare for its contract: its checks, its README's acceptance criteria,
and its mutants (committed patches on the solution, each with the checks it must lose).

``graders.selftest`` holds a lab to that contract by grading; ``tests/test_catalogue.py`` holds
the files to each other without grading.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from graders.catalogue import Lab
from graders.checks import DeclaredCheck, declared_checks
from graders.errors import BadInput, GraderError

CRITERION = re.compile(r"^(\d+)\. \*\*(.+?)\*\* \((\d+(?:\.\d+)?) points?\)", re.M)
# a mutant folder named so is no mistake but another correct solution: it keeps every point
PASSES_PREFIX = "passes-"


@dataclass(frozen=True)
class Mutant:
    """A committed patch on a lab's solution with one realistic mistake (or, named
    ``passes-…``, another correct solution)."""

    name: str
    path: Path
    description: str
    fails: tuple[str, ...]
    needs_images: tuple[str, ...] = field(default=())
    # checks it loses where a Kubernetes cluster answers (they are skipped where none does)
    fails_on_cluster: tuple[str, ...] = field(default=())
    # a red-team mistake: graded with ``--only`` these checks (criterion numbers or ids, as
    # strings), it must lose those ``fails`` names; empty: an ordinary mutant, graded whole
    only: tuple[str, ...] = field(default=())
    # words the message of every check it loses must hold: the message names the cause
    says: tuple[str, ...] = field(default=())

    @property
    def patch(self) -> Path:
        """The mistake, as a unified diff against ``solution/``."""
        return self.path / "mutant.patch"

    @property
    def red_team(self) -> bool:
        """True for a red-team mistake (``only`` in its ``mutant.toml``): graded with
        ``--only``, never whole."""
        return bool(self.only)

    @property
    def passes(self) -> bool:
        """True for a ``passes-…`` variant: another correct solution, which keeps 100 %."""
        return self.name.startswith(PASSES_PREFIX)

    def materialize(self, solution: Path, target: Path) -> Path:
        """Copy the solution to ``target`` and apply this mutant's patch there."""
        return patched_copy(solution, self.patch, target)


def patched_copy(solution: Path, patch: Path, target: Path) -> Path:
    """Copy ``solution`` to ``target`` (links as links) and apply ``patch`` (a unified diff
    against it, as ``git diff`` writes it) there."""
    shutil.copytree(solution, target, symlinks=True)
    done = subprocess.run(
        ["git", "apply", "-p1", "--whitespace=nowarn", str(patch.resolve())],
        cwd=target,
        check=False,
        capture_output=True,
        text=True,
        # never let git find an enclosing repository and apply the patch there instead
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(target.parent)},
    )
    if done.returncode != 0:
        raise GraderError(
            f"{patch} does not apply to {solution}: {done.stderr.strip()}",
            "make the patch again against solution/ (docs/authoring.md, Mutants)",
        )
    return target


def lab_checks(lab: Lab) -> list[DeclaredCheck]:
    """The checks of a lab's ``checks.py``, in file order."""
    return declared_checks(lab.checks_module)


def readme_criteria(lab: Lab) -> list[tuple[int, str, float]]:
    """The numbered acceptance criteria of a lab README: (number, bold title, points)."""
    text = (lab.path / "README.md").read_text(encoding="utf-8")
    section = text.split("## Acceptance criteria", 1)[-1].split("\n## ", 1)[0]
    return [(int(n), title, float(points)) for n, title, points in CRITERION.findall(section)]


def mutants_of(lab: Lab) -> list[Mutant]:
    """Every committed mutant of a lab, by folder name; a malformed ``mutant.toml`` is a
    :class:`BadInput` naming it."""
    found = []
    for folder in sorted(p for p in lab.mutants.glob("*/") if (p / "mutant.toml").exists()):
        path = folder / "mutant.toml"
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            found.append(
                Mutant(
                    name=folder.name,
                    path=folder,
                    description=str(raw["description"]),
                    fails=tuple(raw["fails"]),
                    needs_images=tuple(raw.get("needs_images", ())),
                    fails_on_cluster=tuple(raw.get("fails_on_cluster", ())),
                    only=_only(raw.get("only", [])),
                    says=tuple(str(words) for words in raw.get("says", ())),
                )
            )
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise BadInput(f"{path}: not a mutant.toml ({type(exc).__name__}: {exc})") from None
    return found


def _only(value: object) -> tuple[str, ...]:
    """A ``mutant.toml``'s ``only``: a list of criterion numbers or check ids."""
    if not isinstance(value, list) or not all(
        isinstance(name, str | int) and not isinstance(name, bool) for name in value
    ):
        raise TypeError("'only' is a list of criterion numbers or check ids, e.g. only = [3]")
    return tuple(str(name).strip() for name in value)


@contextmanager
def images_available(client: docker.DockerClient, images: tuple[str, ...]) -> Iterator[None]:
    """Make the images a mutant names exist for its build.

    Where a registry answers they are pulled. Offline (our CI) an image such as ``python:latest``
    is a stand-in: the base stand-in tagged under that name for the grading, and untagged
    afterwards.
    """
    from graders.containers.images import STAND_IN_BASE, ensure_image

    tagged = []
    for image in images:
        try:
            ensure_image(client, image)
        except Exception:
            ensure_image(client, STAND_IN_BASE)
            repository, tag = image.rsplit(":", 1)
            client.images.get(STAND_IN_BASE).tag(repository, tag)
            tagged.append(image)
    try:
        yield
    finally:
        for image in tagged:
            try:
                client.images.remove(image, noprune=True)
            except docker.errors.APIError:
                pass
