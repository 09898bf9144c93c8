"""Images: base images (pulled, or bootstrapped offline), builds with their logs, image weight."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from graders.containers.build_log import failure_summary
from graders.containers.builder import (
    FRONTEND_NOTICE,
    builder,
    is_builder_notice,
    offline_frontend,
    without_syntax_line,
)
from graders.containers.builds import (
    bound_build_cache,
    build_options,
    cap_buildkit_steps,
    raise_if_no_engine,
    run_capped,
)
from graders.containers.cleanup import LABEL, run_labels
from graders.containers.dockerfile import base_images
from graders.containers.engine import docker_cli
from graders.errors import EnvironmentProblem
from graders.timing import heavy_phase

STAND_IN_BASE = "python:3.11-slim"
# Images the offline stand-in may stand for: it is a Debian 12 (bookworm) root with Python added.
STAND_IN_ALIASES = ("debian:bookworm-slim",)
INFRA = Path(__file__).resolve().parents[2] / "infra"
BOOTSTRAP = INFRA / "images" / "base" / "bootstrap.sh"

Progress = Callable[[str], None]


def _silent(_: str) -> None:
    return None


@dataclass
class BuildResult:
    """The outcome of one ``docker build``: success, the image, and the whole log."""

    ok: bool
    tag: str
    log: str
    seconds: float
    image_id: str = ""
    builder: str = ""

    def log_tail(self, lines: int = 12) -> str:
        """The last ``lines`` lines of the build log (the builder's notices about the machine
        left out)."""
        kept = [line for line in self.log.rstrip().splitlines() if not is_builder_notice(line)]
        return "\n".join(kept[-lines:])

    def failure(self) -> str:
        """A failed build's message: the step that failed and why first, then the step's last
        lines (:func:`graders.containers.build_log.failure_summary`)."""
        if "\n" not in self.log.strip():  # no log: a message of ours (no Dockerfile, …)
            return self.log.strip() or "docker build failed"
        return failure_summary(self.log)


def ensure_image(client: docker.DockerClient, tag: str, progress: Progress = _silent) -> str:
    """Make ``tag`` available locally; return how: ``present``, ``pulled`` or ``bootstrapped``.

    Where no registry answers, ``python:3.11-slim`` is bootstrapped from Debian packages
    (``infra/images/base/bootstrap.sh``) and also stands for ``STAND_IN_ALIASES``; any other
    image is an environment problem.
    """
    try:
        client.images.get(tag)
        return "present"
    except docker.errors.ImageNotFound:
        pass
    progress(f"pulling {tag}")
    try:
        with heavy_phase():  # unpacking layers
            client.images.pull(tag)
        return "pulled"
    except docker.errors.APIError as exc:
        pull_error = str(exc).splitlines()[0][:160]
    if tag in STAND_IN_ALIASES:  # the bootstrapped base is that Debian release: tag it so
        how = ensure_image(client, STAND_IN_BASE, progress)
        client.images.get(STAND_IN_BASE).tag(*tag.split(":"))
        return f"tagged from {STAND_IN_BASE} ({how})"
    if tag != STAND_IN_BASE:
        raise EnvironmentProblem(
            f"image {tag} is not present and cannot be pulled ({pull_error})",
            f"pull it where a registry answers, or `docker tag {STAND_IN_BASE} {tag}` offline",
        )
    progress(f"no registry answers: bootstrapping {tag} from Debian packages (about a minute)")
    with heavy_phase():
        bootstrap_base_image(tag)
    return "bootstrapped"


def bootstrap_base_image(tag: str = STAND_IN_BASE) -> None:
    """Run the offline bootstrap recipe; raise with its output tail when it fails."""
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            f"{tag} cannot be pulled and bootstrapping it offline needs root",
            f"run `sudo bash {BOOTSTRAP} {tag}` once, or pull {tag} where a registry answers",
        )
    done = subprocess.run(
        ["bash", str(BOOTSTRAP), tag], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
        raise EnvironmentProblem(f"bootstrapping {tag} failed:\n{tail}", f"see {BOOTSTRAP}")


def infra_image(client: docker.DockerClient, name: str, progress: Progress = _silent) -> str:
    """The image of ``infra/images/NAME``, tagged by a digest of that folder's files: built once
    (after making its ``FROM`` image available), then reused until a file changes."""
    folder = INFRA / "images" / name
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    tag = f"mlops-labs/{name}:{digest.hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    for base in base_images((folder / "Dockerfile").read_text()):
        ensure_image(client, base, progress)
    progress(f"building the {name} image (once)")
    built = build_image(folder, tag, {LABEL: "1", f"{LABEL}.kind": name})
    if not built.ok:
        raise EnvironmentProblem(
            f"the {name} image did not build: {built.failure()}",
            "check that containers can reach the Python package index and Debian's mirrors",
        )
    return tag


def build_submission(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    run_id: str,
    progress: Progress = _silent,
    *,
    where: str = "Dockerfile",
    what: str = "your image",
) -> BuildResult:
    """Build a learner's ``context`` as ``tag`` with the run's labels, after making the offline
    stand-in of the base images it names available; a missing ``where`` (the Dockerfile's path in
    the submission) or a failed build is a result, the learner's to fix."""
    dockerfile = context / "Dockerfile"
    if not dockerfile.is_file():
        return BuildResult(False, "", f"no {where} in the submission", 0.0)
    for base in base_images(dockerfile.read_text(errors="replace")):
        if base == STAND_IN_BASE or base in STAND_IN_ALIASES:
            ensure_image(client, base, progress)
    progress(f"building {what}")
    return build_image(context, tag, run_labels(run_id))


def build_image(
    context: Path,
    tag: str,
    labels: dict[str, str],
    timeout: float = 600,
    dockerfile: str = "Dockerfile",
) -> BuildResult:
    """``docker build`` with the real CLI (so ``.dockerignore`` is read exactly as learners expect)
    and the machine's builder (BuildKit where it can, :mod:`graders.containers.builder`), confined
    as :mod:`graders.containers.builds` says (limits, network, capped output).

    A failed build is a result, not an exception: it is the learner's to fix. An engine that does
    not answer is an :class:`EnvironmentProblem`.
    """
    used = builder()
    command = [used.cli, "build", "-t", tag]
    for key, value in labels.items():
        command += ["--label", f"{key}={value}"]
    if used.buildkit:
        command.append("--progress=plain")
        cap_buildkit_steps()
    path = context / dockerfile
    with heavy_phase(), build_options(labels, not used.buildkit) as options:
        done = run_capped(
            [*command, *options, "-f", str(path), str(context)], timeout, env=used.environment()
        )
        fallback = used.buildkit and offline_frontend(done.output)
        if fallback:  # `# syntax=` names a frontend image no registry here can give
            with without_syntax_line(path) as plain:
                done = run_capped(
                    [*command, *options, "-f", str(plain), str(context)],
                    timeout,
                    env=used.environment(),
                )
            done.output = f"{FRONTEND_NOTICE}\n{done.output}"
    raise_if_no_engine(done.output)
    if used.buildkit:
        bound_build_cache(used.cli, used.environment())
    if done.code != 0:
        return BuildResult(False, tag, done.output, done.seconds, builder=used.name)
    image_id = subprocess.run(
        [docker_cli(), "image", "inspect", "-f", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return BuildResult(True, tag, done.output, done.seconds, image_id, used.name)
