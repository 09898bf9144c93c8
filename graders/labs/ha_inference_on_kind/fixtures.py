"""Fixtures of the HA-inference lab, layers 1 and 2: the rendered manifests, the image, and the
image run in Docker exactly as the manifest says a kubelet would run it.

Layer 2 keeps the manifest's promises in Docker: its user (and runAsNonRoot's refusal of a
non-numeric image user), its read-only root filesystem with a tmpfs for every emptyDir, its CPU and
memory limits, its env, command and args, all capabilities dropped when it drops them. The probes'
endpoints are then called on the declared ports, and SIGTERM must stop it within
``terminationGracePeriodSeconds``. Layer 3, on a real kind cluster, is in ``ha_inference_live``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from docker.models.containers import Container
from docker.models.networks import Network

from graders.containers.http_exchange import ExchangeFailed, exchange
from graders.containers.images import BuildResult, build_submission
from graders.containers.inspect import configured_user
from graders.containers.running import ContainerSpec, Limits, host_port, tail_logs
from graders.containers.services import NotReady, running_service, wait_until
from graders.containers.workspace import leaving_out, stage_readable
from graders.errors import LearnerFailure
from graders.fixtures.scenario import temporary_folder
from graders.labs.ha_inference_on_kind.diagnosis import PROBES, ProbeSeen
from graders.labs.ha_inference_on_kind.manifests import Manifests, dig, render
from graders.labs.ha_inference_on_kind.policy import effective_security_context
from graders.labs.ha_inference_on_kind.quantities import NotAQuantity, quantity
from graders.timing import heavy_phase

DEFAULT_GRACE = 30  # seconds, Kubernetes' default terminationGracePeriodSeconds
PIDS = 256
REASONS = {  # what a failed GET on a published port means, said plainly
    "ConnectionResetError": "connection reset (nothing listens on the port)",
    "RemoteDisconnected": "the connection closed without an answer",
}
# the first row of scikit-learn's load_breast_cancer(): a valid /predict instance
INSTANCE = [
    17.99, 10.38, 122.8, 1001.0, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871,
    1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193,
    25.38, 17.33, 184.6, 2019.0, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189,
]  # fmt: skip


@dataclass
class DeclaredRun:
    """The image running as the manifest declares, and where its probes' endpoints answer."""

    container: Container
    urls: dict[str, str]  # probe (readinessProbe, livenessProbe, startupProbe) -> loopback URL
    predict_url: str
    deadline: float  # seconds the probes allow before a kubelet would restart it
    grace: int
    probes: dict[str, ProbeSeen] = field(default_factory=dict)  # same keys as urls
    memory_limit: object = None  # the manifest's limits.memory, as written

    def get(self, probe: str) -> int:
        """The status of a GET on ``probe``'s endpoint (0 when no complete answer of at most
        1 MB comes within 2 s); what it got is kept as the probe's ``last``."""
        try:
            status = exchange("GET", self.urls[probe], deadline=2).status_code
        except ExchangeFailed as failure:
            status, last = 0, REASONS.get(failure.reason, failure.reason)
        else:
            last = f"HTTP {status}"
        if probe in self.probes:
            self.probes[probe].last = last
        return status


def quantity_cpus(value: Any) -> float | None:
    """A Kubernetes CPU quantity ("500m", "1", 2, "2e-1") in CPUs (None when unset); one the API
    server would refuse is the learner's failure."""
    if value is None or value == "":
        return None
    try:
        return float(quantity(value))
    except NotAQuantity as error:
        raise LearnerFailure(f"limits.cpu: {error}") from None


def quantity_bytes(value: Any) -> int | None:
    """A Kubernetes memory quantity ("512Mi", "1G", "268435456", "5e8") in bytes, rounded up as
    Kubernetes does (None when unset); one the API server would refuse is the learner's failure."""
    if value is None or value == "":
        return None
    try:
        return math.ceil(quantity(value))
    except NotAQuantity as error:
        raise LearnerFailure(f"a memory quantity: {error}") from None


