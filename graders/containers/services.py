"""Services for a grading: start a container, wait until it is ready, say whose fault a failure
is, and always remove it.

Every lab and fixture that runs a server (the learner's or the grader's own MLflow and
Prometheus) goes through :func:`running_service`; every wait goes through :func:`wait_until`.
A container that exits while awaited ends the wait at once, and the message says how it ended
(exit code, an out-of-memory kill and its limit, its last output).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import docker
import docker.errors
from docker.models.containers import Container

from graders.containers.running import (
    ContainerSpec,
    refused_image,
    start_container,
    tail_logs,
)
from graders.errors import GraderError, LearnerFailure
from graders.text import clean

LOG_LINES = 20  # lines of a container's output in a failure's message


@dataclass(frozen=True)
class Exit:
    """How a container ended: its exit code, and whether the kernel killed it for memory."""

    code: int
    oom_killed: bool
    memory_limit: int  # bytes (0: no limit)

    def __str__(self) -> str:
        text = f"code {self.code}"
        if self.oom_killed:
            text += (
                ", killed for using more than its memory limit "
                f"(OOMKilled, limit {readable_bytes(self.memory_limit)})"
            )
        return text


def readable_bytes(count: int) -> str:
    """``536870912`` as ``512 MiB`` (whole GiB, MiB or KiB when it divides; else bytes)."""
    if count <= 0:
        return "none"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def container_exit(container: Container) -> Exit | None:
    """How ``container`` ended, or None while it runs (a removed container ended with code -1)."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return Exit(-1, False, 0)
    state = container.attrs["State"]
    if state.get("Running"):
        return None
    return Exit(
        int(state.get("ExitCode", -1)),
        bool(state.get("OOMKilled")),
        int(container.attrs.get("HostConfig", {}).get("Memory") or 0),
    )


class NotReady(Exception):
    """A wait ended without its condition: the time ran out, or the watched container exited
    (``exit`` says how; None on a timeout)."""

    def __init__(self, message: str, exit: Exit | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit = exit


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    pause: float = 0.5,
    while_running: Container | None = None,
    what: str = "the condition",
    until: str = "hold",
) -> float:
    """Call ``condition`` until it returns True; the seconds it took.

    Raises :class:`NotReady` ("WHAT did not UNTIL within N s") when ``timeout`` passes first, or
    at once when the ``while_running`` container exits ("WHAT did not UNTIL: it exited with
    code N", and the OOM kill with its memory limit); the caller says whose fault it is.
    """
    started = time.monotonic()
    while not condition():
        if while_running is not None and (ended := container_exit(while_running)) is not None:
            raise NotReady(f"{what} did not {until}: it exited with {ended}", ended)
        if time.monotonic() - started > timeout:
            raise NotReady(f"{what} did not {until} within {timeout:.0f} s")
        time.sleep(pause)
    return round(time.monotonic() - started, 2)


@dataclass
class Service:
    """A started, ready service container and the seconds it took to get ready."""

    container: Container
    seconds_to_ready: float

    def logs(self, lines: int = LOG_LINES) -> str:
        """The last lines the service wrote."""
        return tail_logs(self.container, lines)


def indented(text: str) -> str:
    """``text`` with every line indented by four spaces (a log inside a message)."""
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def _blamed(
    blame: type[LearnerFailure] | type[GraderError], message: str, fix: str
) -> LearnerFailure | GraderError:
    if issubclass(blame, GraderError):
        return blame(message, fix)
    return blame(message)


@contextmanager
def running_service(
    client: docker.DockerClient,
    spec: ContainerSpec,
    *,
    ready: Callable[[Container], bool],
    timeout: float,
    blame: type[LearnerFailure] | type[GraderError],
    what: str = "the service",
    until: str = "get ready",
    fix: str = "",
    pause: float = 0.5,
) -> Iterator[Service]:
    """Start ``spec`` (limits, labels: :func:`start_container`), wait while it runs until
    ``ready(container)``, yield it, and remove it however the block ends.

    An image the engine refuses to start (HTTP 400: no command, an entrypoint or user it lacks)
    raises ``blame`` with the engine's explanation and what to fix; other engine errors pass.
    A service that exits first or is not ready within ``timeout`` raises ``blame`` (a
    :class:`LearnerFailure` for a learner's service; :class:`EnvironmentProblem` with ``fix`` for
    the grader's own): "WHAT did not UNTIL: it exited at start with code N" (and, when the kernel
    killed it, "killed for using more than its memory limit (OOMKilled, limit X)") or "WHAT did
    not UNTIL within N s", then its last output.
    """
    try:
        container = start_container(client, spec)
    except docker.errors.APIError as error:
        refusal = refused_image(error)
        if refusal is None:  # an engine fault, a network or name problem: not the learner's
            raise
        raise _blamed(
            blame, f"{what} could not start: the engine refused it: {clean(refusal)}", fix
        ) from None
    try:
        try:
            seconds = wait_until(
                lambda: ready(container),
                timeout=timeout,
                pause=pause,
                while_running=container,
                what=what,
                until=until,
            )
        except NotReady as problem:
            if problem.exit is not None:
                headline = f"{what} did not {until}: it exited at start with {problem.exit}"
            else:
                headline = problem.message
            logs = tail_logs(container, LOG_LINES)
            output = f"; its last output:\n{indented(logs)}" if logs.strip() else ""
            raise _blamed(blame, headline + output, fix) from None
        yield Service(container, seconds)
    finally:
        try:
            container.remove(force=True)
        except docker.errors.APIError:  # removed already (a drill's disaster) or going
            pass
