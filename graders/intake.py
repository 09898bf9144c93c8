"""Taking a submission in: bounded, without recursion, and without opening anything but files.

Before a submission is copied (``graders.staging`` for every grading, ``graders.batch.submissions``
for a batch's private copy), :func:`survey` walks it once, iteratively, never following a link,
and stops at the first limit it passes (:class:`IntakeLimits`): too many nested folders, too many
files and folders, too many bytes (a sparse file counts by its apparent size, what a copy would
write) or a path too long. Passing one is the learner's doing: :class:`SubmissionRefused` says
which limit, and :func:`intake_report` makes the report that grades nothing and says why. Then
:func:`require_free_disk` checks the target's disk has room for what the survey counted, and
:func:`copy_file` copies one regular file, never opening a named pipe or a device (a pipe put in
a file's place after the survey would block the copy for ever). A Python virtual environment
(a folder holding ``pyvenv.cfg``, such as the ``.venv`` a lab's README has the learner make in
their folder) is left out without a word: it is the learner's tools, not their work, and its links
lead out of the folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from graders.catalogue import Lab
from graders.errors import EnvironmentProblem
from graders.report import Outcome, Report, RunStatus
from graders.text import clean, clean_name

_MB = 1 << 20
_GB = 1 << 30


@dataclass(frozen=True)
class IntakeLimits:
    """What a submission may hold. Every lab's reference is far below each (the largest, lab 02's
    repository with its DVC remote: 151 files and folders, 36 MB, 6 deep), and so is a learner's
    folder with the ``.venv`` the READMEs have them make (every lab's packages: ~30,000 files,
    ~0.9 GB, 14 deep)."""

    max_depth: int = 64  # nested folders
    max_entries: int = 100_000  # files, folders and links
    max_bytes: int = 10 * _GB  # apparent sizes, summed
    max_path: int = 1024  # bytes of one path inside the submission
    disk_margin: int = 512 * _MB  # free space left on the target's disk after the copy


LIMITS = IntakeLimits()


class SubmissionRefused(Exception):
    """The submission is over an intake limit, or is a repository the grader will not copy:
    nothing of it is graded (the learner's doing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Kind(Enum):
    """What a directory entry is, seen without following links."""

    FOLDER = "folder"
    FILE = "file"
    LINK = "link"
    SPECIAL = "special"  # a named pipe, a socket or a device: never opened, never copied


@dataclass(frozen=True)
class Entry:
    """One entry of a submission: its path inside it ("/"-separated), kind and apparent size."""

    relative: str
    kind: Kind
    size: int = 0


@dataclass
class Survey:
    """Every entry of a submission, parents before their contents, and their total size."""

    entries: list[Entry] = field(default_factory=list)
    total_bytes: int = 0
    unreadable: list[str] = field(default_factory=list)  # folders whose listing was refused


def survey(root: Path, limits: IntakeLimits = LIMITS) -> Survey:
    """List ``root`` without recursion and without following links; raise
    :class:`SubmissionRefused` at the first limit of ``limits`` the submission passes."""
    found = Survey()
    pending: list[tuple[str, int]] = [("", 0)]  # folders still to list, and their depth
    while pending:
        folder, depth = pending.pop()
        try:
            with os.scandir(root / folder if folder else root) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except PermissionError:
            found.unreadable.append(folder + "/")
            continue
        inner: list[str] = []
        for item in items:
            relative = f"{folder}/{item.name}" if folder else item.name
            if len(os.fsencode(relative)) > limits.max_path:
                raise refusal(
                    f"a path longer than {limits.max_path:,} bytes ({clean_name(relative[:80])}…)"
                )
            mode = item.stat(follow_symlinks=False)
            kind = _kind(mode.st_mode)
            if kind is Kind.FOLDER and is_virtual_environment(root / relative):
                continue  # a learner's .venv: tools, not work (left out, and without a word)
            size = mode.st_size if kind is Kind.FILE else 0
            if kind is Kind.FOLDER:
                if depth + 1 > limits.max_depth:
                    raise refusal(f"more than {limits.max_depth} nested folders")
                inner.append(relative)
            found.entries.append(Entry(relative, kind, size))
            found.total_bytes += size
            if len(found.entries) > limits.max_entries:
                raise refusal(f"more than {limits.max_entries:,} files and folders")
            if found.total_bytes > limits.max_bytes:
                raise refusal(f"more than {limits.max_bytes // _GB} GB of files (at full size)")
        pending.extend((name, depth + 1) for name in reversed(inner))
    return found


def is_virtual_environment(folder: Path) -> bool:
    """Whether ``folder`` is a Python virtual environment: it holds a ``pyvenv.cfg`` file, as
    ``python -m venv`` (and virtualenv, uv) write one (PEP 405)."""
    marker = folder / "pyvenv.cfg"
    try:
        return stat.S_ISREG(marker.lstat().st_mode)
    except OSError:
        return False


def require_free_disk(target: Path, needed: int, limits: IntakeLimits = LIMITS) -> None:
    """Raise :class:`EnvironmentProblem` unless the disk of ``target`` (which need not exist
    yet) has ``needed`` bytes free and the margin: no room is the machine's fault."""
    where = target
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if free < needed + limits.disk_margin:
        raise EnvironmentProblem(
            f"not enough free disk in {where} to copy the submission: {needed / _MB:,.0f} MB "
            f"needed (+ {limits.disk_margin / _MB:,.0f} MB margin), {free / _MB:,.0f} MB free",
            "free some disk space (docker system prune removes unused images), then grade again",
        )


def copy_file(source: Path, destination: Path, size: int) -> bool:
    """Copy at most ``size`` bytes (what the survey counted) of the regular file ``source``,
    with its mode and times, to the new file ``destination``. Return False, copying nothing,
    when ``source`` is no longer a regular file (it is opened without blocking and without
    following a link, so a pipe or a link swapped in is never read)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        handle = os.open(source, flags)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENXIO):  # a link now, or a socket
            return False
        raise
    with open(handle, "rb") as reader:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            return False
        with open(destination, "xb") as writer:
            remaining = size
            while remaining > 0:
                block = reader.read(min(remaining, _MB))
                if not block:
                    break
                writer.write(block)
                remaining -= len(block)
    os.chmod(destination, stat.S_IMODE(info.st_mode))
    os.utime(destination, ns=(info.st_atime_ns, info.st_mtime_ns))
    return True


def intake_report(lab: Lab, submission: str, problem: Exception, run_id: str = "") -> Report:
    """The final report of a submission that could not be taken in. Refused
    (:class:`SubmissionRefused`, the learner's doing): every check the lab declares scores 0 as
    *not run* and the note says why; the run is complete, not an error. Anything else (no room
    on the disk, a failed copy): the run is an error, never a low score."""
    from graders.checks import ungraded_report  # imports pytest: only for a refusal

    refused = isinstance(problem, SubmissionRefused)
    report = ungraded_report(lab, submission, RunStatus.COMPLETE if refused else RunStatus.ERROR)
    if run_id:
        report.environment["run_id"] = run_id
    if isinstance(problem, SubmissionRefused):
        report.notes.append(clean(problem.reason))
        report.environment["refused"] = True
    else:
        report.errors.insert(0, clean(f"could not copy the submission: {problem}"))
    for check in report.checks:
        if check.outcome == Outcome.NOT_RUN:
            check.message = (
                "not run: the grader refused the submission (see the note)"
                if report.status == RunStatus.COMPLETE
                else "not run: the submission could not be copied (see the errors)"
            )
    return report


def refusal(limit: str) -> SubmissionRefused:
    """The refusal of a submission that has ``limit`` ("more than 64 nested folders")."""
    return SubmissionRefused(
        f"graded nothing: the submission has {limit}; remove what is generated (a virtual "
        "environment, data copies, caches, build output) or move it out of the folder, then "
        "grade again"
    )


def _kind(mode: int) -> Kind:
    if stat.S_ISLNK(mode):
        return Kind.LINK
    if stat.S_ISDIR(mode):
        return Kind.FOLDER
    if stat.S_ISREG(mode):
        return Kind.FILE
    return Kind.SPECIAL


#: What taking a submission in may raise: :func:`intake_report` turns each into a final report.
INTAKE_PROBLEMS: tuple[type[Exception], ...] = (SubmissionRefused, EnvironmentProblem, OSError)