def run_spec(manifests: Manifests, image: str, image_user: str, run_id: str) -> ContainerSpec:
    """The ContainerSpec of the Deployment's first container, as a kubelet would run it."""
    container = manifests.container() or {}
    pod = manifests.pod_spec()
    context = effective_security_context(pod, container)
    user = None
    if context.get("runAsUser") is not None:
        user = str(context["runAsUser"])
        if context.get("runAsGroup") is not None:
            user += f":{context['runAsGroup']}"
    elif context.get("runAsNonRoot"):
        name = image_user.split(":")[0]
        if not name.isdigit():
            raise LearnerFailure(
                f"runAsNonRoot with the image user {image_user or 'root'!r} and no runAsUser: a "
                "kubelet refuses to start it (it cannot verify a non-numeric user is not root)"
            )
        if int(name) == 0:
            raise LearnerFailure("runAsNonRoot, and the image runs as user 0: a kubelet refuses it")
    limits = dig(container, "resources", "limits") or {}
    memory = quantity_bytes(limits.get("memory"))
    emptydirs = {v.get("name"): v for v in pod.get("volumes") or [] if "emptyDir" in v}
    scratch = {
        m["mountPath"]: str(
            quantity_bytes(dig(emptydirs[m["name"]], "emptyDir", "sizeLimit")) or "64m"
        )
        for m in container.get("volumeMounts") or []
        if m.get("name") in emptydirs
    }
    return ContainerSpec(
        image=image,
        run_id=run_id,
        name_hint="as-declared",
        env={e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e},
        limits=Limits(
            cpus=quantity_cpus(limits.get("cpu")) or 2.0,
            memory=str(memory) if memory else "2g",
            pids=PIDS,
        ),
        publish=published_ports(container),
        read_only=context.get("readOnlyRootFilesystem") is True,
        tmp_on_tmpfs=False,  # a pod has a writable /tmp only where it mounts a volume there
        entrypoint=container.get("command"),
        command=container.get("args"),
        user=user,
        drop_capabilities="ALL"
        in (dig(container, "securityContext", "capabilities", "drop") or []),
        scratch=scratch,
    )


def probe_port(manifests: Manifests, probe: str) -> int | None:
    """The container port number a probe's httpGet names: a number as it is (a kubelet probes
    a port the container does not declare too), a name through the container's ports."""
    return _probe_port(manifests.container() or {}, probe)


def _probe_port(container: dict[str, Any], probe: str) -> int | None:
    port = dig(container, probe, "httpGet", "port")
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    for declared in container.get("ports") or [] if isinstance(port, str) else []:
        if port == declared.get("name"):
            return int(declared["containerPort"])
    return None


def published_ports(container: dict[str, Any]) -> tuple[int, ...]:
    """The declared container ports, first one first, then any port a probe names by number."""
    ports = [int(p["containerPort"]) for p in container.get("ports") or []]
    for probe in PROBES:
        port = _probe_port(container, probe)
        if port is not None and port not in ports:
            ports.append(port)
    return tuple(ports)


@pytest.fixture(scope="session")
def staged_submission(submission_dir: Path, run_id: str) -> Iterator[Path]:
    """A world-readable copy of the submission (for the sandbox to read and to build)."""
    with temporary_folder(run_id, "submission") as temporary:
        yield stage_readable(submission_dir, temporary / "submission", leaving_out(".git"))


@pytest.fixture(scope="session")
def rendered_manifests(
    docker_client: docker.DockerClient, sandbox_image: str, staged_submission: Path, run_id: str
) -> Manifests:
    """``kubectl kustomize k8s/``, rendered in the sandbox and parsed."""
    return render(docker_client, sandbox_image, staged_submission, run_id)


@pytest.fixture(scope="session")
def inference_build(
    docker_client: docker.DockerClient,
    staged_submission: Path,
    run_id: str,
    progress: Callable[[str], None],
) -> BuildResult:
    """The result of building the submission's Dockerfile (a failed build is a result)."""
    return build_submission(
        docker_client, staged_submission, f"mlops-labs/ha-inference:{run_id}", run_id, progress
    )


