"""Hostile submissions for intake and batch, built in a test's own folder.

Unlike the patches beside this file, these cannot be committed as files (a 100 GB sparse file, a
named pipe, 5,000 nested folders, a ``.git`` pointing at a classmate's repository): each is a
function that builds one into ``folder``, on top of an honest part (the tiny lab's
``answer.txt``), and returns a proof that the attack is real, checked before it is graded. What
each did before the intake and the batch were bounded (issue 19, items 5 and 6) is said in its
docstring; ``tests/test_adversarial.py`` and ``tests/test_batch.py`` grade them for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graders.intake import LIMITS

GB = 1 << 30
DEPTH = 5_000


@dataclass(frozen=True)
class Hostile:
    """One hostile submission: how to build it, what its report must say, the most it scores."""

    name: str
    build: Callable[[Path], None]
    says: str  # in the report's notes
    max_score: float = 0.0  # the tiny lab's total is 6

    def __str__(self) -> str:
        return self.name


def honest_part(folder: Path, answer: str = "42") -> None:
    """What an honest learner hands in: the right answer, which alone scores 6/6."""
    folder.mkdir(parents=True)
    (folder / "answer.txt").write_text(answer + "\n")


def deep_nesting(folder: Path) -> None:
    """5,000 nested folders. Before: the recursive copy ended the grading with "internal error:
    RecursionError", exit 3 and no report; in a batch the whole batch stopped the same way."""
    honest_part(folder)
    nest(folder)


def nest(folder: Path) -> None:
    """Put :data:`DEPTH` nested folders (``d/d/d/…``) in ``folder``."""
    handle = os.open(folder, os.O_RDONLY)
    for _ in range(DEPTH):  # relative steps: the whole path is longer than the system allows
        os.mkdir("d", dir_fd=handle)
        inner = os.open("d", os.O_RDONLY, dir_fd=handle)
        os.close(handle)
        handle = inner
    os.close(handle)
    assert DEPTH > sys.getrecursionlimit(), "a copy with a frame per folder would not overflow"


def sparse_file(folder: Path) -> None:
    """A sparse file of 100 GB (more than the disk has free) that takes no disk at all. Before:
    the copy wrote zeros until the disk was full ("No space left on device", exit 3, no report),
    after minutes, for every other process on the machine too."""
    honest_part(folder)
    size = max(100 * GB, shutil.disk_usage(folder).free + GB)
    with (folder / "weights.bin").open("wb") as stream:
        stream.truncate(size)
    info = (folder / "weights.bin").stat()
    assert info.st_size > shutil.disk_usage(folder).free, "a copy of it would fill the disk"
    assert info.st_blocks * 512 < 1 << 20, "it takes no disk of its own"


def many_files(folder: Path) -> None:
    """A generated folder of more files than the limit. Before: every file copied for each
    grading (minutes of copying and inodes for a large one), no limit at all."""
    honest_part(folder)
    generated = folder / "generated"
    generated.mkdir()
    for index in range(LIMITS.max_entries + 1):
        (generated / f"{index}.json").touch()
    assert len(os.listdir(generated)) > LIMITS.max_entries


def long_path(folder: Path) -> None:
    """A path longer than the limit (five names of 250 bytes). Before: copied; a little longer
    and every command on it fails with "File name too long"."""
    honest_part(folder)
    path = folder.joinpath(*["x" * 250] * 5)
    path.mkdir(parents=True)
    assert len(os.fsencode(path.relative_to(folder))) > LIMITS.max_path


def pipe_as_answer(folder: Path) -> None:
    """``answer.txt`` is a named pipe: whatever opens it waits for a writer for ever. Before and
    after: left out with a note, never opened (the copy now opens files without blocking, so a
    pipe swapped in after the listing is not opened either)."""
    folder.mkdir(parents=True)
    pipe = folder / "answer.txt"
    os.mkfifo(pipe)
    opened = threading.Event()

    def read() -> None:
        with pipe.open("rb"):
            opened.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert not opened.wait(1), "opening the pipe should have blocked"
    os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))  # lets the test's own reader go
    reader.join(5)


