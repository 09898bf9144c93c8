"""What a ``docker build`` of a learner's Dockerfile may do: limits, network, output.

A Dockerfile's ``RUN`` steps are the learner's code, run by the engine. Builds use BuildKit where
this machine has a BuildKit client (:mod:`graders.containers.builder`), as learners' engines do.

- BuildKit takes no per-build limits or network: where this machine's engine is local and uses
  cgroup v1 through cgroupfs and the grader runs as root, the parent cgroup of every BuildKit step
  (``docker/buildkit``) is capped at ``BUILD_PIDS`` processes, ``BUILD_MEMORY`` and ``BUILD_CPUS``
  — caps shared by the builds running at once. Its ``RUN`` steps are on the engine's default
  bridge: no grader container is ever there, and ``scripts/setup.sh`` starts the engine with
  ``--icc=false``, so they reach the internet but no container.
- The classic builder runs ``RUN`` steps under CPU and memory limits, on a bridge network of the
  run's own, and (same conditions as above) in a parent cgroup with a PID limit.

Whatever the builder, at most ``OUTPUT_CAP`` bytes of build output are read: past that the build
is stopped (the engine then cancels it) and only the head and the tail are kept.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from graders.containers.cleanup import RUN_LABEL
from graders.containers.engine import START_DOCKER, docker_cli
from graders.errors import EnvironmentProblem

OUTPUT_CAP = 20_000_000
HEAD_BYTES = 64_000
TAIL_BYTES = 400_000
BUILD_CPUS = 2.0
BUILD_MEMORY = "4g"
BUILD_PIDS = 1024
CGROUP_ROOT = Path("/sys/fs/cgroup")
# What the docker CLI says when no engine answers: the machine's fault, never the learner's.
_NO_ENGINE = (  # lower case: BuildKit's client says "failed to dial gRPC: cannot connect to …"
    "cannot connect to the docker daemon",
    "error during connect",
    "failed to dial grpc",
)


@dataclass
class Captured:
    """A command's exit code (None: stopped by us), its capped output, and why it stopped."""

    code: int | None
    output: str
    seconds: float
    stopped: str = ""  # "", or why it was stopped (time limit, output cap)


