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

from graders.errors import LearnerFailure
from graders.labs.ha_inference_on_kind import policy
from graders.labs.ha_inference_on_kind.fixtures import quantity_bytes, quantity_cpus, run_spec
from graders.labs.ha_inference_on_kind.manifests import Manifests, render

SOLUTION = Path(__file__).parents[1] / "labs/professional/03-ha-inference-on-kind/solution"
RULES = (
    policy.high_availability,
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
    ("budget", "allows"),
    [
        ({"minAvailable": 2}, True),
        ({"minAvailable": 3}, False),
        ({"minAvailable": 4}, False),
        ({"minAvailable": "100%"}, False),
        ({"minAvailable": "60%"}, True),
        ({"maxUnavailable": "0%"}, False),
        ({"maxUnavailable": 1}, True),
    ],
)
def test_a_budget_that_lets_no_pod_go_blocks_drains(budget: dict[str, Any], allows: bool) -> None:
    assert policy.allows_a_disruption(budget, replicas=3) is allows


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
    ("quantity", "cpus"), [("500m", 0.5), ("1", 1.0), (2, 2.0), ("", None), (None, None)]
)
def test_cpu_quantities(quantity: Any, cpus: float | None) -> None:
    assert quantity_cpus(quantity) == cpus


@pytest.mark.parametrize(
    ("quantity", "size"), [("512Mi", 512 * 2**20), ("1G", 10**9), ("64Ki", 65536), ("1000", 1000)]
)
def test_memory_quantities(quantity: str, size: int) -> None:
    assert quantity_bytes(quantity) == size


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
