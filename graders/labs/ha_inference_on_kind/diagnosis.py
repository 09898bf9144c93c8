"""What check 9 of the HA-inference lab tells when the image run as declared does not answer its
probes: each probe by kind (readiness, liveness, startup) with its URL and the last answer or
error it got, and, when the container stopped, how: its exit code, an out-of-memory kill (from
the container's State) and the memory limit it ran under.
"""

from __future__ import annotations

from dataclasses import dataclass

from graders.containers.services import Exit, readable_bytes
from graders.text import clean_name

# the probes a kubelet runs, in the order it runs them, as the manifest names them
PROBES = {"startupProbe": "startup", "readinessProbe": "readiness", "livenessProbe": "liveness"}
SIGNALS = {9: "SIGKILL", 15: "SIGTERM", 6: "SIGABRT", 11: "SIGSEGV", 2: "SIGINT"}


@dataclass
class ProbeSeen:
    """One probe's endpoint as the manifest declares it, and the last thing a GET on it got."""

    kind: str  # readiness, liveness or startup
    path: str
    port: str | int | None  # as the probe names it: a port name or number
    number: int | None  # the declared containerPort it resolves to (None: none)
    last: str = "never called"  # "HTTP 200", "HTTP 503", "connection refused", ...

    def __str__(self) -> str:
        port = clean_name(self.port, 60)
        if port != str(self.number):
            port += f" ({self.number})" if self.number else " (not a declared port)"
        return (
            f"{self.kind} probe GET {clean_name(self.path, 200)} on port {port}: last {self.last}"
        )


def how_it_ended(ended: Exit, memory_limit: object = None) -> str:
    """``exit code 137, OOMKilled: ...`` from the container's State; ``memory_limit`` is the
    manifest's ``limits.memory`` as written (None: the grader's default)."""
    text = f"exit code {ended.code}"
    declared = f" (limits.memory {memory_limit!r})" if memory_limit is not None else ""
    ran_under = readable_bytes(ended.memory_limit)
    if ended.oom_killed:
        return (
            f"{text}, OOMKilled: the kernel killed it for using more than its memory limit, "
            f"{ran_under}{declared}"
        )
    if ended.code > 128 and ended.code - 128 in SIGNALS:
        text += f" (killed by {SIGNALS[ended.code - 128]}, not OOMKilled)"
    return f"{text}; it ran with a memory limit of {ran_under}{declared}"


def indented(lines: str, prefix: str = "    ") -> str:
    """``lines``, each indented; "(it wrote nothing)" when there are none."""
    return "\n".join(prefix + line for line in lines.splitlines()) or f"{prefix}(it wrote nothing)"


def probes_seen(probes: list[ProbeSeen]) -> str:
    """One line a probe, indented."""
    return "\n".join(f"  {probe}" for probe in probes)


def stopped(ended: Exit, memory_limit: object, probes: list[ProbeSeen], log_tail: str) -> str:
    """The message of a container that stopped before its probes' endpoints all answered 200."""
    return (
        f"run as declared, the container stopped before its probes all answered 200: "
        f"{how_it_ended(ended, memory_limit)}\n{probes_seen(probes)}\n"
        f"  its last output:\n{indented(log_tail)}"
    )


def not_ready(deadline: float, probes: list[ProbeSeen], log_tail: str) -> str:
    """The message of a container still running whose probes did not all answer 200 in time."""
    return (
        f"the probes' endpoints did not all answer 200 within {deadline:.0f} s (the probes' "
        f"allowance), run as declared:\n{probes_seen(probes)}\n"
        f"  its last output:\n{indented(log_tail)}"
    )