@pytest.fixture(scope="session")
def declared_run(
    docker_client: docker.DockerClient,
    inference_build: BuildResult,
    rendered_manifests: Manifests,
    docker_network: Network,
    run_id: str,
    progress: Callable[[str], None],
) -> Iterator[DeclaredRun]:
    """The image started as the manifest declares; removed afterwards."""
    if not inference_build.ok:
        raise LearnerFailure(inference_build.failure())
    image_user = configured_user(docker_client, inference_build.tag)
    spec = run_spec(rendered_manifests, inference_build.tag, image_user, run_id)
    spec.network = docker_network.name
    progress("starting your image as the manifest declares")
    # started is enough here: check 9 waits for the probes' endpoints and judges them itself.
    # The whole run is one heavy phase (graders.timing): the start it times is not ready when
    # running_service returns, and a wait for the machine comes before the container starts.
    with (
        heavy_phase(),
        running_service(
            docker_client,
            spec,
            ready=lambda _: True,
            timeout=0,
            blame=LearnerFailure,
            what="your image run as declared",
        ) as service,
    ):
        container = service.container
        declared = rendered_manifests.container() or {}
        urls, probes = {}, {}
        for probe, kind in PROBES.items():
            port = probe_port(rendered_manifests, probe)
            if probe == "startupProbe" and port is None:
                continue  # optional, and called only on a declared (so published) port
            published = host_port(container, port) if port else None
            path = str(dig(declared, probe, "httpGet", "path") or "/")
            urls[probe] = f"http://127.0.0.1:{published}{path}" if published else ""
            named = dig(declared, probe, "httpGet", "port")
            probes[probe] = ProbeSeen(kind, path, named, port)
        serving = next(iter(spec.publish), None)
        served = host_port(container, serving) if serving else None
        grace = dig(rendered_manifests.pod_spec(), "terminationGracePeriodSeconds")
        yield DeclaredRun(
            container,
            urls,
            f"http://127.0.0.1:{served}/predict" if served else "",
            float(min(max(allowance(declared), 10), 120)),
            int(grace if grace is not None else DEFAULT_GRACE),
            probes,
            dig(declared, "resources", "limits", "memory"),
        )


def allowance(container: dict[str, Any]) -> int:
    """Seconds before a kubelet restarts a container whose endpoints do not answer: the startup
    probe's allowance (when it declares one), then the liveness probe's, each
    ``initialDelaySeconds + periodSeconds x failureThreshold`` (defaults 0, 10 and 3)."""
    total = 0
    for probe in ("startupProbe", "livenessProbe"):
        if probe == "startupProbe" and not container.get(probe):
            continue
        spec = container.get(probe) or {}
        period, failures = int(spec.get("periodSeconds", 10)), int(spec.get("failureThreshold", 3))
        total += int(spec.get("initialDelaySeconds", 0)) + period * failures
    return total


def healthy_within(run: DeclaredRun) -> float | None:
    """Seconds until every probe's endpoint answers 200 (None: not within the probes'
    allowance, or the container stopped). Each round calls them all, so each one's ``last``
    is current."""
    try:
        return wait_until(
            lambda: all([run.get(probe) == 200 for probe in run.urls]),
            timeout=run.deadline,
            pause=0.1,
            while_running=run.container,
        )
    except NotReady:
        return None


def stops_on_sigterm(run: DeclaredRun) -> float | None:
    """Send SIGTERM (as a kubelet does after preStop) and return the seconds until the container
    exited, or None if it still runs after the grace period."""
    started = time.monotonic()
    run.container.kill(signal="SIGTERM")
    try:
        run.container.wait(timeout=run.grace)
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        return None
    return round(time.monotonic() - started, 2)


def logs(run: DeclaredRun) -> str:
    """The container's last lines, for a message."""
    return tail_logs(run.container, 15)
