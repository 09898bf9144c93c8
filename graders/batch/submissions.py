"""The submissions of a batch: listing them, and a private copy of each to grade.

Every non-hidden subfolder of the submissions folder is one submission, named by its folder (a
name of letters, digits and ``. _ - @ +``; any other byte is shown percent-encoded, so an odd
folder name never stops the batch). A plain folder is copied (symlinks kept as links, never
followed; sockets, pipes and devices left out, never opened). A git repository is graded at its
HEAD (``graders.batch.repositories``). Both are held to the intake limits first
(``graders.intake``): a submission over one raises :class:`~graders.intake.SubmissionRefused`.

A fingerprint (SHA-256 over relative paths, kinds, executable bits and bytes of the copy, plus the
commit) tells ``--resume`` whether a finished submission changed since it was graded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.batch.repositories import clone_head, refuse_foreign_repository
from graders.errors import BadInput
from graders.intake import LIMITS, IntakeLimits, Kind, Survey, copy_file, require_free_disk, survey

_SAFE_BYTES = re.compile(rb"[A-Za-z0-9_.@+-]")
_LONGEST_NAME = 100


@dataclass(frozen=True)
class Submission:
    """One subfolder of the submissions folder."""

    name: str
    path: Path

    @property
    def is_repository(self) -> bool:
        """True when the folder is a git repository (graded at its HEAD)."""
        return os.path.lexists(self.path / ".git")


@dataclass(frozen=True)
class Prepared:
    """A private copy of a submission, ready to grade."""

    path: Path
    fingerprint: str
    commit: str  # "" for a plain folder, or a repository without a commit


def list_submissions(folder: Path, *, skip: Path | None = None) -> list[Submission]:
    """Every non-hidden subfolder of ``folder``, sorted by name (``skip``, the batch's own output
    folder when it sits inside, is left out). Raises :class:`BadInput` for a missing folder."""
    if not folder.is_dir():
        raise BadInput(f"no such folder: {folder}")
    found: list[Submission] = []
    for entry in sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name)):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if skip is not None and entry.resolve() == skip.resolve():
            continue
        found.append(Submission(submission_name(entry.name), entry))
    return sorted(found, key=lambda submission: submission.name)


def submission_name(folder_name: str) -> str:
    """The name a submission goes by (its report folder, its gradebook row): the folder's name
    when it is letters, digits and ``. _ - @ +`` (not first: ``. - + @``), at most 100 bytes;
    otherwise each other byte percent-encoded (``Zoë`` is ``Zo%C3%AB``), a long name cut and
    told apart by a hash of the whole."""
    raw = os.fsencode(folder_name)
    name = "".join(
        chr(byte)
        if _SAFE_BYTES.fullmatch(bytes([byte])) and (i or byte not in b".-+@")
        else f"%{byte:02X}"
        for i, byte in enumerate(raw)
    )
    if len(name) > _LONGEST_NAME:
        name = name[: _LONGEST_NAME - 13] + "_" + hashlib.sha256(raw).hexdigest()[:12]
    return name


def prepare(submission: Submission, target: Path, limits: IntakeLimits = LIMITS) -> Prepared:
    """Make ``target`` a private copy of ``submission`` (see the module) and fingerprint it;
    raise :class:`~graders.intake.SubmissionRefused` when it is over one of ``limits`` or is a
    repository that is not its own."""
    found = survey(submission.path, limits)
    if submission.is_repository:
        refuse_foreign_repository(submission.path, found)
    if found.unreadable:
        raise PermissionError(f"cannot list {found.unreadable[0]} in the submission")
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    require_free_disk(target, found.total_bytes, limits)
    commit = ""
    if submission.is_repository:
        commit = clone_head(submission.path, target, found, limits)
    else:
        _copy_plain(submission.path, found, target)
    digest = content_hash(target)
    return Prepared(
        target, f"git:{commit}+sha256:{digest}" if commit else f"sha256:{digest}", commit
    )


def fingerprint(submission: Submission, scratch: Path) -> str:
    """The fingerprint :func:`prepare` would give, without keeping a copy (``scratch``: a folder
    for a repository's temporary clone)."""
    if not submission.is_repository:
        survey(submission.path)  # held to the limits first: a refused one is never unchanged
        return f"sha256:{content_hash(submission.path)}"
    with tempfile.TemporaryDirectory(dir=scratch) as temporary:
        return prepare(submission, Path(temporary) / submission.name).fingerprint


def content_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path, kind, executable bit and bytes (a symlink's
    target, never followed), in sorted order; a top-level ``.git`` is left out. Walks as
    ``os.walk`` does, top-down, but without recursion."""
    digest = hashlib.sha256()
    pending = [folder]
    while pending:
        here = pending.pop()
        try:
            with os.scandir(here) as listing:
                items = list(listing)
        except OSError:
            continue  # as os.walk: an unreadable folder adds nothing
        dirs = sorted(item.name for item in items if _is_dir(item))
        files = sorted(item.name for item in items if not _is_dir(item))
        if here == folder and ".git" in dirs:
            dirs.remove(".git")
        for name in files + [name for name in dirs if (here / name).is_symlink()]:
            _hash_entry(digest, folder, here / name)
        if not dirs and not files and here != folder:
            digest.update(b"D " + os.fsencode(here.relative_to(folder)) + b"\0")
        pending.extend(here / name for name in reversed(dirs) if not (here / name).is_symlink())
    return digest.hexdigest()


def _is_dir(item: os.DirEntry[str]) -> bool:
    try:
        return item.is_dir()  # follows a link, as os.walk does to sort names
    except OSError:
        return False


def _hash_entry(digest: hashlib._Hash, folder: Path, path: Path) -> None:
    relative = os.fsencode(path.relative_to(folder))  # any bytes a name may hold
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        digest.update(b"L " + relative + b" -> " + os.fsencode(os.readlink(path)) + b"\0")
    elif stat.S_ISREG(info.st_mode):
        executable = b"x" if info.st_mode & stat.S_IXUSR else b"-"
        digest.update(b"F " + relative + b" " + executable + b" %d\0" % info.st_size)
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(handle, "rb") as stream:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                return
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)


def _copy_plain(source: Path, found: Survey, target: Path) -> None:
    """Copy the entries of ``found``: folders, files, links as they are (never followed)."""
    target.mkdir(mode=0o755)
    for entry in found.entries:
        origin, destination = source / entry.relative, target / entry.relative
        if entry.kind is Kind.FOLDER:
            destination.mkdir(mode=0o755)
        elif entry.kind is Kind.LINK:
            os.symlink(os.readlink(origin), destination)
        elif entry.kind is Kind.FILE:
            copy_file(origin, destination, entry.size)
