"""Fixtures of the drift-alerts lab: the learner's service and rules, live, next to Prometheus.

The grader builds the learner's image and runs it on an internal network under the service name
``model`` (read-only root, a writable /tmp, no capabilities, limits). A Prometheus server of the
pinned image scrapes it there as job ``drift-service`` with the learner's rules loaded (every
``for`` shortened to ``SHORT_FOR``), and the grader's probe drives traffic and asks Prometheus
from a sandbox workspace on the same network.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import yaml
from docker.models.containers import Container

from graders.containers.images import BuildResult, build_submission
from graders.containers.running import (
    ContainerSpec,
    Limits,
    start_container,
    tail_logs,
    wait_while_running,
)
from graders.containers.workspace import GRADER, Workspace, stage_readable, submission_workspace
from graders.errors import LearnerFailure
from graders.fixtures.prometheus import CONFIG, PrometheusServer, promtool, running_prometheus
from graders.labs.drift_alerts.data import applications
from graders.labs.drift_alerts.promtool import load_rules, with_for_shortened
from graders.labs.drift_alerts.statistics import hidden_datasets

SERVICE, PORT, JOB = "model", 8000, "drift-service"
SERVICE_URL = f"http://{SERVICE}:{PORT}"
RULES = "monitoring/rules.yml"
NO_RULES = "groups: []\n"  # what Prometheus loads when the learner's rules cannot be
SHORT_FOR = "5s"  # every alert's `for` in the live run
QUIET_SECONDS = 10  # in-distribution traffic during which FeatureDrift must not fire
BOUND_SECONDS = 30  # shifted traffic until FeatureDrift must be firing
START_TIMEOUT = 30.0
PROBE = Path(__file__).with_name("probe.py")
SCRAPE_CONFIG = {
    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
    "rule_files": [f"{CONFIG}/rules.yml"],
    "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"{SERVICE}:{PORT}"]}]}],
}


@dataclass
class LiveRun:
    """What the end-to-end run saw, and the Prometheus that saw it (still running)."""

    seen: dict[str, Any]
    prometheus: PrometheusServer
    rules_problem: str  # why the learner's rules were not loaded ("" when they were)


@pytest.fixture(scope="session")
def grader_files(run_id: str) -> Iterator[Path]:
    """The probe, the hidden datasets and the traffic, mounted at /grader."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-grader-") as temporary:
        folder = Path(temporary) / "grader"
        folder.mkdir()
        shutil.copy(PROBE, folder / "probe.py")
        (folder / "datasets.json").write_text(json.dumps(hidden_datasets()))
        traffic = {
            "quiet": list(applications(8002, 3_000)),
            "shifted": list(applications(8003, 3_000, shifted=True)),
        }
        (folder / "traffic.json").write_text(json.dumps(traffic))
        yield stage_readable(folder, Path(temporary) / "mounted")


@pytest.fixture(scope="session")
def workspace(
    docker_client: docker.DockerClient,
    sandbox_image: str,
    submission_dir: Path,
    grader_files: Path,
    internal_network: str,
    run_id: str,
) -> Iterator[Workspace]:
    """The sandbox on the service's network, the learner's folder read-only at /submission."""
    with submission_workspace(
        docker_client,
        sandbox_image,
        submission=submission_dir,
        grader_files=grader_files,
        run_id=run_id,
        env={"HOME": "/tmp"},
        network=internal_network,
    ) as opened:
        yield opened


@pytest.fixture(scope="session")
def monitoring_copy(submission_dir: Path, run_id: str) -> Iterator[Path]:
    """A world-readable copy of the learner's ``monitoring/`` folder (empty when there is none),
    for promtool to read."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-monitoring-") as temporary:
        source = submission_dir / "monitoring"
        target = Path(temporary) / "monitoring"
        if source.is_dir():
            yield stage_readable(source, target)
        else:
            target.mkdir(mode=0o755)
            yield target


@pytest.fixture(scope="session")
def service_build(
    docker_client: docker.DockerClient,
    submission_dir: Path,
    run_id: str,
    progress: Callable[[str], None],
) -> BuildResult:
    """The result of building the learner's Dockerfile (a failed build is a result)."""
    tag = f"mlops-labs/drift-service:{run_id}"
    return build_submission(
        docker_client, submission_dir, tag, run_id, progress, what="your service image"
    )


