"""Lab professional/03-ha-inference-on-kind, layers 1 and 2: each rule on a case worked by hand.

The reference manifests pass every rule; one change at a time breaks exactly one rule. Layer 2's
translation of a pod spec into a Docker run is checked field by field.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from graders.containers.services import Exit
from graders.errors import LearnerFailure
from graders.labs.ha_inference_on_kind import availability, diagnosis, policy
from graders.labs.ha_inference_on_kind.fixtures import (
    allowance,
    probe_port,
    quantity_bytes,
    quantity_cpus,
    run_spec,
)
from graders.labs.ha_inference_on_kind.manifests import Manifests, render
from graders.labs.ha_inference_on_kind.quantities import NotAQuantity, quantity

SOLUTION = Path(__file__).parents[1] / "labs/professional/03-ha-inference-on-kind/solution"
RULES = (
    availability.high_availability,
    policy.never_below_capacity,
    policy.probes_on_declared_ports,
    policy.requests_and_limits,
    policy.locked_down,
    policy.image_pinned,
    policy.service_routes_to_pods,
)


@pytest.fixture(scope="module")
def reference() -> Manifests:
    """The reference manifests, rendered by the host's kubectl (these are our own files)."""
    text = subprocess.run(
        ["kubectl", "kustomize", str(SOLUTION / "k8s")], capture_output=True, text=True, check=True
    ).stdout
    return Manifests([o for o in yaml.safe_load_all(text) if o])


def changed(manifests: Manifests, kind: str, *path_and_value: Any) -> Manifests:
    """A copy with one field of the first object of ``kind`` set (a value of None deletes it)."""
    objects = copy.deepcopy(manifests.objects)
    target = next(o for o in objects if o["kind"] == kind)
    *path, key, value = path_and_value
    for step in path:
        target = target[step]
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    return Manifests(objects)


def broken_rules(manifests: Manifests) -> list[str]:
    return [rule.__name__ for rule in RULES if rule(manifests)]


def test_the_reference_passes_every_rule_and_the_schemas(reference: Manifests) -> None:
    assert broken_rules(reference) == []
    assert policy.schema_problems(reference) == []


def test_an_unknown_field_is_refused_by_the_strict_schema(reference: Manifests) -> None:
    typo = changed(reference, "Deployment", "spec", "template", "spec", "replica", 2)
    problems = policy.schema_problems(typo)
    assert len(problems) == 1 and "'replica' was unexpected" in problems[0]


def test_an_unknown_kind_has_no_schema(reference: Manifests) -> None:
    unknown = {"apiVersion": "x/v1", "kind": "Y", "metadata": {"name": "y"}}
    extra = Manifests([*reference.objects, unknown])
    assert policy.schema_problems(extra) == ["Y/y: no Kubernetes 1.36 schema for x/v1"]


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({"matchLabels": {"app": "a"}}, True),
        ({"matchLabels": {"app": "b"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
        ({}, False),
        (None, False),
    ],
)
def test_selects_reads_label_selectors_as_kubernetes_does(selector: Any, selected: bool) -> None:
    assert policy.selects(selector, {"app": "a", "team": "ml"}) is selected


POD = ("Deployment", "spec", "template", "spec")
ROLLING = ("Deployment", "spec", "strategy")
HA, CAPACITY = "high_availability", "never_below_capacity"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("Deployment", "spec", "replicas", 1), None),  # the HPA's minimum of 3 still holds
        (("HorizontalPodAutoscaler", "spec", "minReplicas", 1), HA),
        (("PodDisruptionBudget", "spec", "selector", {"matchLabels": {"x": "y"}}), HA),
        (("PodDisruptionBudget", "spec", "maxUnavailable", 0), HA),
        (("PodDisruptionBudget", "spec", "maxUnavailable", "50%"), None),
        ((*POD, "topologySpreadConstraints", None), HA),
        ((*POD, "topologySpreadConstraints", 0, "topologyKey", "topology.kubernetes.io/zone"), HA),
        ((*ROLLING, "rollingUpdate", "maxUnavailable", "25%"), CAPACITY),
        ((*ROLLING[:-1], "strategy", {"type": "Recreate"}), CAPACITY),
        ((*POD, "securityContext", "runAsUser", 0), "locked_down"),
        (
            ("Service", "spec", "selector", {"app.kubernetes.io/name": "x"}),
            "service_routes_to_pods",
        ),
        (
            ("Service", "spec", "ports", [{"port": 80, "targetPort": 9090}]),
            "service_routes_to_pods",
        ),
    ],
)
def test_one_change_breaks_exactly_its_rule(
    reference: Manifests, change: tuple[Any, ...], rule: str | None
) -> None:
    assert broken_rules(changed(reference, *change)) == ([rule] if rule else [])


