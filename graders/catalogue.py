"""The lab catalogue: every ``labs/<level>/<NN-slug>/lab.toml``, loaded and validated.

A malformed file is reported with its path and the field at fault, as a :class:`BadInput`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from graders.errors import BadInput

LEVELS = ("foundation", "professional", "advanced")
# a service a lab's grader runs: the plugin loads its fixtures, graders.fixtures.<service>
SERVICES = ("mlflow", "prometheus")
# command-line tools a learner needs on the machine for the lab (shown by `mlops-labs list`)
TOOLS = ("dvc", "kubectl", "promtool")
#: ``[submission] graded``: what of the learner's folder a grading reads.
GRADED = {
    "working-tree": "the files in {folder} as they are now, committed or not",
    "last-commit": "the last commit of the git repository {folder} (on its current branch; "
    "changes not committed are not graded)",
}
LAB_PARTS = ("README.md", "lab.toml", "starter", "solution")
KNOWN_FIELDS = {
    "id",
    "title",
    "level",
    "summary",
    "grader",
    "estimated_hours",
    "time_limit_seconds",
    "start_commit",
    "timed_under_load",
    "requires",
    "submission",
}
_FOLDER = re.compile(r"^\d{2}-[a-z0-9]+(-[a-z0-9]+)*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Requirements:
    """What a lab needs: from the machine (Docker, a kind cluster, command-line tools) and the
    services its grader runs (each selects the fixtures ``graders.fixtures.<service>``)."""

    docker: bool = False
    kind: bool = False
    services: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()

    def describe(self) -> str:
        """A short human list, e.g. ``docker, mlflow`` or ``docker, dvc``."""
        parts = (["docker"] if self.docker else []) + (["kind"] if self.kind else [])
        return ", ".join(parts + list(self.services) + list(self.tools)) or "none"


@dataclass(frozen=True)
class Lab:
    """One lab as its ``lab.toml`` describes it."""

    id: str
    title: str
    level: str
    summary: str
    grader: str
    estimated_hours: float
    time_limit_seconds: int
    requires: Requirements
    path: Path = field(compare=False)
    # `mlops-labs start` git-inits and commits the starter; false where versioning is the lab
    start_commit: bool = True
    # files the learner must not change ([submission] protected): graded as the starter has them
    protected: tuple[str, ...] = ()
    # its grader times a section under load (graders.timing): the test suite grades it first
    timed_under_load: bool = False
    # what of the learner's folder is graded ([submission] graded): one of GRADED
    graded: str = "working-tree"

    def graded_part(self, folder: Path) -> str:
        """What a grading of ``folder`` grades, said plainly (``grade`` prints it first)."""
        return GRADED[self.graded].format(folder=folder)

    @property
    def slug(self) -> str:
        """The folder name, e.g. ``01-containerize-model``."""
        return self.path.name

    @property
    def checks_module(self) -> str:
        """The module of checks in the lab's grader package, e.g.
        ``graders.labs.containerize_model.checks``."""
        return f"{self.grader}.checks"

    @property
    def fixtures_module(self) -> str:
        """The module of fixtures in the lab's grader package (the plugin loads it)."""
        return f"{self.grader}.fixtures"

    @property
    def starter(self) -> Path:
        """The skeleton a learner copies."""
        return self.path / "starter"

    @property
    def solution(self) -> Path:
        """The reference solution."""
        return self.path / "solution"

    @property
    def mutants(self) -> Path:
        """Committed copies of the solution with one mistake each (overlays)."""
        return self.path / "mutants"


def labs_root() -> Path:
    """Where the labs live: ``$MLOPS_LABS_ROOT``, else ``labs/`` beside the ``graders`` package."""
    configured = os.environ.get("MLOPS_LABS_ROOT")
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parent.parent / "labs"


def load_lab(folder: Path) -> Lab:
    """Load and validate ``folder/lab.toml``; raise :class:`BadInput` naming the field at fault."""
    path = folder / "lab.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: missing lab.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid TOML ({exc})") from None
    fields = _Fields(path, raw)
    for unknown in sorted(set(raw) - KNOWN_FIELDS):
        fields.fail(unknown, "is not a lab.toml field (a typo?)")
    level = fields.text("level")
    if level not in LEVELS:
        fields.fail("level", f"must be one of {', '.join(LEVELS)}, not {level!r}")
    if folder.parent.name != level:
        fields.fail("level", f"is {level!r} but the lab sits under {folder.parent.name!r}")
    if not _FOLDER.match(folder.name):
        fields.fail("id", f"folder name {folder.name!r} is not of the form NN-slug")
    lab_id = fields.text("id")
    if lab_id != f"{level}/{folder.name}":
        fields.fail("id", f"must be {level}/{folder.name!r}, not {lab_id!r}")
    grader = fields.text("grader")
    if not _MODULE.match(grader):
        fields.fail("grader", f"{grader!r} is not a Python module name")
    hours = fields.number("estimated_hours")
    limit = fields.number("time_limit_seconds")
    if hours <= 0:
        fields.fail("estimated_hours", "must be positive")
    if limit <= 0 or int(limit) != limit:
        fields.fail("time_limit_seconds", "must be a positive whole number")
    return Lab(
        id=lab_id,
        title=fields.text("title"),
        level=level,
        summary=fields.text("summary"),
        grader=grader,
        estimated_hours=float(hours),
        time_limit_seconds=int(limit),
        requires=_requirements(fields),
        path=folder,
        start_commit=fields.flag("start_commit", default=True),
        protected=_protected(fields),
        graded=_graded(fields),
        timed_under_load=fields.flag("timed_under_load", default=False),
    )


