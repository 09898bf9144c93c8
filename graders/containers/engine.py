"""Find the Docker engine, or say exactly how to start one."""

from __future__ import annotations

import shutil
from typing import Any

import docker
import docker.errors
import requests.exceptions

from graders.errors import EnvironmentProblem

START_DOCKER = (
    "start a Docker engine (Docker Desktop, or `sudo systemctl start docker`; in a container "
    "without systemd: `sudo dockerd &`), then run `mlops-labs doctor`"
)


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by the environment (``DOCKER_HOST`` or the default socket)."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise EnvironmentProblem(f"no Docker engine answers ({reason})", START_DOCKER) from None
    return client


def docker_cli() -> str:
    """The ``docker`` CLI (builds use it, so ``.dockerignore`` reads as learners expect)."""
    path = shutil.which("docker")
    if path is None:
        raise EnvironmentProblem(
            "the docker command line is not on PATH",
            "install the Docker CLI (docker-ce-cli or docker.io)",
        )
    return path


def engine_facts(client: docker.DockerClient) -> dict[str, Any]:
    """What the report says about the engine: version, storage driver, CPUs, memory."""
    info = client.info()
    return {
        "docker_server": client.version().get("Version", "?"),
        "docker_storage_driver": info.get("Driver", "?"),
        "docker_cpus": info.get("NCPU"),
        "docker_memory_bytes": info.get("MemTotal"),
    }