@pytest.mark.parametrize(
    ("budget", "replicas", "allowed"),
    [
        ({"minAvailable": 2}, 3, 1),
        ({"minAvailable": 3}, 3, 0),
        ({"minAvailable": 4}, 3, 0),
        ({"minAvailable": "100%"}, 3, 0),
        # a percentage of minAvailable is rounded up: 66 % of 3 is 1.98 -> 2, 67 % is 2.01 -> 3
        ({"minAvailable": "66%"}, 3, 1),
        ({"minAvailable": "67%"}, 3, 0),
        ({"minAvailable": "90%"}, 3, 0),  # 2.7 -> 3: the case
        ({"minAvailable": "90%"}, 10, 1),  # exactly 9
        ({"minAvailable": "50%"}, 7, 3),  # 3.5 -> 4, Kubernetes' documented example
        # a percentage of maxUnavailable is rounded up too: 1 % of 3 is 0.03 -> 1
        ({"maxUnavailable": "1%"}, 3, 1),
        ({"maxUnavailable": "33%"}, 3, 1),  # 0.99 -> 1
        ({"maxUnavailable": "34%"}, 3, 2),  # 1.02 -> 2
        ({"maxUnavailable": "0%"}, 3, 0),
        ({"maxUnavailable": 0}, 3, 0),
        ({"maxUnavailable": 1}, 3, 1),
        ({"maxUnavailable": 5}, 3, 3),
        ({}, 3, 3),
    ],
)
def test_allowed_disruptions_are_computed_as_the_disruption_controller_does(
    budget: dict[str, Any], replicas: int, allowed: int
) -> None:
    assert availability.allowed_disruptions(budget, replicas) == allowed


def test_a_90_percent_budget_of_3_replicas_is_refused_with_its_rounding(
    reference: Manifests,
) -> None:
    budget = changed(reference, "PodDisruptionBudget", "spec", "maxUnavailable", None)
    budget = changed(budget, "PodDisruptionBudget", "spec", "minAvailable", "90%")
    assert availability.high_availability(budget) == [
        "the PodDisruptionBudget inference, with 3 replicas (the HPA's minReplicas): "
        "minAvailable '90%' is 2.7 pods, which Kubernetes rounds up to 3, so all 3 must stay "
        "available: it allows no disruption, and `kubectl drain` hangs"
    ]


@pytest.mark.parametrize(
    ("budget", "said"),
    [
        ({"minAvailable": 1, "maxUnavailable": 1}, "both minAvailable and maxUnavailable"),
        ({"minAvailable": "150%"}, "more than 100%"),
        ({"maxUnavailable": -1}, "negative"),
        ({"maxUnavailable": "1.5%"}, "neither a number of pods nor a percentage"),
        ({"minAvailable": "2"}, "neither a number of pods nor a percentage"),
        ({"maxUnavailable": 0}, "maxUnavailable 0 lets no pod be evicted"),
    ],
)
def test_a_budget_the_api_server_refuses_or_that_blocks_drains_is_named(
    budget: dict[str, Any], said: str
) -> None:
    assert said in availability.disruption_problem(budget, 3)


def test_container_rules_see_probes_resources_security_and_the_tag(reference: Manifests) -> None:
    objects = copy.deepcopy(reference.objects)
    container = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    container["readinessProbe"]["httpGet"]["port"] = "metrics"
    del container["resources"]["limits"]
    container["securityContext"]["capabilities"]["drop"] = ["NET_RAW"]
    container["image"] = "registry:5000/team/ha-inference"  # a port is not a tag
    assert broken_rules(Manifests(objects)) == [
        "probes_on_declared_ports",
        "requests_and_limits",
        "locked_down",
        "image_pinned",
    ]


@pytest.mark.parametrize(
    ("quantity", "cpus"),
    [("500m", 0.5), ("1", 1.0), (2, 2.0), (0.25, 0.25), ("2e-1", 0.2), ("", None), (None, None)],
)
def test_cpu_quantities(quantity: Any, cpus: float | None) -> None:
    assert quantity_cpus(quantity) == cpus


@pytest.mark.parametrize(
    ("quantity", "size"),
    [
        ("512Mi", 512 * 2**20),
        ("1G", 10**9),
        ("1.5Gi", 3 * 2**29),
        ("64Ki", 65536),
        ("128k", 128000),
        ("1000", 1000),
        ("5e8", 5 * 10**8),
        ("1E3", 1000),  # an exponent, not exa
        ("1E", 10**18),  # exa
        ("100m", 1),  # a tenth of a byte, rounded up as Kubernetes does
    ],
)
def test_memory_quantities(quantity: str, size: int) -> None:
    assert quantity_bytes(quantity) == size