def odd_names(folder: Path) -> None:
    """Files and folders whose names are not UTF-8, or hold a newline, an escape sequence or a
    bell; one a link out of the folder (so its name is in a note), one a named pipe. Graded as
    any other submission: the names never stop a grading, a batch or ``--resume``."""
    honest_part(folder)
    (folder / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1\n")
    (folder / "two\nlines\x1b[2J\x07.txt").write_text("x\n")
    odd_folder = folder / os.fsdecode(b"data-\xff\xfe")
    odd_folder.mkdir()
    (odd_folder / "\x1b]0;pwned\x07").write_text("x\n")
    (folder / os.fsdecode(b"out-\xff\x1b[31m")).symlink_to("/etc/hostname")
    os.mkfifo(folder / os.fsdecode(b"pipe-\x9b\xfe"))


INTAKE = [
    Hostile("deep-nesting", deep_nesting, "more than 64 nested folders"),
    Hostile("sparse-100-gb-file", sparse_file, "more than 10 GB of files"),
    Hostile("many-files", many_files, "more than 100,000 files and folders"),
    Hostile("long-path", long_path, "a path longer than 1,024 bytes"),
    Hostile("pipe-as-answer", pipe_as_answer, "not files or folders (answer.txt)", 1.0),
]


# --- repositories that are not their own ---------------------------------------------------


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` as a learner would."""
    identity = ["-c", "user.name=Learner", "-c", "user.email=learner@example.invalid"]
    done = subprocess.run(
        ["git", "-C", str(folder), *identity, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def repository(folder: Path, answer: str) -> str:
    """A learner's repository with ``answer`` committed; its commit id."""
    honest_part(folder, answer)
    git(folder, "init", "-q")
    git(folder, "add", "answer.txt")
    git(folder, "commit", "-q", "-m", "my answer")
    return git(folder, "rev-parse", "HEAD")


def gitdir_pointer(folder: Path, classmate: Path) -> None:
    """``.git`` is a file, ``gitdir: <classmate>/.git``, beside a wrong answer. Before: the batch
    cloned the classmate's repository and graded their commit: 6/6 for a 3/6 answer."""
    honest_part(folder, "41")
    (folder / ".git").write_text(f"gitdir: {classmate / '.git'}\n")
    assert git(folder, "rev-parse", "HEAD") == git(classmate, "rev-parse", "HEAD")


def git_symlink(folder: Path, classmate: Path) -> None:
    """``.git`` is a symbolic link to the classmate's. Before: their commit graded."""
    honest_part(folder, "41")
    (folder / ".git").symlink_to(classmate / ".git")
    assert git(folder, "rev-parse", "HEAD") == git(classmate, "rev-parse", "HEAD")


def borrowed_objects(folder: Path, classmate: Path) -> None:
    """A repository of its own whose branch names the classmate's commit, the objects taken from
    the classmate's through ``objects/info/alternates``. Before: their commit graded, 6/6."""
    honest_part(folder, "41")
    git(folder, "init", "-q")
    (folder / ".git" / "objects" / "info" / "alternates").write_text(
        f"{classmate / '.git' / 'objects'}\n"
    )
    theirs = git(classmate, "rev-parse", "HEAD")
    git(folder, "update-ref", "HEAD", theirs)
    assert git(folder, "cat-file", "-t", theirs) == "commit", "objects come from outside"


def common_dir(folder: Path, classmate: Path) -> None:
    """A ``.git`` folder whose ``commondir`` is the classmate's (a worktree's layout, by hand).
    Before: their objects and refs read by the clone."""
    honest_part(folder, "41")
    dot_git = folder / ".git"
    dot_git.mkdir()
    (dot_git / "commondir").write_text(f"{classmate / '.git'}\n")
    (dot_git / "HEAD").write_text(f"{git(classmate, 'rev-parse', 'HEAD')}\n")
    assert git(folder, "rev-parse", "HEAD") == git(classmate, "rev-parse", "HEAD")


FOREIGN_REPOSITORIES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "gitdir-pointer": (gitdir_pointer, "its .git is a file pointing to a repository elsewhere"),
    "git-symlink": (git_symlink, "its .git is a symbolic link"),
    "borrowed-objects": (borrowed_objects, "its .git/objects/info/alternates takes objects"),
    "common-dir": (common_dir, "its .git/commondir takes objects"),
}


def remove_deep(folder: Path) -> None:
    """Remove ``folder`` if it is there, even one :func:`deep_nesting` built: without recursion
    (``shutil.rmtree``, and pytest's clean-up, would overflow the stack on it), lifting the chain
    one level at a time."""
    if not folder.exists():
        return
    while (folder / "d" / "d").is_dir():
        os.rename(folder / "d" / "d", folder / "lifted")
        os.rmdir(folder / "d")
        os.rename(folder / "lifted", folder / "d")
    shutil.rmtree(folder)
