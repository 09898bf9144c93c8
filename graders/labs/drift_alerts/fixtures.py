"""Fixtures of the drift-alerts lab: the learner's service and rules, live, next to Prometheus.

The grader builds the learner's image and runs it on an internal network under the service name
``model`` (read-only root, a writable /tmp, no capabilities, limits). A Prometheus server of the
pinned image scrapes it there as job ``drift-service`` with the learner's rules loaded (every
group evaluated every ``EVERY``, as the global interval, even one with its own ``interval``; every
``for`` shortened to ``SHORT_FOR``), and the grader's probe drives traffic and asks Prometheus
from a sandbox workspace on the same network.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import yaml
from docker.models.containers import Container

from graders.containers.images import BuildResult, build_submission
from graders.containers.running import ContainerSpec, Limits
from graders.containers.services import running_service
from graders.containers.workspace import GRADER, Workspace, WorkspaceOptions, stage_readable
from graders.errors import LearnerFailure
from graders.fixtures.prometheus import CONFIG, PrometheusServer, promtool, running_prometheus
from graders.fixtures.scenario import OpenLabWorkspace, temporary_folder
from graders.labs.drift_alerts.data import TRAFFIC_JSON
from graders.labs.drift_alerts.probe import Health, LiveSeen
from graders.labs.drift_alerts.promtool import for_live_run, load_rules

SERVICE, PORT, JOB = "model", 8000, "drift-service"
SERVICE_URL = f"http://{SERVICE}:{PORT}"
RULES = "monitoring/rules.yml"
NO_RULES = "groups: []\n"  # what Prometheus loads when the learner's rules cannot be
SHORT_FOR = "5s"  # every alert's `for` in the live run
EVERY = "1s"  # how often Prometheus scrapes and evaluates every rule group in the live run
QUIET_SECONDS = 10  # in-distribution traffic during which FeatureDrift must not fire
BOUND_SECONDS = 30  # shifted traffic until FeatureDrift must be firing
START_TIMEOUT = 30.0
WORKSPACE = WorkspaceOptions(env={"HOME": "/tmp"})
SCRAPE_CONFIG = {
    "global": {"scrape_interval": EVERY, "evaluation_interval": EVERY},
    "rule_files": [f"{CONFIG}/rules.yml"],
    "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"{SERVICE}:{PORT}"]}]}],
}


@dataclass
class LiveRun:
    """What the end-to-end run saw, and the Prometheus that saw it (still running)."""

    seen: LiveSeen
    prometheus: PrometheusServer
    rules_problem: str  # why the learner's rules were not loaded ("" when they were)


@pytest.fixture(scope="session")
def workspace(open_lab_workspace: OpenLabWorkspace, internal_network: str) -> Iterator[Workspace]:
    """The sandbox on the service's network, the learner's folder read-only at /submission."""
    with open_lab_workspace(WORKSPACE, network=internal_network) as opened:
        yield opened


@pytest.fixture(scope="session")
def monitoring_copy(submission_dir: Path, run_id: str) -> Iterator[Path]:
    """A world-readable copy of the learner's ``monitoring/`` folder (empty when there is none),
    for promtool to read."""
    with temporary_folder(run_id, "monitoring") as temporary:
        source = submission_dir / "monitoring"
        target = temporary / "monitoring"
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
        raise LearnerFailure(service_build.failure())
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

    def healthy(_: Container) -> bool:
        answer: Health = workspace.probe("health", SERVICE_URL)
        return answer["status"] == 200

    progress("starting your service")
    with running_service(
        docker_client,
        spec,
        ready=healthy,
        timeout=START_TIMEOUT,
        port=PORT,
        blame=LearnerFailure,
        what="the service",
        until=f"answer GET /health with 200 on port {PORT}",
    ) as service:
        yield service.container


def rules_for_live_run(
    client: docker.DockerClient, image: str, submission: Path, run_id: str, folder: Path
) -> str:
    """Write the learner's rules, every group evaluated every ``EVERY`` and every ``for``
    shortened, to ``folder/rules.yml``; return why
    they cannot be loaded ("" when promtool accepts them as written and shortened; an empty rule
    file stands in)."""
    rules, submitted = folder / "rules.yml", folder / "submitted.yml"
    try:
        rules.write_text(for_live_run(load_rules(submission / RULES), EVERY, SHORT_FOR))
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
    with temporary_folder(run_id, "prometheus") as folder:
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
            seen: LiveSeen = workspace.probe(
                "live",
                SERVICE_URL,
                prometheus.url,
                f"{GRADER}/{TRAFFIC_JSON}",
                str(QUIET_SECONDS),
                str(BOUND_SECONDS),
                timeout=QUIET_SECONDS + BOUND_SECONDS + 120,
            )
            yield LiveRun(seen, prometheus, problem)