@pytest.mark.parametrize("text", ["512MB", "1 Gi", "Mi", "1e", "abc", "1.2.3", "--1"])
def test_what_the_api_server_refuses_is_not_a_quantity(text: str) -> None:
    with pytest.raises(NotAQuantity):
        quantity(text)
    with pytest.raises(LearnerFailure, match="not a Kubernetes quantity"):
        quantity_bytes(text)


RESOURCES = (*POD, "containers", 0, "resources")


@pytest.mark.parametrize(
    ("requests", "limits", "said"),
    [
        ({"cpu": "100m", "memory": "512Mi"}, {"cpu": "1", "memory": "512Mi"}, ""),  # equal
        ({"cpu": "1000m", "memory": "1Gi"}, {"cpu": 1, "memory": "1073741824"}, ""),
        ({"cpu": "1001m", "memory": "1M"}, {"cpu": "1", "memory": "1Mi"}, "cpu request '1001m'"),
        ({"cpu": "1", "memory": "1Mi"}, {"cpu": "1", "memory": "1M"}, "memory request '1Mi'"),
        ({"cpu": "2e-1", "memory": "1G"}, {"cpu": "200m", "memory": "1Gi"}, ""),
        ({"cpu": "100m", "memory": "768Mi"}, {"cpu": "1", "memory": "512Mi"}, "more than its"),
        ({"cpu": "100m", "memory": "256MB"}, {"cpu": "1", "memory": "512Mi"}, "'256MB' is not"),
    ],
)
def test_a_request_above_its_limit_is_refused_as_the_api_server_does(
    reference: Manifests, requests: dict[str, Any], limits: dict[str, Any], said: str
) -> None:
    manifests = changed(reference, *RESOURCES, {"requests": requests, "limits": limits})
    problems = policy.requests_and_limits(manifests)
    if said:
        assert len(problems) == 1 and said in problems[0], problems
    else:
        assert problems == []


def test_run_spec_keeps_the_manifests_promises(reference: Manifests) -> None:
    spec = run_spec(reference, "image:1", "", "run")
    assert spec.user == "10001:10001" and spec.read_only and spec.drop_capabilities
    assert spec.limits.cpus == 1.0 and spec.limits.memory == str(512 * 2**20)
    assert spec.scratch == {"/tmp": str(64 * 2**20)} and spec.env == {"PORT": "8080"}
    assert spec.publish == (8080,) and spec.entrypoint is None and spec.command is None
    assert (
        not spec.tmp_on_tmpfs
    )  # only the emptyDir's tmpfs: /tmp is writable because it mounts one


def test_run_as_non_root_without_a_numeric_user_is_refused_as_a_kubelet_would(
    reference: Manifests,
) -> None:
    context = {"runAsNonRoot": True}
    manifests = changed(
        reference, "Deployment", "spec", "template", "spec", "securityContext", context
    )
    with pytest.raises(LearnerFailure, match="non-numeric"):
        run_spec(manifests, "image:1", "app", "run")
    with pytest.raises(LearnerFailure, match="runs as user 0"):
        run_spec(manifests, "image:1", "0:0", "run")
    assert run_spec(manifests, "image:1", "10001", "run").user is None  # the image's own user


def test_render_without_a_kustomization_is_the_learners_failure(tmp_path: Path) -> None:
    with pytest.raises(LearnerFailure, match="no k8s/kustomization.yaml"):
        render(docker.DockerClient.__new__(docker.DockerClient), "image", tmp_path, "run")


