"""The copy of a submission that is graded: what the learner cannot slip past the grader.

Before a grading starts, the learner's folder is copied to a folder of the run's own, and only that
copy is graded:

- a symbolic link that leads outside the submission is not copied (a ``Dockerfile`` or
  ``requirements.txt`` linked to a file elsewhere on the machine would otherwise be read by the
  grader or sent to the engine, and its content shown in the report); links that stay inside are
  kept, made relative to the copy;
- what is neither a file, a folder nor a link (a named pipe, a socket, a device) is not copied;
- a file the lab protects (``[submission] protected`` in ``lab.toml``) whose SHA-256 differs from
  the lab's starter copy, or that is missing, is graded as the starter has it.

Each of these is said in the report's ``notes``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from graders.catalogue import Lab
from graders.errors import GraderError

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


def stage_submission(lab: Lab, submission: Path, target: Path) -> Staged:
    """Copy ``submission`` to ``target`` (which must not exist) under the rules above."""
    root = Path(os.path.realpath(submission))
    staged = Staged(target)
    _copy_folder(root, root, target, staged)
    for name in lab.protected:
        _restore_if_changed(lab, name, target, staged)
    return staged


def _copy_folder(root: Path, folder: Path, target: Path, staged: Staged) -> None:
    target.mkdir(mode=0o755)
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except PermissionError:
        staged.unreadable.append(str(folder.relative_to(root)) + "/")
        return
    for entry in entries:
        source, destination = Path(entry.path), target / entry.name
        relative = str(source.relative_to(root))
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            _copy_link(root, source, destination, relative, staged)
        elif stat.S_ISDIR(mode):
            _copy_folder(root, source, destination, staged)
        elif stat.S_ISREG(mode):
            try:
                shutil.copy2(source, destination, follow_symlinks=False)
            except PermissionError:
                staged.unreadable.append(relative)
        else:
            staged.special_files.append(relative)


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
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")
