"""What the labs' raw sides share: plain docker commands, a service's readiness by HTTP, a running
container, and the grader's sandbox and MLflow server started by hand with the grader's limits."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from graders.containers import probe_cli
from graders.fixtures.mlflow import _HEALTH, _START, EMPTY_DATABASE, MLFLOW_PORT


@dataclass(frozen=True)
class Raw:
    """One raw run: the lab's reference ``solution``, an empty ``work`` folder of its own, and
    the runner image's name (``mlops-labs/runner:…``) the gradings used."""

    solution: Path
    work: Path
    runner: str


def docker(*args: str) -> str:
    """``docker ARGS`` to completion; its standard output (raises if it fails)."""
    done = subprocess.run(["docker", *args], check=True, capture_output=True)
    return done.stdout.decode(errors="replace")


def published_url(container: str, port: int) -> str:
    """``http://127.0.0.1:P`` where ``P`` is the host port ``container`` publishes ``port`` on."""
    host_port = docker("port", container, f"{port}/tcp").splitlines()[0].split(":")[-1].strip()
    return f"http://127.0.0.1:{host_port}"


def wait_http(url: str, deadline: float = 60.0) -> None:
    """Poll ``url`` every 0.1 s until it answers anything (raises after ``deadline`` s)."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {deadline:.0f} s")


class Box:
    """A running container by name: ``sh`` runs a bash script in it (in ``cwd``), ``probe`` the
    lab's probe (staged at ``/grader/probe.py``) and returns the JSON it printed last."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, cwd: str = "/work", check: bool = True) -> str:
        """``docker exec`` of ``bash -c script``; its output (raises if it fails and ``check``)."""
        done = subprocess.run(
            ["docker", "exec", "-w", cwd, self.name, "bash", "-c", script],
            capture_output=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{script} failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return done.stdout.decode(errors="replace")

    def probe(self, cwd: str, *args: str) -> object:
        """``python /grader/probe.py ARGS`` in ``cwd``; the JSON it printed last."""
        said = self.sh(shlex.join(["python", "/grader/probe.py", *args]), cwd)
        return json.loads(said.strip().splitlines()[-1])


LOCKED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
          "--user", "10001:10001"]  # fmt: skip


def limits(cpus: str, memory: str, pids: str = "256") -> list[str]:
    """``docker run`` flags for the grader's CPU, memory (no swap) and PID limits."""
    return ["--cpus", cpus, "--memory", memory, "--memory-swap", memory, "--pids-limit", pids]


def env_flags(env: dict[str, str]) -> list[str]:
    """``-e NAME=VALUE`` for each variable."""
    return [flag for name, value in env.items() for flag in ("-e", f"{name}={value}")]


@contextmanager
def internal_network() -> Iterator[str]:
    """An internal bridge network (peers only), removed afterwards."""
    name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    docker("network", "create", "--internal", name)
    try:
        yield name
    finally:
        docker("network", "rm", name)


def start_mlflow(
    runner: str, network: str, store: str = "/tmp", *, aliases: tuple[str, ...] = (),
    volume: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """Start an MLflow server as the grader does (``graders.fixtures.mlflow``); its name."""
    name = f"bench-raw-mlflow-{uuid.uuid4().hex[:8]}"
    hosts = ",".join(
        f"{host}:{MLFLOW_PORT},{host}" for host in (name, *aliases, "localhost", "127.0.0.1")
    )
    extra = [flag for alias in aliases for flag in ("--network-alias", alias)]
    if volume:
        extra += ["-v", f"{volume[0]}:{volume[1]}"]
    env = {"HOME": "/tmp", "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # fmt: skip
    docker(
        "run", "-d", "--name", name, "--network", network, *extra, *LOCKED,
        "--tmpfs", "/tmp:rw,size=1g", *limits("1", "1536m"), *env_flags(env), runner,
        "python", "-I", "-c", _START, EMPTY_DATABASE, f"{store}/mlflow.db",
        "mlflow", "server", "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
        "--artifacts-destination", f"{store}/artifacts", "--host", "0.0.0.0",
        "--port", str(MLFLOW_PORT), "--workers", "1", "--allowed-hosts", hosts,
    )  # fmt: skip
    return name


def wait_mlflow(name: str, deadline: float = 120.0) -> None:
    """Ask the server's /health from inside its container (it is on an internal network) every
    0.25 s until it answers 200."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            docker("exec", name, "bash", "-c", _HEALTH)
            return
        except Exception:  # noqa: BLE001 - not ready yet
            time.sleep(0.25)
    raise RuntimeError(f"{name} did not answer /health in {deadline:.0f} s")


def start_workspace(
    runner: str, network: str, mounts: dict[Path, str], env: dict[str, str],
    volume: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """A locked-down runner container (the grader's workspace limits) on ``network``, with
    ``mounts`` read-only and a 1 GB scratch /work; its name."""
    name = f"bench-raw-work-{uuid.uuid4().hex[:8]}"
    extra = [flag for host, inside in mounts.items() for flag in ("-v", f"{host}:{inside}:ro")]
    if volume:
        extra += ["-v", f"{volume[0]}:{volume[1]}"]
    docker(
        "run", "-d", "--name", name, "--network", network, *LOCKED, *extra,
        "--tmpfs", "/tmp:rw,size=256m", "--tmpfs", "/work:rw,exec,size=1g,mode=1777",
        *limits("2", "3g"), *env_flags(env), runner, "sleep", "infinity",
    )  # fmt: skip
    return name


def sh(container: str, script: str, cwd: str = "/work") -> str:
    """``docker exec`` of a bash script in ``container``; its output (raises if it fails)."""
    return Box(container).sh(script, cwd)


def grader_folder(work: Path, package_probe: Path) -> Path:
    """A world-readable folder with the lab's probe and ``probe_cli.py`` beside it."""
    work.chmod(0o755)  # the sandbox's user reads the mounts
    folder = work / "grader"
    folder.mkdir()
    shutil.copy(package_probe, folder / "probe.py")
    shutil.copy(probe_cli.__file__, folder / "probe_cli.py")
    return folder
