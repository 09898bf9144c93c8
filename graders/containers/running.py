"""Containers with limits, published on loopback only (services and waits: ``services.py``).

Every container starts with every capability dropped, ``no-new-privileges``, CPU, memory and PID
limits and engine-capped logs. It has no network unless it names one (a run's network) or
publishes a port: then it joins the run's own bridge, which reaches no other grading's containers
and has no NAT to the outside (:func:`published_network`), never the engine's default bridge.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.types import LogConfig

from graders.containers.cleanup import RUN_LABEL, run_labels
from graders.containers.http_exchange import ExchangeFailed, exchange

# json-file logs capped on the engine side: a submission that prints gigabytes cannot fill the disk.
CAPPED_LOGS = LogConfig(type=LogConfig.types.JSON, config={"max-size": "1m", "max-file": "1"})
# A bridge whose containers get no NAT to the outside (ports published to the host still work).
NO_NAT = {"com.docker.network.bridge.enable_ip_masquerade": "false"}
# An internal bridge without an address of the host on it: peers only, not even the host.
NO_HOST = {"com.docker.network.bridge.inhibit_ipv4": "true"}
LOG_TAIL_BYTES = 8_000  # at most this much of a container's output is kept in a report


@dataclass(frozen=True)
class Limits:
    """Resource limits for one container."""

    cpus: float = 1.0
    memory: str = "512m"
    pids: int = 256

    def as_kwargs(self) -> dict[str, Any]:
        """The docker SDK keyword arguments for these limits."""
        return {
            "nano_cpus": int(self.cpus * 1e9),
            "mem_limit": self.memory,
            "memswap_limit": self.memory,
            "pids_limit": self.pids,
        }


@dataclass
class ContainerSpec:
    """How to run one container of a submission's image.

    Safe by default: no capabilities (``drop_capabilities=False`` is an explicit opt-out for a
    check that must observe what a workload declares), no network unless ``network`` names one
    or ``publish`` lists ports. ``user=None`` keeps the image's own ``USER``: checks that grade
    "runs as non-root" must see it; everything else about the container stays locked down.
    """

    image: str
    run_id: str
    name_hint: str
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    publish: tuple[int, ...] = ()
    read_only: bool = False
    network: str | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str | None = None
    mounts: dict[str, str] = field(default_factory=dict)  # host path -> container path, read-only
    no_network: bool = False  # force no network even when ``publish`` lists ports
    drop_capabilities: bool = True
    tmpfs_size: str = "64m"
    scratch: dict[str, str] = field(default_factory=dict)  # more tmpfs: container path -> size
    name: str | None = None  # a fixed name (peers on a network reach it by name); default: unique
    aliases: tuple[str, ...] = ()  # more names on ``network`` (a service name, unique per network)
    volumes: dict[str, str] = field(default_factory=dict)  # named volume -> path, read-write
    tmp_on_tmpfs: bool = True  # with read_only: a writable /tmp of tmpfs_size


def start_container(client: docker.DockerClient, spec: ContainerSpec) -> Container:
    """Start a detached, labelled container with limits; ports published on 127.0.0.1 only (on a
    port the engine chooses, so parallel gradings never collide)."""
    options: dict[str, Any] = {
        "detach": True,
        "name": spec.name or f"mlops-labs-{spec.name_hint}-{uuid.uuid4().hex[:8]}",
        "labels": run_labels(spec.run_id),
        "environment": spec.env,
        "ports": {f"{port}/tcp": ("127.0.0.1", None) for port in spec.publish},
        "read_only": spec.read_only,
        "security_opt": ["no-new-privileges"],
        "log_config": CAPPED_LOGS,
        **spec.limits.as_kwargs(),
    }
    if spec.read_only and spec.tmp_on_tmpfs:
        options["tmpfs"] = {"/tmp": f"rw,size={spec.tmpfs_size}"}
    for path, size in spec.scratch.items():
        options.setdefault("tmpfs", {})[path] = f"rw,exec,size={size},mode=1777"
    network = spec.network
    if network is None and spec.publish and not spec.no_network:
        network = published_network(client, spec.run_id)
    if spec.no_network or network is None:
        options["network_mode"] = "none"
    else:
        options["network"] = network
        if spec.aliases:
            endpoint = client.api.create_endpoint_config(aliases=list(spec.aliases))
            options["networking_config"] = {network: endpoint}
    options["volumes"] = {
        **{host: {"bind": inside, "mode": "ro"} for host, inside in spec.mounts.items()},
        **{volume: {"bind": inside, "mode": "rw"} for volume, inside in spec.volumes.items()},
    }
    if spec.drop_capabilities:
        options["cap_drop"] = ["ALL"]
    if spec.command is not None:
        options["command"] = spec.command
    if spec.entrypoint is not None:
        options["entrypoint"] = spec.entrypoint
    if spec.user is not None:
        options["user"] = spec.user
    try:
        return client.containers.run(spec.image, **options)
    except docker.errors.APIError:
        # created but refused at start (an entrypoint the image lacks): leave nothing behind
        try:
            client.containers.get(options["name"]).remove(force=True)
        except docker.errors.APIError:
            pass
        raise


def refused_image(error: docker.errors.APIError) -> str | None:
    """The engine's explanation when it refused to create or start a container for what the
    image or its configuration says, with what to fix; None for any other error (an engine
    fault, a missing network or a name taken are the grader's or the machine's).

    Any HTTP 400 is such a refusal (no command, an entrypoint the image lacks, a malformed
    ``HEALTHCHECK``); a 5xx only when the engine says it is about the image: some engines answer
    500 for a ``USER`` the image does not have or an entrypoint it cannot find.
    """
    explanation = str(error.explanation or error).strip()
    lowered = explanation.lower()
    for needle, fix, whatever_the_status in _REFUSALS:
        if needle in lowered and (error.status_code == 400 or whatever_the_status):
            return f"{explanation} ({fix})"
    if error.status_code == 400:
        return f"{explanation} (fix the image's configuration in your Dockerfile)"
    return None


_NO_PROGRAM = "the ENTRYPOINT or CMD names a program the image does not have"
_NO_USER = "USER names a user the image does not have: create it, or use a numeric UID"
# what the engine says, what to fix, and whether it is the image's fault whatever the status
_REFUSALS = (
    ("no command specified", "give the image a command: an exec-form CMD or ENTRYPOINT", True),
    ("executable file not found", _NO_PROGRAM, True),
    ("no such file or directory", _NO_PROGRAM, False),
    ("permission denied", "the ENTRYPOINT or CMD names a file the image's user cannot run", False),
    ("unable to find user", _NO_USER, True),
    ("no matching entries in passwd", _NO_USER, True),
    ("healthcheck", "fix the HEALTHCHECK instruction", False),
)


def create_run_network(
    client: docker.DockerClient, run_id: str, name: str, *, internal: bool = False
) -> Network:
    """Create a labelled bridge network of run ``run_id``.

    ``internal``: its containers reach their peers and nothing else, not even the host (the host
    has no address on it). Otherwise: ports published from it reach the host's loopback, and its
    containers get no NAT to the outside and reach no other network's containers.
    """
    return client.networks.create(
        name,
        driver="bridge",
        internal=internal,
        options=NO_HOST if internal else NO_NAT,
        labels=run_labels(run_id),
        check_duplicate=True,
    )


def published_network(client: docker.DockerClient, run_id: str) -> str:
    """The run's bridge for containers that publish ports and name no network (made once)."""
    name = f"mlops-labs-{run_id}-published"
    found = client.networks.list(names=[name], filters={"label": f"{RUN_LABEL}={run_id}"})
    if not any(network.name == name for network in found):
        try:
            create_run_network(client, run_id, name)
        except docker.errors.APIError as exc:  # made meanwhile by another thread of the run
            if exc.status_code != 409:
                raise
    return name


