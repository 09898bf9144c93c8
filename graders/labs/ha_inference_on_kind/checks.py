"""Grader of professional/03-ha-inference-on-kind: its acceptance criteria, in order, one check
each.

Layer 1 reads the rendered manifests as a cluster would (``ha_inference_policy``); layer 2 runs the
learner's image in Docker as the manifest declares (``ha_inference_fixtures``); layer 3 applies it
all to a real kind cluster under traffic (``ha_inference_live``) and is skipped, with the way to
get a cluster, where none is reachable.
"""

from __future__ import annotations

from typing import Any

from graders.checks import check
from graders.containers.http_exchange import exchange
from graders.containers.services import container_exit
from graders.labs.ha_inference_on_kind import availability, diagnosis, policy
from graders.labs.ha_inference_on_kind.fixtures import (
    INSTANCE,
    DeclaredRun,
    healthy_within,
    logs,
    stops_on_sigterm,
)
from graders.labs.ha_inference_on_kind.live import LiveRun
from graders.labs.ha_inference_on_kind.manifests import Manifests
from graders.labs.ha_inference_on_kind.policy import no_problems

HEALTHY = ["test_answers_its_probes_and_serves_when_run_as_declared"]
ROLLED_OUT = ["test_rollout_completes_in_a_fresh_namespace"]
MAX_ERROR_RATE = 0.01


@check(
    1,
    points=8,
    hint="Run `kubectl kustomize k8s/` and validate each object with "
    "kubernetes-validate (`kubernetes-validate -k 1.36 --strict`); fix the first unknown field.",
)
def test_manifests_render_and_validate_strictly(rendered_manifests: Manifests) -> None:
    """The manifests render with `kubectl kustomize` and validate strictly against the Kubernetes
    1.36 schemas"""
    kinds = {o.get("kind") for o in rendered_manifests.objects}
    missing = {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} - kinds
    assert not missing, f"the rendered manifests have no {', '.join(sorted(missing))}"
    no_problems(
        policy.schema_problems(rendered_manifests) + policy.api_refusals(rendered_manifests)
    )


@check(
    2,
    points=7,
    hint="replicas (or the HPA's minReplicas) of 2 or more; a topologySpreadConstraint "
    "on kubernetes.io/hostname selecting the pods; a PDB whose selector matches the pod labels.",
)
def test_high_availability(rendered_manifests: Manifests) -> None:
    """High availability: at least 2 replicas spread across nodes, an HPA on the Deployment, and
    a PodDisruptionBudget that selects the pods"""
    no_problems(availability.high_availability(rendered_manifests))


@check(
    3,
    points=5,
    hint="strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, "
    "maxSurge: 1}}: a new pod is ready before an old one goes.",
)
def test_rolling_update_never_drops_below_capacity(rendered_manifests: Manifests) -> None:
    """Rolling updates never drop below capacity (maxUnavailable 0)"""
    no_problems(policy.never_below_capacity(rendered_manifests))


@check(
    4,
    points=5,
    hint="Name the container port (`name: http`) and point both probes' httpGet at "
    "that name, so they cannot drift apart.",
)
def test_probes_on_a_declared_port(rendered_manifests: Manifests) -> None:
    """Readiness and liveness probes on a declared container port"""
    no_problems(policy.probes_on_declared_ports(rendered_manifests))


@check(
    5,
    points=5,
    hint="resources: requests and limits, each with cpu and memory, on every "
    "container; measure the service's memory with `docker stats` first.",
)
def test_cpu_and_memory_requests_and_limits(rendered_manifests: Manifests) -> None:
    """CPU and memory requests and limits"""
    no_problems(policy.requests_and_limits(rendered_manifests))


@check(
    6,
    points=5,
    hint="securityContext: runAsNonRoot: true with a numeric runAsUser, "
    "readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}; an emptyDir for /tmp.",
)
def test_runs_locked_down(rendered_manifests: Manifests) -> None:
    """Runs locked down: runAsNonRoot, read-only root filesystem, all capabilities dropped"""
    no_problems(policy.locked_down(rendered_manifests))


@check(
    7,
    points=5,
    hint="Tag the image with a version (`mlops-labs/ha-inference:1.0.0`), never "
    "latest or nothing, and set imagePullPolicy: IfNotPresent for an image loaded into kind.",
)
def test_image_tag_pinned(rendered_manifests: Manifests) -> None:
    """The image tag is pinned"""
    no_problems(policy.image_pinned(rendered_manifests))