@pytest.mark.docker
def test_kustomize_runs_in_the_sandbox_without_network(
    docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    from graders.containers.sandbox import runner_image

    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "kustomization.yaml").write_text(
        "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld\n"
    )
    for path in (tmp_path, tmp_path / "k8s", tmp_path / "k8s" / "kustomization.yaml"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    with pytest.raises(LearnerFailure, match="kubectl kustomize k8s/ failed"):
        render(docker_engine, runner_image(docker_engine), tmp_path, "test-kustomize")


def test_an_oom_kill_is_told_with_its_exit_code_and_memory_limit_and_each_probe() -> None:
    probes = [
        diagnosis.ProbeSeen("readiness", "/health", "http", 8080, "connection refused"),
        diagnosis.ProbeSeen("liveness", "/live", 8080, 8080, "HTTP 503"),
    ]
    message = diagnosis.stopped(Exit(137, True, 40 * 2**20), "40Mi", probes, "")
    assert message == (
        "run as declared, the container stopped before its probes all answered 200: exit code "
        "137, OOMKilled: the kernel killed it for using more than its memory limit, 40 MiB "
        "(limits.memory '40Mi')\n"
        "  readiness probe GET /health on port http (8080): last connection refused\n"
        "  liveness probe GET /live on port 8080: last HTTP 503\n"
        "  its last output:\n    (it wrote nothing)"
    )


def test_a_plain_exit_is_not_called_an_oom_kill() -> None:
    assert diagnosis.how_it_ended(Exit(1, False, 2**30)) == (
        "exit code 1; it ran with a memory limit of 1 GiB"
    )
    assert "killed by SIGKILL, not OOMKilled" in diagnosis.how_it_ended(Exit(137, False, 0))


def test_probes_still_failing_at_the_deadline_are_each_named() -> None:
    probes = [diagnosis.ProbeSeen("startup", "/started", "http", 8080, "HTTP 500")]
    message = diagnosis.not_ready(30, probes, "loading\nstill loading")
    assert "within 30 s" in message
    assert "  startup probe GET /started on port http (8080): last HTTP 500" in message
    assert message.endswith("    loading\n    still loading")


def test_the_allowance_adds_the_startup_probes_to_the_liveness_probes() -> None:
    liveness = {"initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 3}
    assert allowance({"livenessProbe": liveness}) == 40
    assert allowance({"livenessProbe": liveness, "startupProbe": {"failureThreshold": 6}}) == 100
    assert allowance({}) == 30  # Kubernetes' defaults: 0 + 10 x 3


def test_a_deployment_selector_that_misses_its_template_is_refused_as_the_api_server_does(
    reference: Manifests,
) -> None:
    assert policy.api_refusals(reference) == []
    other = {"matchLabels": {"app.kubernetes.io/name": "inference-api"}}
    problems = policy.api_refusals(changed(reference, "Deployment", "spec", "selector", other))
    assert len(problems) == 1 and "does not select the pod template's labels" in problems[0]
    assert policy.api_refusals(changed(reference, "Deployment", "spec", "selector", {}))


def test_a_required_anti_affinity_needs_a_node_for_every_pod_a_rollout_runs(
    reference: Manifests,
) -> None:
    term = {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "inference"}},
    }
    required = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    manifests = changed(reference, *POD, "affinity", required)
    manifests = changed(manifests, *POD, "topologySpreadConstraints", None)
    (problem,) = availability.high_availability(manifests)
    assert "cannot hold the 4 pods a rollout runs at once" in problem
    # two replicas and no surge room needed would fit the two workers; the preferred form always
    two = changed(manifests, "HorizontalPodAutoscaler", "spec", "minReplicas", 2)
    assert "cannot hold the 3 pods" in availability.high_availability(two)[0]
    preferred = {"weight": 100, "podAffinityTerm": term}
    soft = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [preferred]}}
    assert availability.high_availability(changed(manifests, *POD, "affinity", soft)) == []


def test_an_hpa_whose_maximum_is_below_its_minimum_is_refused_as_the_api_server_does(
    reference: Manifests,
) -> None:
    problems = policy.api_refusals(
        changed(reference, "HorizontalPodAutoscaler", "spec", "maxReplicas", 2)
    )
    assert problems and "maxReplicas 2 is below minReplicas 3" in problems[0]
    equal = changed(reference, "HorizontalPodAutoscaler", "spec", "maxReplicas", 3)
    assert policy.api_refusals(equal) == []


def test_a_read_only_root_set_only_on_the_pod_is_not_inherited(reference: Manifests) -> None:
    container = (*POD, "containers", 0, "securityContext")
    manifests = changed(reference, *container, "readOnlyRootFilesystem", None)
    manifests = changed(manifests, *POD, "securityContext", "readOnlyRootFilesystem", True)
    assert policy.locked_down(manifests) == ["container inference: the root filesystem is writable"]
    assert not run_spec(manifests, "image:1", "", "run").read_only
    # runAsNonRoot, a pod-level field, is inherited
    assert policy.locked_down(reference) == []


def test_a_probe_on_an_undeclared_port_number_is_probed_there_and_published(
    reference: Manifests,
) -> None:
    container = (*POD, "containers", 0)
    manifests = changed(reference, *container, "ports", [{"containerPort": 8080}])
    manifests = changed(manifests, *container, "readinessProbe", "httpGet", "port", 8080)
    manifests = changed(manifests, *container, "livenessProbe", "httpGet", "port", 9090)
    assert probe_port(manifests, "readinessProbe") == 8080
    assert probe_port(manifests, "livenessProbe") == 9090
    assert probe_port(manifests, "startupProbe") is None  # none: never the unnamed port
    assert run_spec(manifests, "image:1", "", "run").publish == (8080, 9090)