@contextmanager
def run_network(
    client: docker.DockerClient, run_id: str, name: str, *, internal: bool = False
) -> Iterator[Network]:
    """A labelled bridge network of run ``run_id`` (see :func:`create_run_network`), removed
    afterwards."""
    network = create_run_network(client, run_id, name, internal=internal)
    try:
        yield network
    finally:
        try:
            network.remove()
        except docker.errors.APIError:
            pass


def host_port(container: Container, port: int) -> int | None:
    """The loopback port that ``port``/tcp of ``container`` is published on (None: not published,
    e.g. because the container has already exited)."""
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


def is_running(container: Container) -> bool:
    """True while the container's main process is alive."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return False
    return bool(container.attrs["State"]["Running"])


def answers_http(url: str, statuses: Callable[[int], bool] = lambda s: True) -> Callable[[], bool]:
    """A readiness probe: ``url`` answers with a status that ``statuses`` accepts."""

    def probe() -> bool:
        try:  # the status line and headers within 1 s in all; a body is never read
            return statuses(exchange("GET", url, deadline=1, read_body=False).status_code)
        except ExchangeFailed:
            return False

    return probe


def tail_logs(container: Container, lines: int = 40, limit: int = LOG_TAIL_BYTES) -> str:
    """The last ``lines`` lines a container wrote, and of them at most the last ``limit`` bytes
    (for a failed check's message: one line can be a megabyte)."""
    try:
        return container.logs(tail=lines)[-limit:].decode("utf-8", "replace")
    except docker.errors.APIError:
        return ""
