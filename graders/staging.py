"""The copy of a submission that is graded: what the learner cannot slip past the grader.

Before a grading starts, the learner's folder is copied to a folder of the run's own, and only that
copy is graded:

- a symbolic link that leads outside the submission is not copied (a ``Dockerfile`` or
  ``requirements.txt`` linked to a file elsewhere on the machine would otherwise be read by the
  grader or sent to the engine, and its content shown in the report); links that stay inside are
  kept, made relative to the copy;
- what is neither a file, a folder nor a link (a named pipe, a socket, a device) is not copied,
  and never opened;
- a file the lab protects (``[submission] protected`` in ``lab.toml``) whose SHA-256 differs from
  the lab's starter copy, or that is missing, is graded as the starter has it.

Each of these is said in the report's ``notes``. The copy is bounded (``graders.intake``): a
submission over a limit raises :class:`~graders.intake.SubmissionRefused` before anything is
copied, and a disk without room for it raises an ``EnvironmentProblem``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from graders.catalogue import Lab
from graders.errors import GraderError
from graders.intake import LIMITS, Entry, IntakeLimits, Kind, copy_file, require_free_disk
from graders.intake import survey as survey_submission
from graders.text import clean_name

_LISTED = 5  # names shown in one note; the rest are counted


@dataclass
class Staged:
    """A staged copy of a submission and what staging changed in it."""

    path: Path
    outside_links: list[str] = field(default_factory=list)
    special_files: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per kind of change, for the report."""
        notes = []
        if self.outside_links:
            notes.append(
                "not graded: symbolic links that lead outside your folder "
                f"({_names(self.outside_links)}); the grader never follows them"
            )
        if self.special_files:
            notes.append(
                f"not graded: entries that are not files or folders ({_names(self.special_files)})"
            )
        if self.unreadable:
            notes.append(f"not graded: files the grader cannot read ({_names(self.unreadable)})")
        if self.replaced:
            notes.append(
                f"graded with the lab's own copy of {_names(self.replaced)}: the lab says not to "
                "change it, and yours differs (or is missing)"
            )
        return notes


def sha256(path: Path) -> str:
    """The SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stage_submission(
    lab: Lab, submission: Path, target: Path, limits: IntakeLimits = LIMITS
) -> Staged:
    """Copy ``submission`` to ``target`` (which must not exist) under the rules above; raise
    :class:`~graders.intake.SubmissionRefused` when it is over one of ``limits``."""
    root = Path(os.path.realpath(submission))
    found = survey_submission(root, limits)
    require_free_disk(target, found.total_bytes, limits)
    staged = Staged(target, unreadable=list(found.unreadable))
    target.mkdir(mode=0o755)
    for entry in found.entries:
        _copy_entry(root, entry, target, staged)
    for name in lab.protected:
        _restore_if_changed(lab, name, target, staged)
    return staged


def _copy_entry(root: Path, entry: Entry, target: Path, staged: Staged) -> None:
    source, destination = root / entry.relative, target / entry.relative
    if entry.kind is Kind.FOLDER:
        destination.mkdir(mode=0o755)
    elif entry.kind is Kind.LINK:
        _copy_link(root, source, destination, entry.relative, staged)
    elif entry.kind is Kind.FILE:
        try:
            if not copy_file(source, destination, entry.size):
                staged.special_files.append(entry.relative)
        except PermissionError:
            staged.unreadable.append(entry.relative)
    else:
        staged.special_files.append(entry.relative)


def _copy_link(root: Path, link: Path, destination: Path, relative: str, staged: Staged) -> None:
    """Keep a link whose every step stays inside ``root`` (relative, so the copy is
    self-contained); leave out any other."""
    resolved = Path(os.path.realpath(link))
    if resolved != root and root not in resolved.parents:
        staged.outside_links.append(relative)
        return
    destination.symlink_to(os.path.relpath(resolved, link.parent))


def _restore_if_changed(lab: Lab, name: str, target: Path, staged: Staged) -> None:
    original = lab.starter / name
    if not original.is_file():
        raise GraderError(
            f"{lab.path / 'lab.toml'} protects {name}, which its starter/ does not hold",
            "fix the lab: protect only files of starter/",
        )
    copy = target / name
    if copy.is_file() and not copy.is_symlink() and sha256(copy) == sha256(original):
        return
    for path in [*reversed(copy.relative_to(target).parents[:-1]), Path(name)]:
        inside = target / path
        if inside.is_symlink() or (inside.exists() and not inside.is_dir()):
            inside.unlink()  # a link or a file where the lab has a folder, or the file itself
        elif inside.is_dir() and path == Path(name):
            shutil.rmtree(inside)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(original, copy)
    staged.replaced.append(name)


def _names(names: list[str]) -> str:
    listed = ", ".join(clean_name(name) for name in names[:_LISTED])
    return listed + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")