@check(
    8,
    points=5,
    hint="Copy the pod template's labels into the Service selector, and use the "
    "container port's name as targetPort.",
)
def test_service_selects_the_pods_and_targets_a_container_port(
    rendered_manifests: Manifests,
) -> None:
    """The Service selects the pods and targets a container port"""
    no_problems(policy.service_routes_to_pods(rendered_manifests))


@check(
    9,
    points=15,
    hint="Run it as the manifest does: `docker run --read-only --tmpfs /tmp "
    "--user 10001:10001 --cap-drop ALL --memory 512m`; write nothing outside /tmp.",
)
def test_answers_its_probes_and_serves_when_run_as_declared(
    declared_run: DeclaredRun, record_property: Any
) -> None:
    """Run as the manifest declares, the image answers its probes and serves predictions"""
    missing = [probe for probe, url in declared_run.urls.items() if not url]
    assert not missing, f"{', '.join(missing)}: no declared, published port to call"
    seconds = healthy_within(declared_run)
    probes = list(declared_run.probes.values())
    ended = container_exit(declared_run.container)
    assert ended is None, diagnosis.stopped(
        ended, declared_run.memory_limit, probes, logs(declared_run)
    )
    assert seconds is not None, diagnosis.not_ready(
        declared_run.deadline, probes, logs(declared_run)
    )
    answer = exchange("POST", declared_run.predict_url, json_body={"instances": [INSTANCE]})
    assert answer.status_code == 200, (
        f"POST /predict answered {answer.status_code} once ready: {answer.text[:300]}"
    )
    record_property("message", f"ready and live {seconds:.1f} s after the start")


@check(
    10,
    points=10,
    requires=HEALTHY,
    hint='Use the exec form of CMD (`CMD ["python", ...]`) so '
    "the server is PID 1 and gets SIGTERM; let it finish in-flight requests and exit.",
)
def test_sigterm_stops_it_within_the_grace_period(
    declared_run: DeclaredRun, record_property: Any
) -> None:
    """SIGTERM stops it within terminationGracePeriodSeconds"""
    seconds = stops_on_sigterm(declared_run)
    assert seconds is not None, (
        f"still running {declared_run.grace} s after SIGTERM (terminationGracePeriodSeconds): "
        "a kubelet would SIGKILL it mid-request"
    )
    record_property("message", f"exited {seconds:.1f} s after SIGTERM")


@check(
    11,
    points=10,
    hint="`mlops-labs cluster up`, then `kind load docker-image` your image and "
    "`kubectl apply -k k8s/ -n test`; `kubectl describe pod` shows why a pod is not ready.",
)
def test_rollout_completes_in_a_fresh_namespace(live_run: LiveRun, record_property: Any) -> None:
    """On kind: the rollout completes in a fresh namespace"""
    assert not live_run.rollout_problem, live_run.rollout_problem
    record_property("message", f"rolled out in {live_run.rollout_seconds} s")


@check(
    12,
    points=10,
    requires=ROLLED_OUT,
    hint="Several replicas behind the Service, a readiness "
    "probe, and a preStop sleep so a deleted pod leaves the endpoints before it stops.",
)
def test_deleting_a_pod_fails_at_most_1_percent(live_run: LiveRun, record_property: Any) -> None:
    """On kind: deleting a pod under traffic fails at most 1 % of requests"""
    traffic = live_run.deletion
    assert traffic is not None and traffic.requests > 0, "no traffic result was collected"
    assert traffic.error_rate <= MAX_ERROR_RATE, (
        f"{traffic.failures} of {traffic.requests} requests failed ({traffic.error_rate:.1%}) "
        f"while a pod was deleted: {'; '.join(traffic.examples[:3])}"
    )
    record_property("message", f"{traffic.failures} of {traffic.requests} requests failed")


@check(
    13,
    points=10,
    requires=ROLLED_OUT,
    hint="maxUnavailable 0, a readiness probe that passes "
    "only once the model serves, and a graceful SIGTERM: then an update drops nothing.",
)
def test_rolling_update_fails_no_request(live_run: LiveRun, record_property: Any) -> None:
    """On kind: a rolling update fails no request"""
    assert not live_run.update_problem, live_run.update_problem
    traffic = live_run.rolling_update
    assert traffic is not None and traffic.requests > 0, "no traffic result was collected"
    assert traffic.failures == 0, (
        f"{traffic.failures} of {traffic.requests} requests failed during `kubectl rollout "
        f"restart`: {'; '.join(traffic.examples[:3])}"
    )
    record_property("message", f"{traffic.requests} requests, none failed")