def discover_labs(root: Path | None = None) -> list[Lab]:
    """Every lab under ``root`` (default :func:`labs_root`), in level then folder order."""
    root = root or labs_root()
    labs = []
    for level in LEVELS:
        for folder in sorted((root / level).glob("*/")):
            if (folder / "lab.toml").exists():
                labs.append(load_lab(folder))
    return labs


def find_lab(name: str, root: Path | None = None) -> Lab:
    """The lab called ``name``: its full id, or a folder name or slug that names one lab only."""
    root = root or labs_root()
    if not root.is_dir():
        raise BadInput(f"no labs folder at {root} (set MLOPS_LABS_ROOT to a clone's labs/)")
    name = name.strip().strip("/")
    if name.count("/") == 1 and (root / name / "lab.toml").exists():
        return load_lab(root / name)
    labs = discover_labs(root)
    matches = [lab for lab in labs if name in (lab.slug, lab.slug.split("-", 1)[-1])]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(lab.id for lab in labs) or "none"
    if matches:
        raise BadInput(f"lab name {name!r} is ambiguous: {', '.join(m.id for m in matches)}")
    raise BadInput(f"unknown lab {name!r} (known labs: {known})")


def _requirements(fields: _Fields) -> Requirements:
    table = fields.raw.get("requires", {})
    if not isinstance(table, dict):
        fields.fail("requires", "must be a table")
    for unknown in sorted(set(table) - {"docker", "kind", "services", "tools"}):
        fields.fail(f"requires.{unknown}", "is not a [requires] field (a typo?)")
    for key in ("docker", "kind"):
        if not isinstance(table.get(key, False), bool):
            fields.fail(f"requires.{key}", "must be true or false")
    return Requirements(
        docker=table.get("docker", False),
        kind=table.get("kind", False),
        services=_drawn_from(fields, table, "services", SERVICES),
        tools=_drawn_from(fields, table, "tools", TOOLS),
    )


def _drawn_from(
    fields: _Fields, table: dict[str, Any], key: str, known: tuple[str, ...]
) -> tuple[str, ...]:
    """``[requires] key``: a list of distinct names drawn from ``known`` (default empty)."""
    names = table.get(key, [])
    if not isinstance(names, list) or any(name not in known for name in names):
        fields.fail(f"requires.{key}", f"must be a list drawn from {', '.join(known)}")
    if len(set(names)) != len(names):
        fields.fail(f"requires.{key}", "names one of them twice")
    return tuple(names)


def _protected(fields: _Fields) -> tuple[str, ...]:
    """``[submission] protected``: paths relative to the submission, inside it, as the starter
    names them."""
    table = fields.raw.get("submission", {})
    if not isinstance(table, dict):
        fields.fail("submission", "must be a table")
    for unknown in sorted(set(table) - {"protected", "graded"}):
        fields.fail(f"submission.{unknown}", "is not a [submission] field (a typo?)")
    paths = table.get("protected", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        fields.fail("submission.protected", "must be a list of paths")
    for path in paths:
        pure = PurePosixPath(path)
        if not path or pure.is_absolute() or ".." in pure.parts or str(pure) != path:
            fields.fail("submission.protected", f"{path!r} is not a plain relative path")
    return tuple(paths)


def _graded(fields: _Fields) -> str:
    """``[submission] graded``: a key of ``GRADED`` (default: the working tree)."""
    graded = fields.raw.get("submission", {}).get("graded", "working-tree")
    if graded not in GRADED:
        fields.fail("submission.graded", f"must be one of {', '.join(GRADED)}")
    return str(graded)


class _Fields:
    """Typed access to a parsed lab.toml that reports the path and field at fault."""

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path = path
        self.raw = raw

    def fail(self, name: str, problem: str) -> NoReturn:
        raise BadInput(f"{self.path}: field '{name}' {problem}")

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "is missing or not a non-empty string")
        return str(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
        return value

    def number(self, name: str) -> float:
        value = self.raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(name, "is missing or not a number")
        return float(value)
