"""A sandbox workspace: one locked-down runner container that several steps of a check run in.

Some labs are graded as a scenario on the learner's project (clone it, pull its data, reproduce a
pipeline, change a parameter, reproduce again). Each step is a shell script run with ``docker
exec`` in the same container: the sandbox's rules (non-root, no capabilities, read-only root,
limits, no network) hold for all of them, and ``/work`` is a size-capped scratch space that lives
as long as the workspace.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from graders.containers.running import ContainerSpec, Limits, start_container
from graders.containers.sandbox import OUTPUT_CAP, SandboxResult
from graders.errors import GraderError, LearnerFailure
from graders.timing import heavy_phase

WORK = "/work"
SUBMISSION = "/submission"  # where a workspace mounts the learner's folder (read-only)
SANDBOX_USER = "10001:10001"  # who every step and grader command runs as
GRADER = "/grader"  # where it mounts the grader's own files: probes, hidden data (read-only)
PROBE = f"{GRADER}/probe.py"  # the lab's probe, staged with probe_cli.py beside it
# Never copied from a learner's folder: virtual environments and caches.
NOT_WORK = frozenset(
    {".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache"}
)
# git and DVC under the sandbox's rules: HOME and DVC's site cache on the writable /tmp, no
# analytics, no prompts. Mounted repositories belong to another user: git refuses them unless its
# *global* config trusts them (command-line config does not reach the upload-pack of a clone).
VERSION_CONTROL_ENV = {
    "HOME": "/tmp",
    "DVC_NO_ANALYTICS": "1",
    "DVC_SITE_CACHE_DIR": "/tmp/dvc-site",
    "GIT_TERMINAL_PROMPT": "0",
}
VERSION_CONTROL_SETUP = "git config --global safe.directory '*'"
# An MLflow client under the sandbox's rules: HOME on /tmp, no telemetry, no git lookups, and
# few retries (a server that does not answer is a finding, not something to wait out).
MLFLOW_CLIENT_ENV = {
    "HOME": "/tmp",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
}
# A command of the grader's own (a probe, or git and DVC reading state) gets a HOME made fresh for
# it: the learner's steps share the workspace's HOME, where a ``~/.local/.../site-packages/*.pth``,
# a ``~/.gitconfig`` or a ``~/.config/dvc/config`` they wrote would change what it reports. The
# folder is made by ``mktemp -d`` (new, private to the sandbox user) just before the command runs.
FRESH_HOME = (
    'HOME="$(mktemp -d /tmp/.grader-home.XXXXXXXX)" && export HOME '
    '&& export DVC_SITE_CACHE_DIR="$HOME/.dvc-site" '
    "&& printf '[safe]\\n\\tdirectory = *\\n' > \"$HOME/.gitconfig\" && "
)
# Starts a probe under ``python -I`` (no user site, no PYTHON* variables, neither the current
# folder nor the script's own on sys.path), then puts the probe's own read-only folder first on
# the path, for ``probe_cli``. Arguments: the probe's path, then its command line.
_ISOLATED_PROBE = (
    "import runpy, sys; program = sys.argv.pop(1); "
    "sys.path.insert(0, program.rsplit('/', 1)[0]); "
    "runpy.run_path(program, run_name='__main__')"
)
# Runs the step ($1) under a time limit ($2); keeps only the tail of what it prints.
_STEP = (
    'timeout -k 5 "$2" bash -c "$1" >/tmp/.step-out 2>/tmp/.step-err; code=$?; '
    f"tail -c {OUTPUT_CAP} /tmp/.step-out; tail -c {OUTPUT_CAP} /tmp/.step-err >&2; exit $code"
)
# Settling, before a measurement: stop every process the learner's steps left running (``cmd &``,
# ``nohup``, ``setsid`` daemons), that is all of the sandbox user's processes but the workspace's
# own PID 1. Bash's ``kill -1`` spares the shell that sends it, which is then the only process of
# its exec: the measurement runs next, in the same exec.
_SETTLE = "kill -KILL -1 2>/dev/null; "
_TIMED_OUT = (124, 137)


@dataclass
class Workspace:
    """A running sandbox container; ``run`` executes one step in it."""

    container: Container
    env: dict[str, str]

    def run(
        self, script: str, *, cwd: str = WORK, timeout: float = 300, settle: bool = False
    ) -> SandboxResult:
        """Run ``script`` with bash in ``cwd``; a step over ``timeout`` seconds is killed. A step
        (and so every ``measure`` and ``probe``) is a heavy phase (``graders.timing``): its
        ``seconds`` do not count a wait for the machine. With ``settle``, every process the
        learner's steps left running is stopped first, in the same exec (see ``_SETTLE``)."""
        with heavy_phase():
            started = time.monotonic()
            exit_code, (stdout, stderr) = self.container.exec_run(
                [
                    "bash",
                    "-c",
                    (_SETTLE if settle else "") + _STEP,
                    "step",
                    script,
                    str(int(timeout)),
                ],
                workdir=cwd,
                environment=self.env,
                demux=True,
            )
            seconds = round(time.monotonic() - started, 3)
        timed_out = exit_code in _TIMED_OUT and seconds >= timeout
        return SandboxResult(
            exit_code,
            (stdout or b"").decode("utf-8", "replace"),
            (stderr or b"").decode("utf-8", "replace"),
            seconds,
            timed_out=timed_out,
        )

    def measure(
        self, script: str, *, cwd: str = WORK, timeout: float = 300, settle: bool = True
    ) -> SandboxResult:
        """Run a command of the grader's own (``git``, ``dvc`` reading state) as ``run`` does,
        but with a fresh HOME (see ``FRESH_HOME``): nothing the learner's steps left in theirs
        reaches it. First, unless ``settle`` is false (the grader watches learner commands it
        started itself), every process the steps left running is stopped (``_SETTLE``), so none
        can change what is measured while it is read."""
        return self.run(FRESH_HOME + script, cwd=cwd, timeout=timeout, settle=settle)

    def probe(
        self,
        command: str,
        *args: str,
        program: str = PROBE,
        cwd: str = WORK,
        failure: str = "",
        timeout: float = 300,
        settle: bool = True,
    ) -> Any:
        """Run ``python -I PROGRAM COMMAND ARGS`` (the lab's probe, see ``probe_cli``) with a
        fresh HOME, and return the JSON it printed last. When it fails, the learner fails with
        ``failure`` if one is given (say it where the learner's work can make the probe fail);
        otherwise it is a grader error. ``settle`` as for ``measure``."""
        line = ["python", "-I", "-c", _ISOLATED_PROBE, program, command, *args]
        done = self.measure(shlex.join(line), cwd=cwd, timeout=timeout, settle=settle)
        if not done.ok:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
            if failure:
                raise LearnerFailure(f"{failure}:\n{tail}")
            raise GraderError(f"the probe {program} {command} failed:\n{tail}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def export(self, path: str, target: Path) -> Path:
        """Copy the folder ``path`` out of the workspace to ``target`` (which must not exist)."""
        parent, name = path.rstrip("/").rsplit("/", 1)
        with heavy_phase(), tempfile.TemporaryFile() as archive:
            _, stream = self.container.exec_run(
                ["tar", "-C", parent or "/", "-cf", "-", name], stream=True, stderr=False
            )
            for chunk in stream:
                archive.write(chunk)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar, tempfile.TemporaryDirectory() as unpacked:
                tar.extractall(unpacked, filter=_inside_links_only)
                if not (Path(unpacked) / name).is_dir():
                    raise GraderError(f"{path} could not be copied out of the sandbox workspace")
                target.parent.mkdir(parents=True, exist_ok=True)
                (Path(unpacked) / name).rename(target)
        return target


def _inside_links_only(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's ``data`` filter, except that a link leading out of the copy (an absolute one,
    as DVC's ``cache.type symlink`` makes) is left out instead of failing the whole copy: it
    would point to nothing outside the workspace."""
    try:
        return tarfile.data_filter(member, path)
    except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
        return None


@contextmanager
def open_workspace(
    client: docker.DockerClient,
    image: str,
    *,
    run_id: str,
    mounts: dict[Path, str],
    env: dict[str, str],
    limits: Limits | None = None,
    scratch_size: str = "1g",
    setup: str = "",
    network: str | None = None,
    volumes: dict[str, str] | None = None,
) -> Iterator[Workspace]:
    """Start a workspace container (``mounts`` read-only, named ``volumes`` read-write; no
    network, or only ``network``, which should be internal), run ``setup`` in it, and remove it
    afterwards.

    Mounted host paths are read as UID 10001, so they must be world-readable.
    """
    spec = ContainerSpec(
        image=image,
        run_id=run_id,
        name_hint="workspace",
        env=env,
        limits=limits or Limits(cpus=2.0, memory="3g", pids=256),
        read_only=True,
        command=["sleep", "infinity"],
        user=SANDBOX_USER,
        mounts={str(host): inside for host, inside in mounts.items()},
        network=network,
        no_network=network is None,
        drop_capabilities=True,
        tmpfs_size="256m",
        scratch={WORK: scratch_size},
        volumes=volumes or {},
    )
    with heavy_phase():
        container = start_container(client, spec)
    try:
        workspace = Workspace(container, env)
        if setup:
            done = workspace.run(setup, cwd="/tmp", timeout=60)
            if not done.ok:
                raise GraderError(f"the sandbox workspace did not set up: {done.stderr.strip()}")
        yield workspace
    finally:
        with heavy_phase():
            container.remove(force=True)


def leaving_out(*names: str) -> Callable[[str, list[str]], set[str]]:
    """A ``shutil.copytree`` ignore function: ``NOT_WORK`` and ``names``, in every folder."""
    out = NOT_WORK | set(names)
    return lambda _folder, found: {name for name in found if name in out}


LeaveOut = Callable[[str, list[str]], Iterable[str]]


@dataclass(frozen=True)
class WorkspaceOptions:
    """How a lab opens its sandbox workspace: declared once, as a constant of the lab.

    ``env`` is every step's environment; ``leave_out`` what is not copied from the learner's
    folder (a ``shutil.copytree`` ignore function, by default ``leaving_out()``); ``setup`` a
    step run once at the start; ``scratch`` the size of ``/work``. The network and named volumes
    are the run's own, so they are given when the workspace opens.
    """

    env: Mapping[str, str]
    leave_out: LeaveOut | None = None
    setup: str = ""
    scratch: str = "1g"


@contextmanager
def submission_workspace(
    client: docker.DockerClient,
    image: str,
    options: WorkspaceOptions,
    *,
    submission: Path,
    grader_files: Path,
    run_id: str,
    network: str | None = None,
    volumes: dict[str, str] | None = None,
) -> Iterator[Workspace]:
    """A workspace opened as ``options`` say, with a world-readable copy of the learner's folder
    at ``SUBMISSION`` and ``grader_files`` at ``GRADER``; on ``network`` (an internal one) and
    with the named ``volumes`` when they are given."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-") as temporary:
        copy = Path(temporary) / "submission"
        staged = stage_readable(submission, copy, options.leave_out or leaving_out())
        with open_workspace(
            client,
            image,
            run_id=run_id,
            mounts={staged: SUBMISSION, grader_files: GRADER},
            env=dict(options.env),
            scratch_size=options.scratch,
            setup=options.setup,
            network=network,
            volumes=volumes,
        ) as workspace:
            yield workspace


def stage_readable(
    source: Path, target: Path, leave_out: Callable[[str, list[str]], Iterable[str]] | None = None
) -> Path:
    """Copy ``source`` to ``target`` (symlinks as links) and make the copy world-readable.

    The sandbox reads mounted files as UID 10001; a learner's files may be private to them.
    ``leave_out`` is a ``shutil.copytree`` ignore function (folder, names) -> names not to copy.
    """
    shutil.copytree(source, target, symlinks=True, ignore=leave_out)
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink():
                mode = path.stat().st_mode
                extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                if path.is_dir() or mode & stat.S_IXUSR:
                    extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
                path.chmod(mode | extra)
    target.chmod(target.stat().st_mode | 0o755)
    return target
