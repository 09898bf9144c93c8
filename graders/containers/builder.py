"""Which builder grades a learner's Dockerfile: BuildKit, as on learners' own machines.

Every Docker since Engine 23 builds with BuildKit by default, so learners write ``COPY --chmod``,
``RUN --mount=type=cache`` and secret mounts. The grader builds the same way wherever it can:

1. a CLI with the buildx plugin: the engine's default builder (BuildKit), as Docker Desktop does;
2. otherwise a Docker CLI older than 23 (Debian's ``docker.io``, 20.10), which carries its own
   BuildKit client: ``DOCKER_BUILDKIT=1`` (the 23+ CLIs need buildx for it);
3. otherwise the classic builder, and the report says so.

``MLOPS_LABS_BUILDER=classic`` forces the classic builder (the tests of its limits use it).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from graders.containers.engine import docker_cli

BUILDER_VARIABLE = "MLOPS_LABS_BUILDER"
# The builder's own notices: about the machine, never about the learner's build.
_NOTICES = (
    "DEPRECATED: The legacy builder is deprecated",
    "Install the buildx component to build images with BuildKit",
    "https://docs.docker.com/go/buildx/",
    "BuildKit is currently disabled",
)


FRONTEND_NOTICE = (
    "[grader] the Dockerfile's `# syntax=` frontend image cannot be pulled on this machine (no "
    "registry answers): built with the engine's own Dockerfile frontend instead"
)
_SYNTAX_DIRECTIVE = re.compile(r"^#\s*syntax\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class Builder:
    """A way to run ``docker build``: the CLI, its environment, and whether it is BuildKit."""

    cli: str
    buildkit: bool
    name: str
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The environment of a build command run with this builder."""
        return {**os.environ, "DOCKER_CLI_HINTS": "false", **self.env}


@functools.cache
def builder() -> Builder:
    """The builder of this machine (see the module), found once per process."""
    cli = docker_cli()
    if os.environ.get(BUILDER_VARIABLE, "") == "classic":
        return Builder(
            cli, False, f"classic ({BUILDER_VARIABLE}=classic)", {"DOCKER_BUILDKIT": "0"}
        )
    if _succeeds([cli, "buildx", "version"]):
        return Builder(cli, True, "BuildKit (the engine's default builder, via buildx)")
    for candidate in _docker_clis(cli):
        version = _client_version(candidate)
        if version is not None and version < (23,):
            shown = ".".join(str(part) for part in version)
            return Builder(
                candidate,
                True,
                f"BuildKit (docker {shown} CLI, DOCKER_BUILDKIT=1)",
                {"DOCKER_BUILDKIT": "1"},
            )
    return Builder(
        cli,
        False,
        "classic (no BuildKit client here: install the docker-buildx plugin)",
        {"DOCKER_BUILDKIT": "0"},
    )


def is_builder_notice(line: str) -> bool:
    """True for a builder's notice about the machine (not about the build)."""
    return any(part in line for part in _NOTICES)


def offline_frontend(output: str) -> bool:
    """True when a BuildKit build failed only because its ``# syntax=`` frontend image could not
    be pulled (a machine without a registry, as here: never the learner's fault)."""
    return "failed to solve with frontend gateway.v0" in output and "resolve image config" in output


@contextmanager
def without_syntax_line(dockerfile: Path) -> Iterator[Path]:
    """A copy of ``dockerfile`` whose ``# syntax=`` directive is an empty comment (the lines keep
    their numbers), removed afterwards; the context and its ``.dockerignore`` stay the same."""
    lines = dockerfile.read_text(errors="replace").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if not line.lstrip().startswith("#"):
            break  # parser directives come before any instruction
        if _SYNTAX_DIRECTIVE.match(line.strip()):
            lines[index] = "#\n"
    folder = Path(tempfile.mkdtemp(prefix="mlops-labs-dockerfile-"))
    try:
        copy = folder / "Dockerfile"
        copy.write_text("".join(lines))
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _docker_clis(first: str) -> list[str]:
    """Every ``docker`` CLI on PATH (the first one first), and Debian's own."""
    found = [first]
    for folder in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin"]:
        path = shutil.which("docker", path=folder) if folder else None
        if path and os.path.realpath(path) not in {os.path.realpath(p) for p in found}:
            found.append(path)
    return found


def _client_version(cli: str) -> tuple[int, ...] | None:
    """The CLI's own version as numbers (``20.10.24+dfsg1`` is ``(20, 10, 24)``), or None."""
    try:
        done = subprocess.run(
            [cli, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", done.stdout.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def _succeeds(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