@pytest.fixture(scope="session")
def scoring_service(
    docker_client: docker.DockerClient,
    service_build: BuildResult,
    internal_network: str,
    workspace: Workspace,
    run_id: str,
    progress: Callable[[str], None],
) -> Iterator[Container]:
    """The learner's service as ``model:8000``, answering /health; removed afterwards."""
    if not service_build.ok:
        raise LearnerFailure(f"docker build failed:\n{service_build.log_tail()}")
    spec = ContainerSpec(
        image=service_build.tag,
        run_id=run_id,
        name_hint="drift-service",
        limits=Limits(cpus=1.0, memory="512m", pids=256),
        read_only=True,
        network=internal_network,
        aliases=(SERVICE,),
        drop_capabilities=True,
    )
    progress("starting your service")
    container = start_container(docker_client, spec)
    try:
        healthy = wait_while_running(
            container,
            lambda: workspace.probe(f"{GRADER}/probe.py", "health", SERVICE_URL)["status"] == 200,
            START_TIMEOUT,
        )
        if healthy is None:
            raise LearnerFailure(
                f"the service did not answer GET /health with 200 on port {PORT} within "
                f"{START_TIMEOUT:.0f} s ({container.status}):\n{tail_logs(container, 15)}"
            )
        yield container
    finally:
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass


def rules_for_live_run(
    client: docker.DockerClient, image: str, submission: Path, run_id: str, folder: Path
) -> str:
    """Write the learner's rules with every ``for`` shortened to ``folder/rules.yml``; return why
    they cannot be loaded ("" when promtool accepts them as written and shortened; an empty rule
    file stands in)."""
    rules, submitted = folder / "rules.yml", folder / "submitted.yml"
    try:
        rules.write_text(with_for_shortened(load_rules(submission / RULES), SHORT_FOR))
    except ValueError as problem:
        rules.write_text(NO_RULES)
        return f"{RULES}: {problem}"
    shutil.copyfile(submission / RULES, submitted)  # shortening must not mend an invalid `for`
    for path in (rules, submitted):
        path.chmod(0o644)
    folder.chmod(0o755)
    checked = promtool(
        client, image, f"promtool check rules {CONFIG}/submitted.yml {CONFIG}/rules.yml",
        run_id=run_id, mounts={folder: CONFIG},
    )  # fmt: skip
    if checked.ok:
        return ""
    rules.write_text(NO_RULES)
    return f"{RULES}: promtool check rules refused them"


@pytest.fixture(scope="session")
def live_run(
    docker_client: docker.DockerClient,
    prometheus_image: str,
    scoring_service: Container,
    workspace: Workspace,
    internal_network: str,
    submission_dir: Path,
    run_id: str,
    progress: Callable[[str], None],
) -> Iterator[LiveRun]:
    """Prometheus scraping the service with the learner's rules, after the end-to-end traffic."""
    with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run_id}-prometheus-") as temporary:
        folder = Path(temporary)
        problem = rules_for_live_run(
            docker_client, prometheus_image, submission_dir, run_id, folder
        )
        (folder / "prometheus.yml").write_text(yaml.safe_dump(SCRAPE_CONFIG, sort_keys=False))
        for path in folder.iterdir():
            path.chmod(0o644)
        folder.chmod(0o755)
        progress("starting Prometheus")
        with running_prometheus(
            docker_client, prometheus_image, run_id=run_id, network=internal_network,
            alias="prometheus", config_dir=folder,
        ) as prometheus:  # fmt: skip
            progress("sending in-distribution, then shifted traffic")
            seen = workspace.probe(
                f"{GRADER}/probe.py",
                "live",
                SERVICE_URL,
                prometheus.url,
                f"{GRADER}/traffic.json",
                str(QUIET_SECONDS),
                str(BOUND_SECONDS),
                timeout=QUIET_SECONDS + BOUND_SECONDS + 120,
            )
            yield LiveRun(seen, prometheus, problem)
