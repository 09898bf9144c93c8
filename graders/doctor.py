"""``mlops-labs doctor``: is this machine ready to grade? Each finding has a fix-it line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from graders.catalogue import Lab, discover_labs
from graders.errors import GraderError
from graders.kind import INSTALL_KIND, INSTALL_KUBECTL
from graders.requirements import read_pins

RUNNER_REQUIREMENTS = Path(__file__).resolve().parents[1] / "infra/images/runner/requirements.txt"

MIN_FREE_GB = 5.0


def _runner_pin(name: str) -> str:
    """``name==version`` as the sandbox runner image pins it (``name`` when it cannot be read)."""
    try:
        pins = read_pins(RUNNER_REQUIREMENTS.read_text())[0]
    except OSError:
        return name
    return str(pins[name]) if name in pins else name


#: Each tool a lab may require: how to ask its version, how to install it, what its absence blocks.
TOOL_CHECKS: dict[str, tuple[list[str], str, str]] = {
    "dvc": (
        ["dvc", "--version"],
        f"`pip install {_runner_pin('dvc')}` (the grader's version)",
        "you run it to do",
    ),
    "promtool": (
        ["promtool", "--version"],
        "`apt-get install prometheus` (Debian 12's 2.42, the grader's), or promtool from "
        "https://prometheus.io/download/ on your PATH",
        "you run its unit tests in",
    ),
    "kubectl": (
        ["kubectl", "version", "--client"],
        INSTALL_KUBECTL,
        "you render and apply with it in",
    ),
    "kind": (["kind", "version"], INSTALL_KIND, "the live checks are skipped without a cluster in"),
}


@dataclass
class Finding:
    """One thing the doctor looked at."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def examine() -> list[Finding]:
    """Look at the Docker engine, the base image, kind, kubectl and free disk."""
    findings = [_docker_engine()]
    engine_ok = findings[0].ok
    findings.append(
        _base_image()
        if engine_ok
        else Finding("base image", False, "not checked: no Docker engine", "start the engine first")
    )
    if engine_ok:
        findings += _builder()
    findings += lab_tools(discover_labs())
    findings.append(_disk())
    return findings


def lab_tools(labs: list[Lab]) -> list[Finding]:
    """One finding per tool any of ``labs`` requires (kind for a lab that needs a cluster), in
    ``TOOL_CHECKS``' order, naming the labs a missing one blocks. None is required to grade:
    the grader runs its own dvc, promtool and kubectl in containers; kind makes the cluster."""
    users: dict[str, list[str]] = {}
    for lab in labs:
        for tool in (*lab.requires.tools, *(["kind"] if lab.requires.kind else [])):
            users.setdefault(tool, []).append(lab.id)
    found = []
    for tool, (command, fix, use) in TOOL_CHECKS.items():
        if tool not in users:
            continue
        finding = _tool(tool, command, fix, required=False)
        if not finding.ok:
            finding.detail += f"; {use}: {', '.join(users[tool])}"
        found.append(finding)
    return found


def prepare(say: Callable[[str], None]) -> bool:
    """Make the base image, the sandbox runner image and the Prometheus image available, saying
    how as it goes. The two images on the base are built side by side."""
    from graders.containers.engine import connect
    from graders.containers.images import STAND_IN_BASE, ensure_image, infra_image
    from graders.containers.sandbox import runner_image

    try:
        client = connect(timeout=30)
    except GraderError as exc:
        say(f"cannot prepare images: {exc}")
        return False
    try:
        how = ensure_image(client, STAND_IN_BASE, say)
        say(f"base image {STAND_IN_BASE}: {how}")
        second = connect(timeout=30)  # one client per thread
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                runner = pool.submit(runner_image, client, say)
                prometheus = pool.submit(infra_image, second, "prometheus", say)
                say(f"sandbox runner image: {runner.result()}")
                say(f"Prometheus image: {prometheus.result()}")
        finally:
            second.close()
    except GraderError as exc:
        say(f"cannot prepare images: {exc}")
        return False
    finally:
        client.close()
    return True


def _docker_engine() -> Finding:
    from graders.containers.engine import connect, engine_facts

    try:
        client = connect(timeout=10)
    except GraderError as exc:
        return Finding("Docker engine", False, exc.message, exc.fix)
    facts = engine_facts(client)
    client.close()
    return Finding(
        "Docker engine",
        True,
        f"server {facts['docker_server']}, "
        f"{facts['docker_storage_driver']}, {facts['docker_cpus']} CPUs",
    )


def _builder() -> list[Finding]:
    """Which builder grades Dockerfiles, and whether its build steps are cut off from containers
    on the engine's default bridge (BuildKit's ``RUN`` steps are on it)."""
    from graders.containers.builder import builder
    from graders.containers.engine import connect

    used = builder()
    found = [
        Finding(
            "image builder",
            used.buildkit,
            used.name,
            "install the docker-buildx plugin (or Debian's docker.io 20.10 CLI): learners' "
            "Docker builds with BuildKit",
            required=False,
        )
    ]
    if used.buildkit:
        client = connect(timeout=10)
        try:
            options = client.networks.get("bridge").attrs.get("Options", {})
        finally:
            client.close()
        icc = options.get("com.docker.network.bridge.enable_icc", "true") == "true"
        found.append(
            Finding(
                "build steps' network",
                not icc,
                "the default bridge allows traffic between containers: a build step could reach "
                "a container on it"
                if icc
                else "the default bridge keeps containers apart (--icc=false)",
                "start the engine with `dockerd --icc=false` (scripts/setup.sh does)",
                required=False,
            )
        )
    return found


def _base_image() -> Finding:
    import docker.errors

    from graders.containers.engine import connect
    from graders.containers.images import BOOTSTRAP, STAND_IN_BASE

    client = connect(timeout=10)
    try:
        image = client.images.get(STAND_IN_BASE)
    except docker.errors.ImageNotFound:
        return Finding(
            "base image",
            False,
            f"{STAND_IN_BASE} is not present",
            f"`docker pull {STAND_IN_BASE}`, or offline: `sudo bash {BOOTSTRAP}`",
        )
    finally:
        client.close()
    stand_in = image.labels.get("org.mlops-labs.stand-in")
    how = f"offline stand-in ({stand_in})" if stand_in else "from a registry"
    return Finding("base image", True, f"{STAND_IN_BASE} present, {how}")


def _tool(name: str, command: list[str], fix: str, required: bool) -> Finding:
    if shutil.which(command[0]) is None:
        return Finding(name, False, "not on PATH", fix, required)
    done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return Finding(name, done.returncode == 0, first[0] if first else "", fix, required)


def _disk() -> Finding:
    free_gb = shutil.disk_usage(Path.cwd()).free / 1e9
    return Finding(
        "free disk",
        free_gb >= MIN_FREE_GB,
        f"{free_gb:.1f} GB free here",
        f"free at least {MIN_FREE_GB:.0f} GB (`docker system prune` helps)",
    )
