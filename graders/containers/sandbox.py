"""The sandbox runner: code that is not the grader's runs in a locked-down container.

Learner scripts (and the lab's own reference scripts) run from the pinned runner image
(``infra/images/runner``) with the files they need mounted read-only, as a non-root user with no
capabilities, a read-only root filesystem, limits on time, memory and PIDs, capped output, and no
network unless the caller names one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from graders.containers.images import INFRA, Progress, _silent, infra_image
from graders.containers.running import ContainerSpec, Limits, start_container
from graders.timing import heavy_phase

RUNNER_DIR = INFRA / "images" / "runner"
OUTPUT_CAP = 1_000_000


@dataclass
class SandboxResult:
    """What a sandboxed command did."""

    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    oom_killed: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its time."""
        return self.exit_code == 0 and not self.timed_out


def runner_image(client: docker.DockerClient, progress: Progress = _silent) -> str:
    """The runner image's tag, built once per content of ``infra/images/runner`` and then reused."""
    return infra_image(client, "runner", progress)


@heavy_phase()  # from the container's start to its removal (see graders.timing)
def run_in_sandbox(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    *,
    run_id: str,
    mounts: dict[Path, str] | None = None,
    timeout: float = 120,
    limits: Limits | None = None,
    network: str | None = None,
    env: dict[str, str] | None = None,
    entrypoint: list[str] | None = None,
) -> SandboxResult:
    """Run ``command`` in ``image`` under the sandbox's rules and return its output.

    ``mounts`` maps host paths to container paths, always read-only and read as UID 10001 (so they
    must be world-readable); ``network=None`` means no
    network at all. The container is removed before this returns.
    """
    spec = ContainerSpec(
        image=image,
        run_id=run_id,
        name_hint="sandbox",
        env=env or {},
        limits=limits or Limits(cpus=1.0, memory="1g", pids=128),
        read_only=True,
        network=network,
        command=command,
        entrypoint=entrypoint,
        user="10001:10001",
        mounts={str(host): inside for host, inside in (mounts or {}).items()},
        no_network=network is None,
        drop_capabilities=True,
        tmpfs_size="256m",
    )
    container = start_container(client, spec)
    started = time.monotonic()
    timed_out = False
    try:
        try:
            status = container.wait(timeout=timeout)
            exit_code: int | None = int(status.get("StatusCode", -1))
        except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
            timed_out, exit_code = True, None
            container.kill()
        seconds = round(time.monotonic() - started, 3)
        container.reload()
        oom = bool(container.attrs["State"].get("OOMKilled"))
        stdout = container.logs(stdout=True, stderr=False)[-OUTPUT_CAP:].decode("utf-8", "replace")
        stderr = container.logs(stdout=False, stderr=True)[-OUTPUT_CAP:].decode("utf-8", "replace")
        return SandboxResult(exit_code, stdout, stderr, seconds, timed_out, oom)
    finally:
        container.remove(force=True)
