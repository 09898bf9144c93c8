"""A batch's copy of a git repository: its HEAD commit, cloned safely, never another's.

A repository is cloned with ``git clone --no-local`` (git's upload-pack is built to be run on
untrusted repositories; no other git command ever runs on the learner's folder, and none reads its
config), then checked out from HEAD, plus the files its ``.gitignore`` keeps out of every commit
(a local DVC remote, data) — tracked files come from HEAD, so uncommitted edits and untracked files
are left out.

Refused (:class:`~graders.intake.SubmissionRefused`), before git runs: a ``.git`` that is a file
(a ``gitdir:`` pointer, as a worktree or a submodule has) or a symbolic link, or a repository that
takes objects from elsewhere (``commondir``, ``objects/info/alternates``) or holds links: each
would have the clone read a repository outside the submission, a classmate's for one. The HEAD
commit's tree is held to the intake limits before it is checked out (a few MB of compressed
objects can expand to any size).
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from graders.intake import (
    LIMITS,
    IntakeLimits,
    Kind,
    SubmissionRefused,
    Survey,
    copy_file,
    refusal,
    require_free_disk,
)
from graders.text import clean_name

_GIT_CONFIG = (
    "[safe]\n\tdirectory = *\n[core]\n\texcludesFile = /dev/null\n\thooksPath = /dev/null\n"
)
_BORROWED = ("commondir", "objects/info/alternates", "objects/info/http-alternates")
_ADVICE = "submit the repository itself (its .git folder), as git init or git clone made it"


def refuse_foreign_repository(folder: Path, found: Survey) -> None:
    """Raise :class:`SubmissionRefused` unless ``folder/.git`` is a plain repository of its own
    (``found``: the survey of ``folder``)."""
    dot_git = folder / ".git"
    if dot_git.is_symlink():
        problem = "its .git is a symbolic link, to a repository outside the submission"
    elif not dot_git.is_dir():
        problem = "its .git is a file pointing to a repository elsewhere (a worktree or submodule)"
    else:
        borrowed = [name for name in _BORROWED if os.path.lexists(dot_git / name)]
        links = [e.relative for e in found.entries if e.kind is Kind.LINK and _in_git(e.relative)]
        if borrowed:
            problem = f"its .git/{borrowed[0]} takes objects from a repository elsewhere"
        elif links:
            problem = f"its .git holds a symbolic link ({clean_name(links[0], 120)})"
        else:
            return
    raise SubmissionRefused(
        f"graded nothing: the submission is a repository, but {problem}; {_ADVICE}"
    )


def clone_head(source: Path, target: Path, found: Survey, limits: IntakeLimits = LIMITS) -> str:
    """Clone ``source`` at HEAD into ``target``, add its ignored files (``found``: the survey of
    ``source``); return the commit id ("" when there is none)."""
    with tempfile.TemporaryDirectory(prefix="mlops-labs-git-") as home:
        config = Path(home) / "gitconfig"
        config.write_text(_GIT_CONFIG, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env |= {
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "HOME": home,
        }
        clone = ["clone", "--quiet", "--no-local", "--no-hardlinks", "--no-checkout", "--"]
        _git(env, *clone, str(source), str(target))
        head = subprocess.run(
            ["git", "-C", str(target), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        commit = head.stdout.strip() if head.returncode == 0 else ""
        if commit:
            require_free_disk(target, _check_tree(target, env, limits), limits)
            _git(env, "-C", str(target), "checkout", "--quiet", "--force", "HEAD")
        _copy_ignored(source, target, found, env)
    return commit


def _check_tree(clone: Path, env: dict[str, str], limits: IntakeLimits) -> int:
    """Hold the HEAD commit's tree to ``limits`` (raise :class:`SubmissionRefused`); return the
    bytes its checkout will write."""
    listing = subprocess.run(
        ["git", "-C", str(clone), "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD"],
        capture_output=True,
        env=env,
        check=False,
    )
    if listing.returncode != 0:
        raise OSError(f"git ls-tree failed: {listing.stderr.decode(errors='replace')[-500:]}")
    total = 0
    records = [record for record in listing.stdout.split(b"\0") if record]
    if len(records) > limits.max_entries:
        raise refusal(f"more than {limits.max_entries:,} files in its HEAD commit")
    for record in records:
        meta, _, path = record.partition(b"\t")
        size = meta.split()[-1]
        total += int(size) if size.isdigit() else 0
        if len(path) > limits.max_path:
            raise refusal(f"a path longer than {limits.max_path:,} bytes in its HEAD commit")
        if path.count(b"/") > limits.max_depth:
            raise refusal(f"more than {limits.max_depth} nested folders in its HEAD commit")
        if total > limits.max_bytes:
            raise refusal(f"more than {limits.max_bytes >> 30} GB of files in its HEAD commit")
    return total


def _copy_ignored(source: Path, target: Path, found: Survey, env: dict[str, str]) -> None:
    """Copy from ``source`` the entries of ``found`` that the clone's ignore rules keep out of
    git, never below a folder that the clone has as a link or a file."""
    blocked: set[str] = set()  # folders not to go into: git stops at a path beyond a link
    paths: list[str] = []
    for entry in found.entries:
        parent = entry.relative.rpartition("/")[0]
        if _in_git(entry.relative) or parent in blocked:
            if entry.kind is Kind.FOLDER:
                blocked.add(entry.relative)
            continue
        if entry.kind is Kind.FOLDER and _is_link_or_file(target / entry.relative):
            blocked.add(entry.relative)
            continue
        paths.append(entry.relative + ("/" if entry.kind is Kind.FOLDER else ""))
    if not paths:
        return
    ignored = subprocess.run(
        ["git", "-C", str(target), "check-ignore", "--stdin", "-z"],
        input=b"\0".join(os.fsencode(path) for path in paths) + b"\0",
        capture_output=True,
        env=env,
        check=False,
    )
    sizes = {entry.relative: entry.size for entry in found.entries}
    for name in filter(None, ignored.stdout.split(b"\0")):
        relative = os.fsdecode(name).rstrip("/")
        _copy_one(source / relative, target, relative, sizes.get(relative, 0))


def _in_git(relative: str) -> bool:
    return relative == ".git" or relative.startswith(".git/")


def _is_link_or_file(path: Path) -> bool:
    return path.is_symlink() or (path.exists() and not path.is_dir())


def _copy_one(source: Path, target: Path, relative: str, size: int) -> None:
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
        copy_file(source, destination, size)


def _git(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(["git", *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise OSError(f"git {args[0]} failed: {done.stderr.strip()[-500:]}")
