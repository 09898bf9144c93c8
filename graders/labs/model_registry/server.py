"""What the grader measures of the learner's running server container, from Docker itself: the
users its processes run as, the owner of ``/data``, and the health that its own ``HEALTHCHECK``
reports (``State.Health``), polled with ``docker inspect``.

Nothing here asks the learner's image how it is configured (``Config.User``): a server started
as root that says ``USER`` elsewhere, or a healthcheck that never passes, shows in what runs.
"""

from __future__ import annotations

import re
import time
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container

from graders.containers.services import Exit, IdleWatch, container_exit
from graders.text import clean

HEALTH_PAUSE = 0.5  # seconds between two ``docker inspect`` of the health status
# How long after the server first answered /health through its service name Docker must say
# "healthy": Docker's default --interval (30 s) plus a probe that came just too early, with room.
HEALTH_DEADLINE = 60.0
# How long after it first answered a server may go on working (starting workers) before it has
# settled: one that is killed meanwhile (its memory limit) did not really start.
SETTLE_DEADLINE = 60.0


# Inside the container, so that UIDs are the container's own (as ``stat`` gives them), also
# under a rootless or remapped engine: the effective UID and command line of every process but
# this shell (the glob expands before it starts any child).
LIST_PROCESSES = r"""for d in /proc/[0-9]*; do
  [ "$d" = "/proc/$$" ] && continue
  u=$(sed -n 's/^Uid:[[:space:]]*[0-9]*[[:space:]]*\([0-9]*\).*/\1/p' "$d/status" 2>/dev/null)
  [ -n "$u" ] && printf '%s %s\n' "$u" "$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null)"
done
exit 0"""


_EXEC_FAILED = (docker.errors.APIError, requests.exceptions.RequestException)


def process_users(container: Container) -> list[tuple[str, str]]:
    """(effective UID, command line) of every process in the container, read from its ``/proc``
    (from the engine's ``docker top`` where the container has no shell)."""
    try:
        result = container.exec_run(["sh", "-c", LIST_PROCESSES])
        lines = result.output.decode(errors="replace").splitlines() if result.exit_code == 0 else []
    except _EXEC_FAILED:  # the learner's image can make an exec fail or hang (the client's timeout)
        lines = []
    found = [line.partition(" ") for line in lines if line.split(" ", 1)[0].isdigit()]
    if found:
        return [(uid, clean(command.strip()[:100], 120)) for uid, _, command in found]
    rows = container.top(ps_args="-o pid,uid,args").get("Processes") or []
    return [(str(row[1]).strip(), clean(str(row[-1])[:100], 120)) for row in rows if len(row) >= 3]


def data_owner(container: Container) -> str | None:
    """The UID that owns ``/data`` in the container (None when it cannot be read)."""
    try:
        result = container.exec_run(["stat", "-c", "%u", "/data"])
    except _EXEC_FAILED:
        return None
    text = result.output.decode(errors="replace").strip()
    return text if result.exit_code == 0 and text.isdigit() else None


def user_problems(container: Container) -> list[str]:
    """Why the server's user is wrong: a process of UID 0, or a ``/data`` it does not own."""
    processes = process_users(container)
    if not processes:
        return ["the grader could not list the processes of your server's container"]
    root = [command for uid, command in processes if uid == "0"]
    if root:
        return [f"the server runs as root (UID 0): {root[0]!r}; switch to a non-root USER"]
    uids = sorted({uid for uid, _ in processes})
    owner = data_owner(container)
    if owner is None:
        return ["the grader could not read the owner of /data (`stat -c %u /data` failed)"]
    if owner not in uids:
        return [
            f"/data is owned by UID {owner}, not by the server's user (UID {', '.join(uids)}): "
            "chown it to that user in the image, before VOLUME /data"
        ]
    return []


def last_probe(health: dict[str, Any]) -> str:
    """The exit code and output of the last probe of a ``State.Health``."""
    log = health.get("Log") or []
    if not log:
        return "no probe has run yet"
    probe = log[-1]
    lines = str(probe.get("Output") or "").strip().splitlines()
    output = clean(" | ".join(lines[-2:])[-300:], 300)  # a traceback's last lines say why
    return f"last probe exited {probe.get('ExitCode')}" + (f": {output}" if output else "")


def health_problem(container: Container, ready_at: float) -> str | None:
    """None once Docker reports the container ``healthy``; else why not. Polls ``docker
    inspect`` every ``HEALTH_PAUSE`` s until ``HEALTH_DEADLINE`` s after ``ready_at`` (when the
    server first answered /health, ``time.monotonic()``), and stops at once when the image has
    no HEALTHCHECK or Docker has declared it ``unhealthy``."""
    deadline = ready_at + HEALTH_DEADLINE
    while True:
        container.reload()
        state = container.attrs.get("State") or {}
        health = state.get("Health")
        if not health:
            return (
                "your image has no HEALTHCHECK: Docker cannot tell whether the server is healthy "
                "(`docker ps` shows no `(healthy)`)"
            )
        status = health.get("Status")
        if status == "healthy":
            return None
        if not state.get("Running"):
            return f"your server's container stopped (its health was {status!r})"
        if status == "unhealthy":
            return (
                f"Docker reports your server {status} while it answers /health on port 5000: "
                f"its HEALTHCHECK fails ({last_probe(health)})"
            )
        if time.monotonic() >= deadline:
            return (
                f"Docker's health status was still {status!r} {HEALTH_DEADLINE:.0f} s after the "
                f"server answered /health: its HEALTHCHECK never passed ({last_probe(health)})"
            )
        time.sleep(HEALTH_PAUSE)


# A request that sets or deletes an alias, in a server's access log (uvicorn's, MLflow 3's
# default): `"POST /api/2.0/mlflow/registered-models/alias HTTP/1.1" 200`.
ALIAS_WRITE = re.compile(r'"(POST|DELETE|PATCH) (/\S*/registered-models/alias)[ ?"]')
ALIAS_LOG_CAP = 8 * 1024 * 1024  # bytes of the log read for one command (a few kB when correct)


def alias_writes(container: Container, since: float, until: float) -> list[str]:
    """The alias writes (``POST /…/registered-models/alias``, its ``DELETE``) the server logged
    between ``since`` and ``until`` (``time.time()``): what moved an alias, even for a moment,
    whatever the alias reads before and after. Empty when the server logs no requests (a server
    without an access log is not watched)."""
    text, read = b"", 0
    try:  # streamed, and read up to ALIAS_LOG_CAP bytes only: the log is the learner's output
        stream = container.logs(since=since, until=until, stream=True, follow=False)
        try:
            for chunk in stream:
                text += chunk[: ALIAS_LOG_CAP - read]
                read += len(chunk)
                if read >= ALIAS_LOG_CAP:
                    break
        finally:
            stream.close()
    except _EXEC_FAILED:
        return []
    lines = text.decode("utf-8", "replace").splitlines()
    return [f"{m.group(1)} {m.group(2)}" for line in lines if (m := ALIAS_WRITE.search(line))]


def ended_before_settling(watch: IdleWatch, deadline: float = SETTLE_DEADLINE) -> Exit | None:
    """How the watched server ended, when it did before it settled (went idle) within
    ``deadline`` s of the watch; None once it has settled, when it still works at the deadline,
    or at once where its CPU time cannot be read here."""
    end = watch.began + deadline
    while (ended := container_exit(watch.container)) is None:
        if not watch.measurable or watch.idle() or time.monotonic() > end:
            return None
        time.sleep(0.25)
    return ended
