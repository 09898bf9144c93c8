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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from graders.containers.listeners import listeners, misplaced
from graders.containers.running import (
    ContainerSpec,
    refused_image,
    start_container,
    tail_logs,
)
from graders.errors import GraderError, LearnerFailure
from graders.text import clean
from graders.timing import heavy_phase

LOG_LINES = 20  # lines of a container's output in a failure's message
# A start that used less than this share of one CPU over its last second is idle: it waits (for a
# port it will never open, for a timeout), it no longer works, so it is no longer a heavy phase.
IDLE_GRACE = 3.0  # seconds
IDLE_CPU = 0.05
_CPU_USAGE = (  # a container's CPU time in its cgroup: path, and seconds per unit
    ("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage", 1e-9),  # v1, cgroupfs
    ("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat", 1e-6),  # v2, systemd
    ("/sys/fs/cgroup/docker/{id}/cpu.stat", 1e-6),  # v2, cgroupfs
)


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


def cpu_seconds(container: Container) -> float | None:
    """The CPU time ``container`` has used, from its cgroup on this machine (None where the
    engine's cgroups cannot be read here: a remote engine, another layout)."""
    for pattern, unit in _CPU_USAGE:
        try:
            text = Path(pattern.format(id=container.id)).read_text()
        except OSError:
            continue
        if not pattern.endswith("cpu.stat"):
            return int(text.strip()) * unit
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) * unit
    return None


class IdleWatch:
    """Whether a starting container has gone idle: under ``IDLE_CPU`` of a CPU over its last
    second, judged from ``IDLE_GRACE`` seconds after the watch began (a busy machine can take
    over a second to start the process at all); never where its CPU time cannot be read."""

    def __init__(self, container: Container, grace: float = IDLE_GRACE) -> None:
        self.container = container
        self.grace = grace  # a container already known to run (answering) needs none
        self.began = time.monotonic()
        self.mark = (self.began, cpu_seconds(container))
        self.worked = False  # whether the last second judged (after the grace) was not idle

    @property
    def measurable(self) -> bool:
        """Whether the container's CPU time can be read here (else it is never judged idle)."""
        return self.mark[1] is not None

    def idle(self) -> bool:
        """True once a whole second has passed with the container (nearly) idle."""
        now = time.monotonic()
        then, used = self.mark
        if used is None or now - then < 1.0:
            return False
        if now - self.began < self.grace:
            self.mark = (now, cpu_seconds(self.container))
            return False
        current = cpu_seconds(self.container)
        self.mark = (now, current)
        idle = current is not None and (current - used) / (now - then) < IDLE_CPU
        self.worked = not idle
        return idle


@dataclass
class Service:
    """A started, ready service container, the seconds it took to get ready, and when it started
    (``time.monotonic()``, after any wait for the machine)."""

    container: Container
    seconds_to_ready: float
    started_at: float = 0.0

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
    port: int | None = None,
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

    From the start until ready, and the removal, are heavy phases (``graders.timing``); the
    block, where the service only answers what it is asked, is not, and neither is the rest of a
    wait once the container has gone idle (``IdleWatch``: it waits for a timeout, it no longer
    works).

    With ``port``, a service that stays idle for two of the watch's seconds in a row while it
    listens only elsewhere (another port, or loopback only: ``listeners.misplaced``) will never
    answer there: it raises ``blame`` at once, saying where it listens.
    """
    starting = ExitStack()  # the heavy phase of the start, closed once it is ready
    starting.enter_context(heavy_phase())
    try:
        try:
            started_at = time.monotonic()
            container = start_container(client, spec)
        except docker.errors.APIError as error:
            refusal = refused_image(error)
            if refusal is None:  # an engine fault, a network or name problem: not the learner's
                raise
            raise _blamed(
                blame, f"{what} could not start: the engine refused it: {clean(refusal)}", fix
            ) from None
        watch = IdleWatch(container)
        settled = [""]  # where it listened at the last idle second, when misplaced

        def ready_or_idle() -> bool:
            if ready(container):
                return True
            if watch.idle():
                starting.close()  # the wait goes on, no longer a heavy phase
                where = misplaced(listeners(container), port) if port else ""
                if where and where == settled[0]:
                    raise NotReady(f"{what} did not {until}: {where}")
                settled[0] = where
            elif watch.worked:
                settled[0] = ""
            return False

        try:
            try:
                seconds = wait_until(
                    ready_or_idle,
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
            starting.close()
            yield Service(container, seconds, started_at)
        finally:
            try:
                with heavy_phase():
                    container.remove(force=True)
            except docker.errors.APIError:  # removed already (a drill's disaster) or going
                pass
    finally:
        starting.close()