def run_capped(
    command: list[str],
    timeout: float,
    cap: int = OUTPUT_CAP,
    env: dict[str, str] | None = None,
) -> Captured:
    """Run ``command`` reading at most ``cap`` bytes of its output (stdout and stderr together);
    stop it past ``timeout`` seconds or ``cap`` bytes. Keeps the first ``HEAD_BYTES`` and the last
    ``TAIL_BYTES``, and says what was left out between them."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env if env is not None else {**os.environ, "DOCKER_CLI_HINTS": "false"},
    )
    head, tail = bytearray(), bytearray()
    total = 0
    over_cap = threading.Event()

    def read() -> None:
        nonlocal total
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 65536):
            total += len(chunk)
            room = HEAD_BYTES - len(head)
            head.extend(chunk[:room])
            tail.extend(chunk[max(room, 0) :])
            del tail[:-TAIL_BYTES]
            if total > cap:
                over_cap.set()
                process.kill()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stopped = ""
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code, stopped = None, f"stopped after {timeout:.0f} s (the time limit)"
    reader.join(timeout=10)
    if over_cap.is_set():
        code, stopped = None, f"stopped: it printed more than {cap // 1_000_000} MB"
    left_out = total - len(head) - len(tail)
    text = head.decode("utf-8", "replace")
    if left_out > 0:
        text += f"\n[… {left_out} bytes of output left out …]\n"
    text += tail.decode("utf-8", "replace")
    if stopped:
        text += f"\n{stopped}"
    return Captured(code, text, round(time.monotonic() - started, 2), stopped)


def raise_if_no_engine(output: str) -> None:
    """A docker CLI that found no engine is an environment problem, not a failed build."""
    for line in output.splitlines():
        if any(sign in line.lower() for sign in _NO_ENGINE):
            reason = line.strip()[:200]
            raise EnvironmentProblem(f"no Docker engine answers ({reason})", START_DOCKER)


@contextmanager
def build_options(labels: dict[str, str], classic: bool) -> Iterator[list[str]]:
    """The ``docker build`` options that confine a build of run ``labels[RUN_LABEL]`` (none under
    BuildKit, which takes none of them); the PID cgroup is removed afterwards."""
    if not classic:
        yield []
        return
    options = [
        "--force-rm",  # a failed step's container too: it carries no run label to be found by
        f"--memory={BUILD_MEMORY}",
        f"--memory-swap={BUILD_MEMORY}",
        "--cpu-period=100000",
        f"--cpu-quota={int(BUILD_CPUS * 100000)}",
    ]
    run_id = labels.get(RUN_LABEL)
    if run_id:
        options.append(f"--network={build_network(run_id, labels)}")
    parent = _pids_cgroup()
    if parent is not None:
        options.append(f"--cgroup-parent=/{parent}")
    try:
        yield options
    finally:
        if parent is not None:
            _remove_cgroup(parent)


def cap_buildkit_steps() -> bool:
    """Cap the parent cgroup of every BuildKit step (``docker/buildkit``) at the classic build's
    limits, where this machine can (see the module); True when it did."""
    if _cgroup_v1_pids() is None:
        return False
    caps = {
        "pids": {"pids.max": str(BUILD_PIDS)},
        "memory": {"memory.limit_in_bytes": BUILD_MEMORY},
        "cpu": {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": str(int(BUILD_CPUS * 100000))},
    }
    try:
        for hierarchy, files in caps.items():
            folder = CGROUP_ROOT / hierarchy / "docker" / "buildkit"
            folder.mkdir(parents=True, exist_ok=True)
            for name, value in files.items():
                (folder / name).write_text(value)
    except OSError:
        return False
    return True


BUILD_CACHE_KEPT = "10GB"


def bound_build_cache(cli: str, env: dict[str, str]) -> None:
    """Keep BuildKit's build cache (its cache mounts included) within ``BUILD_CACHE_KEPT``: the
    oldest records beyond it are removed (records in use by a running build are not)."""
    try:
        subprocess.run(
            [cli, "builder", "prune", "--force", "--keep-storage", BUILD_CACHE_KEPT],
            capture_output=True,
            timeout=60,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        pass


def build_network(run_id: str, labels: dict[str, str]) -> str:
    """The run's bridge for its builds (made once; removed with the run's other objects)."""
    name = f"mlops-labs-{run_id}-build"
    cli = docker_cli()
    found = subprocess.run(
        [cli, "network", "inspect", name], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        label_args = [f"--label={key}={value}" for key, value in labels.items()]
        made = subprocess.run(
            [cli, "network", "create", *label_args, name],
            capture_output=True,
            text=True,
            check=False,
        )
        raise_if_no_engine(made.stderr)
        if made.returncode != 0:
            raise EnvironmentProblem(f"the build network did not start: {made.stderr.strip()}")
    return name


@functools.cache
def _cgroup_v1_pids() -> Path | None:
    """The pids hierarchy of cgroup v1 when the engine creates its containers' cgroups in it
    (root, the engine on this machine, the cgroupfs driver); None otherwise."""
    hierarchy = CGROUP_ROOT / "pids"
    if os.geteuid() != 0 or not (hierarchy / "cgroup.procs").exists():
        return None
    info = subprocess.run(
        [docker_cli(), "info", "--format", "{{.CgroupDriver}} {{.CgroupVersion}} {{.Name}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if info.stdout.split() != ["cgroupfs", "1", socket.gethostname()]:
        return None
    return hierarchy if os.access(hierarchy, os.W_OK) else None


def _pids_cgroup() -> str | None:
    """A fresh parent cgroup capped at ``BUILD_PIDS`` processes, or None where none can be made."""
    hierarchy = _cgroup_v1_pids()
    if hierarchy is None:
        return None
    name = f"mlops-labs-build-{uuid.uuid4().hex[:12]}"
    try:
        (hierarchy / name).mkdir()
        (hierarchy / name / "pids.max").write_text(str(BUILD_PIDS))
    except OSError:
        _remove_cgroup(name)
        return None
    return name


def _remove_cgroup(name: str) -> None:
    """Remove the (empty) parent cgroup ``name`` from every v1 hierarchy the engine made it in."""
    for hierarchy in CGROUP_ROOT.iterdir():
        folder = hierarchy / name
        for _ in range(20):  # the engine removes the build's own cgroup just before
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
