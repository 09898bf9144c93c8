"""The submissions of a batch: listing them, and a private copy of each to grade.

Every non-hidden subfolder of the submissions folder is one submission. A plain folder is copied
(symlinks kept as links, never followed; sockets, pipes and devices left out). A git repository is
graded at its HEAD: a ``git clone --no-local`` (git's upload-pack is built to be run on untrusted
repositories; no other git command ever runs on the learner's folder, and none reads its config),
plus the files its ``.gitignore`` keeps out of every commit (a local DVC remote, data) — tracked
files come from HEAD, so uncommitted edits and untracked files are left out.

A fingerprint (SHA-256 over relative paths, kinds, executable bits and bytes of the copy, plus the
commit) tells ``--resume`` whether a finished submission changed since it was graded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.errors import BadInput

_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,99}")
_GIT_CONFIG = (
    "[safe]\n\tdirectory = *\n[core]\n\texcludesFile = /dev/null\n\thooksPath = /dev/null\n"
)


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
    folder when it sits inside, is left out). Raises :class:`BadInput` for a missing folder or a
    name that is not safe as a file name."""
    if not folder.is_dir():
        raise BadInput(f"no such folder: {folder}")
    found: list[Submission] = []
    unsafe: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if skip is not None and entry.resolve() == skip.resolve():
            continue
        if _SAFE_NAME.fullmatch(entry.name) is None:
            unsafe.append(repr(entry.name))
        found.append(Submission(entry.name, entry))
    if unsafe:
        raise BadInput(
            f"submission folder names must be letters, digits and . _ - @ + (at most 100, not "
            f"starting with . - + @); rename: {', '.join(unsafe)}"
        )
    return found


def prepare(submission: Submission, target: Path) -> Prepared:
    """Make ``target`` a private copy of ``submission`` (see the module) and fingerprint it."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    commit = ""
    if submission.is_repository:
        commit = _clone_head(submission.path, target)
    else:
        shutil.copytree(submission.path, target, symlinks=True, ignore=_special_files)
    digest = content_hash(target)
    return Prepared(
        target, f"git:{commit}+sha256:{digest}" if commit else f"sha256:{digest}", commit
    )


def fingerprint(submission: Submission, scratch: Path) -> str:
    """The fingerprint :func:`prepare` would give, without keeping a copy (``scratch``: a folder
    for a repository's temporary clone)."""
    if not submission.is_repository:
        return f"sha256:{content_hash(submission.path)}"
    with tempfile.TemporaryDirectory(dir=scratch) as temporary:
        return prepare(submission, Path(temporary) / submission.name).fingerprint


def content_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path, kind, executable bit and bytes (a symlink's
    target, never followed), in sorted order; a top-level ``.git`` is left out."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if here == folder and ".git" in dirs:
            dirs.remove(".git")
        dirs.sort()
        entries = sorted(files) + [name for name in dirs if (here / name).is_symlink()]
        for name in entries:
            path = here / name
            relative = os.fsencode(path.relative_to(folder))  # any bytes a name may hold
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                digest.update(b"L " + relative + b" -> " + os.fsencode(os.readlink(path)) + b"\0")
            elif stat.S_ISREG(info.st_mode):
                executable = b"x" if info.st_mode & stat.S_IXUSR else b"-"
                digest.update(b"F " + relative + b" " + executable + b" %d\0" % info.st_size)
                with path.open("rb") as stream:
                    for block in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(block)
        if not dirs and not files and here != folder:
            digest.update(b"D " + os.fsencode(here.relative_to(folder)) + b"\0")
    return digest.hexdigest()


def _special_files(folder: str, names: list[str]) -> set[str]:
    """A ``copytree`` ignore function: sockets, pipes and devices (copying a pipe would block)."""
    left_out = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            left_out.add(name)
    return left_out


def _clone_head(source: Path, target: Path) -> str:
    """Clone ``source`` at HEAD into ``target``, add its ignored files; return the commit id."""
    with tempfile.TemporaryDirectory(prefix="mlops-labs-git-") as home:
        config = Path(home) / "gitconfig"
        config.write_text(_GIT_CONFIG, encoding="utf-8")
        env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "HOME": home,
        }
        _git(
            env, "clone", "--quiet", "--no-local", "--no-hardlinks", "--", str(source), str(target)
        )
        head = subprocess.run(
            ["git", "-C", str(target), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        _copy_ignored(source, target, env)
    return head.stdout.strip() if head.returncode == 0 else ""


def _copy_ignored(source: Path, target: Path, env: dict[str, str]) -> None:
    """Copy from ``source`` the files that the clone's ignore rules keep out of git."""
    paths: list[str] = []
    for root, dirs, files in os.walk(source):
        here = Path(root)
        if here == source and ".git" in dirs:
            dirs.remove(".git")
        relative = here.relative_to(source)
        # git refuses (and stops at) a path beyond a link of the clone; nothing goes there anyway
        dirs[:] = [name for name in dirs if not _is_link_or_file(target / relative / name)]
        paths += [(relative / name).as_posix() for name in files]
        for name in dirs:
            kind = "" if (here / name).is_symlink() else "/"
            paths.append((relative / name).as_posix() + kind)
    if not paths:
        return
    ignored = subprocess.run(
        ["git", "-C", str(target), "check-ignore", "--stdin", "-z"],
        input=b"\0".join(os.fsencode(path) for path in paths) + b"\0",
        capture_output=True,
        env=env,
        check=False,
    )
    for found in filter(None, ignored.stdout.split(b"\0")):
        name = os.fsdecode(found).rstrip("/")
        _copy_one(source / name, target, name)


def _is_link_or_file(path: Path) -> bool:
    return path.is_symlink() or (path.exists() and not path.is_dir())


def _copy_one(source: Path, target: Path, relative: str) -> None:
    """Copy one file, link or (empty) folder, never through a symlink inside ``target``."""
    destination = target / relative
    parent = target
    for part in Path(relative).parts[:-1]:
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            return  # HEAD has a link or a file here: writing through it could leave the copy
        parent.mkdir(exist_ok=True)
    if os.path.lexists(destination):
        return
    mode = source.lstat().st_mode
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), destination)
    elif stat.S_ISDIR(mode):
        destination.mkdir()
    elif stat.S_ISREG(mode):
        shutil.copy2(source, destination, follow_symlinks=False)


def _git(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(["git", *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise OSError(f"git {args[0]} failed: {done.stderr.strip()[-500:]}")
