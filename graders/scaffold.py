"""``mlops-labs new LEVEL/NN-slug``: a new lab that passes the catalogue contract at once.

It writes the lab folder under the labs root (``labs/<level>/<NN-slug>/``: ``lab.toml``, a README
with the fixed sections, ``starter/``, ``solution/`` and mutants), the grader package
``graders/labs/<package>/`` (always in the ``graders`` package in use), the grader's unit tests
``tests/test_<package>.py`` and a row of the README's lab table, both in the repository the labs
root belongs to. The package is the slug with ``NN-`` dropped and ``-`` turned into ``_``.
"""

from __future__ import annotations

import json
import keyword
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from string import Template

import graders
from graders import lab_template
from graders.catalogue import LEVELS, discover_labs, labs_root
from graders.errors import BadInput, GraderError

FOLDER = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)$")


@dataclass(frozen=True)
class NewLab:
    """Where a new lab's files go."""

    level: str
    folder: str
    package: str
    labs: Path  # the labs root
    library: Path  # the ``graders`` package's folder

    @property
    def lab_id(self) -> str:
        """E.g. ``professional/99-example``."""
        return f"{self.level}/{self.folder}"

    @property
    def path(self) -> Path:
        """The lab folder."""
        return self.labs / self.level / self.folder

    @property
    def package_path(self) -> Path:
        """The grader package's folder."""
        return self.library / "labs" / self.package

    @property
    def test_path(self) -> Path:
        """The grader's unit tests, in the repository of the labs root."""
        return self.labs.parent / "tests" / f"test_{self.package}.py"

    @property
    def raw_path(self) -> Path:
        """Its raw side in ``bench/grade_vs_raw.py``, in the repository of the labs root."""
        return self.labs.parent / "bench" / "raw" / f"{self.package}.py"

    @property
    def title(self) -> str:
        """A first title, from the slug: ``99-feature-store`` gives ``Feature store``."""
        return self.folder.split("-", 1)[1].replace("-", " ").capitalize()


def plan_lab(name: str, labs: Path | None = None, library: Path | None = None) -> NewLab:
    """Read ``LEVEL/NN-slug`` and check that nothing of the new lab exists yet; a
    :class:`BadInput` saying what is wrong otherwise."""
    level, _, folder = name.strip().strip("/").partition("/")
    if level not in LEVELS:
        raise BadInput(f"{name!r}: the level must be one of {', '.join(LEVELS)} (LEVEL/NN-slug)")
    found = FOLDER.match(folder)
    if not found:
        raise BadInput(
            f"{name!r}: the folder must be NN-slug: two digits, a dash, then lower-case words "
            "joined by dashes (e.g. 05-feature-store)"
        )
    package = found.group(2).replace("-", "_")
    if not package.isidentifier() or keyword.iskeyword(package):
        raise BadInput(f"{name!r}: its package name {package!r} is not a Python name")
    new = NewLab(
        level,
        folder,
        package,
        (labs or labs_root()).resolve(),
        (library or Path(graders.__file__).parent).resolve(),
    )
    if not new.labs.is_dir():
        raise BadInput(f"no labs folder at {new.labs} (set MLOPS_LABS_ROOT to a clone's labs/)")
    if new.path.exists():
        raise BadInput(f"{new.lab_id} already exists: {new.path}")
    same_number = sorted((new.labs / level).glob(f"{found.group(1)}-*"))
    if same_number:
        raise BadInput(f"{level}/{found.group(1)} is taken by {level}/{same_number[0].name}")
    for taken in (new.package_path, new.test_path, new.raw_path):
        if taken.exists():
            raise BadInput(f"{taken} already exists (the package {package!r} is another lab's?)")
    return new


