"""A measured section's neighbours: other gradings' containers, held to a small CPU share while
it measures.

A grading holds the machine only around its heavy phases (``graders.timing``); between them its
containers still run. A learner's service that burns CPU while its own grader waits (a hostile
submission in a class's batch) would slow another learner's latency test and cost them points.
While a section is measured, every running container of another run is held to
``NEIGHBOUR_CPUS`` of a CPU, then given its own limit back. The neighbours' timed work (builds,
starts, workspace steps, restores) is in heavy phases, which wait while a section is measured, so
nothing of theirs that is timed runs slower; what they do meanwhile (an HTTP answer to their own
grader) only takes longer, within its own deadline.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import docker
from docker.models.containers import Container

from graders.containers.cleanup import RUN_LABEL
from graders.containers.engine import docker_cli

NEIGHBOUR_CPUS = 0.25


@contextmanager
def neighbours_held_back(
    client: docker.DockerClient, run_id: str, cpus: float = NEIGHBOUR_CPUS
) -> Iterator[list[str]]:
    """Hold every running container labelled with another run than ``run_id`` to ``cpus`` of a
    CPU for the ``with`` block (the names of those held), then restore each one's limit."""
    limit = int(cpus * 1e9)
    held: list[tuple[Container, int]] = []
    try:
        running = client.containers.list(filters={"label": RUN_LABEL, "status": "running"})
        for container in running:
            if container.labels.get(RUN_LABEL) == run_id:
                continue
            before = int(container.attrs["HostConfig"].get("NanoCpus") or 0)
            if 0 < before <= limit:
                continue
            if _set_cpus(container, limit):  # not when it ended meanwhile
                held.append((container, before))
        yield [container.name for container, _ in held]
    finally:
        for container, before in held:
            # 0 means "unchanged" to the engine: no limit is all of the machine's CPUs
            _set_cpus(container, before or (os.cpu_count() or 1) * 10**9)


def _set_cpus(container: Container, nano_cpus: int) -> bool:
    """``docker update --cpus`` (the SDK's update has no NanoCpus); whether it took."""
    done = subprocess.run(
        [docker_cli(), "update", "--cpus", f"{nano_cpus / 1e9:.3f}", container.id or ""],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0