def scaffold_lab(new: NewLab) -> list[Path]:
    """Write every file of the new lab; the files written, in order. Should a step fail, what
    was written is removed again."""
    try:
        return _write_lab(new)
    except BaseException:
        shutil.rmtree(new.path, ignore_errors=True)
        shutil.rmtree(new.package_path, ignore_errors=True)
        new.test_path.unlink(missing_ok=True)
        new.raw_path.unlink(missing_ok=True)
        raise


def _write_lab(new: NewLab) -> list[Path]:
    values = {
        "lab_id": new.lab_id,
        "title": new.title,
        "level": new.level,
        "package": new.package,
    }
    written = []
    for relative, text in lab_template.LAB_FILES.items():
        written.append(_write(new.path / relative, text, values))
    for name, (description, fails, changed) in lab_template.MUTANTS.items():
        folder = new.path / "mutants" / name
        listed = ", ".join(f'"{check}"' for check in fails)
        toml = f"description = {json.dumps(description)}\nfails = [{listed}]\n"
        written.append(_write(folder / "mutant.toml", toml, {}))
        patch = make_patch(new.path / "solution", {lab_template.MUTATED_FILE: changed})
        written.append(_write(folder / "mutant.patch", patch, {}))
    for relative, text in lab_template.PACKAGE_FILES.items():
        written.append(_write(new.package_path / relative, text, values))
    written.append(_write(new.test_path, lab_template.TEST_FILE, values))
    if new.raw_path.parent.is_dir():  # a clone of this repository: the benchmarks are there
        written.append(_write(new.raw_path, lab_template.RAW_FILE, values))
    readme = new.labs.parent / "README.md"
    if add_to_lab_table(readme, new):
        written.append(readme)
    return written


def make_patch(solution: Path, changes: dict[str, str]) -> str:
    """A unified diff against ``solution`` that gives its files the ``changes`` (relative path ->
    new text), as ``git diff --no-index`` writes it, with paths relative to ``solution``."""
    with tempfile.TemporaryDirectory(prefix="mlops-labs-patch-") as temporary:
        before, after = Path(temporary) / "a", Path(temporary) / "b"
        shutil.copytree(solution, before)
        shutil.copytree(solution, after)
        for relative, text in changes.items():
            (after / relative).write_text(text, encoding="utf-8")
        done = subprocess.run(
            ["git", "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "diff"]
            + ["--no-index", "--no-color", "--no-ext-diff", "a", "b"],
            cwd=temporary,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 1:  # 1: the trees differ, as they must
        raise GraderError(f"git diff --no-index failed: {done.stderr.strip()}", "install git")
    return "".join(_relative_to_solution(line) for line in done.stdout.splitlines(keepends=True))


def _relative_to_solution(line: str) -> str:
    """``a/a/config.toml`` -> ``a/config.toml`` in the header lines of a diff of ``a`` and ``b``."""
    if line.startswith(("diff --git ", "--- ", "+++ ")):
        return line.replace(" a/a/", " a/").replace(" b/b/", " b/")
    return line


def add_to_lab_table(readme: Path, new: NewLab) -> bool:
    """Add the new lab's row to the first table of ``readme`` (the lab table: one row per lab,
    its id first), in catalogue order; False when there is no such table."""
    if not readme.is_file():
        return False
    lines = readme.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    if len(rows) < 2:
        return False
    table = rows[: next((n for n in range(1, len(rows)) if rows[n] != rows[n - 1] + 1), len(rows))]
    order = [lab.id for lab in discover_labs(new.labs)]
    later = set(order[order.index(new.lab_id) + 1 :]) if new.lab_id in order else set()
    position = table[-1] + 1
    for index in table[2:]:
        if lines[index].split("|")[1].strip().strip("`") in later:
            position = index
            break
    cells = lines[table[0]].count("|") - 1
    row = "| `" + new.lab_id + "` |" + " TODO |" * (cells - 1) + "\n"
    lines.insert(position, row)
    readme.write_text("".join(lines), encoding="utf-8")
    return True


def _write(path: Path, text: str, values: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(Template(text).substitute(values) if values else text, encoding="utf-8")
    return path
