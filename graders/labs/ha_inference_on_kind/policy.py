"""Layer 1 of lab professional/03-ha-inference-on-kind: the rendered manifests, read as a cluster
would read them. Each function returns the problems of one acceptance criterion ([] = none).

The rules mirror kube-linter and kube-score checks of the same names: mismatching-selector,
dangling-service, readiness-port, liveness-port, unset-cpu/memory-requirements, run-as-non-root,
no-read-only-root-fs, latest-tag, pdb-min-available, deployment-strategy,
pod-topology-spread-constraints, deployment-has-poddisruptionbudget.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from graders.labs.ha_inference_on_kind.manifests import Manifests, dig
from graders.labs.ha_inference_on_kind.quantities import NotAQuantity, quantity, scaled

KUBERNETES = "1.36"


def schema_problems(manifests: Manifests) -> list[str]:
    """Objects that the official schemas of ``KUBERNETES`` refuse (strict: unknown fields too)."""
    problems = []
    for obj in manifests.objects:
        name = f"{obj.get('kind', '?')}/{dig(obj, 'metadata', 'name') or '?'}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path) or "(top)"
            problems.append(f"{name}: {where}: {error.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
            problems.append(
                f"{name}: no Kubernetes {KUBERNETES} schema for {obj.get('apiVersion')}"
            )
    return problems


def api_refusals(manifests: Manifests) -> list[str]:
    """What the API server refuses beyond the schemas, where the manifests alone tell: a
    Deployment whose ``selector`` does not select its pod template's labels."""
    problems = []
    for deployment in manifests.of_kind("Deployment"):
        name = dig(deployment, "metadata", "name") or "?"
        labels = dig(deployment, "spec", "template", "metadata", "labels") or {}
        if not selects(dig(deployment, "spec", "selector"), labels):
            problems.append(
                f"Deployment/{name}: spec.selector does not select the pod template's labels "
                f"{labels}; the API server refuses it (`selector` does not match template "
                "`labels`)"
            )
    return problems


def selects(selector: Any, labels: dict[str, str]) -> bool:
    """True when a label selector (matchLabels and matchExpressions) selects ``labels``; an empty
    or missing selector selects nothing here (a PDB or Service must name its pods)."""
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for rule in selector.get("matchExpressions") or []:
        key, operator, values = rule.get("key"), rule.get("operator"), rule.get("values") or []
        present = key in labels
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def high_availability(manifests: Manifests) -> list[str]:
    """At least 2 replicas (or an HPA minimum of 2) spread over nodes, an HPA on the Deployment,
    and a PodDisruptionBudget that selects the pods and allows a disruption."""
    deployment = manifests.deployment()
    if deployment is None:
        return ["there is no Deployment"]
    name, labels = dig(deployment, "metadata", "name"), manifests.pod_labels()
    replicas = int(dig(deployment, "spec", "replicas") or 1)
    problems = []
    hpas = [
        h
        for h in manifests.of_kind("HorizontalPodAutoscaler")
        if dig(h, "spec", "scaleTargetRef", "kind") == "Deployment"
        and dig(h, "spec", "scaleTargetRef", "name") == name
    ]
    if not hpas:
        problems.append(f"no HorizontalPodAutoscaler targets the Deployment {name}")
    least = int(dig(hpas[0], "spec", "minReplicas") or 1) if hpas else replicas
    if least < 2:
        problems.append(f"at least 2 replicas are needed; the least there can be is {least}")
    pod = manifests.pod_spec()
    spread = any(
        selects(c.get("labelSelector"), labels) for c in pod.get("topologySpreadConstraints") or []
    )
    anti = dig(pod, "affinity", "podAntiAffinity") or {}
    terms = (anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []) + [
        t.get("podAffinityTerm") or {}
        for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]
    if not spread and not any(selects(t.get("labelSelector"), labels) for t in terms):
        problems.append("no topology spread constraint or pod anti-affinity selects the pods")
    budgets = [
        p
        for p in manifests.of_kind("PodDisruptionBudget")
        if selects(dig(p, "spec", "selector"), labels)
    ]
    if not budgets:
        problems.append("no PodDisruptionBudget selects the Deployment's pods")
    scale = f"{least} replicas" + (" (the HPA's minReplicas)" if hpas else "")
    for budget in budgets:
        problem = disruption_problem(budget.get("spec") or {}, least)
        if problem:
            name = dig(budget, "metadata", "name") or "?"
            problems.append(f"the PodDisruptionBudget {name}, with {scale}: {problem}")
    return problems


def allowed_disruptions(budget: dict[str, Any], replicas: int) -> int:
    """How many of ``replicas`` healthy pods the disruption controller lets be evicted, as
    Kubernetes computes it: a percentage of ``minAvailable`` or ``maxUnavailable`` is rounded
    up to whole pods (``GetScaledValueFromIntOrPercent(..., roundUp=true)``). Raises
    :class:`NotAQuantity` for a value that is neither a number of pods nor a percentage."""
    if "maxUnavailable" in budget:
        return max(0, min(scaled(budget["maxUnavailable"], replicas, round_up=True), replicas))
    if "minAvailable" in budget:
        return max(0, replicas - scaled(budget["minAvailable"], replicas, round_up=True))
    return replicas  # neither: the controller wants no pod healthy


def disruption_problem(budget: dict[str, Any], replicas: int) -> str:
    """Why a PDB spec lets no pod of ``replicas`` be evicted, or that the API server refuses it
    ("" when it allows at least one eviction)."""
    fields = [f for f in ("minAvailable", "maxUnavailable") if f in budget]
    if len(fields) == 2:
        return "it sets both minAvailable and maxUnavailable; the API server refuses that"
    for field in fields:
        value = budget[field]
        if isinstance(value, int) and value < 0:
            return f"{field} is {value}; the API server refuses a negative number"
        if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
            if int(value[:-1]) > 100:
                return f"{field} is {value!r}; the API server refuses more than 100%"
    try:
        allowed = allowed_disruptions(budget, replicas)
    except NotAQuantity as error:
        return f"{fields[0]}: {error}"
    if allowed > 0:
        return ""
    field = fields[0]
    value = budget[field]
    pods = scaled(value, replicas, round_up=True)
    exact = ""
    if isinstance(value, str):
        share = int(value[:-1]) * replicas / 100
        exact = f" is {share:g} pods, which Kubernetes rounds up to {pods}"
    if field == "maxUnavailable":
        return (
            f"maxUnavailable {value!r}{exact} lets no pod be evicted: "
            "it allows no disruption, and `kubectl drain` hangs"
        )
    return (
        f"minAvailable {value!r}{exact}, so all {replicas} must stay available: it allows no "
        "disruption, and `kubectl drain` hangs"
    )


def never_below_capacity(manifests: Manifests) -> list[str]:
    """A RollingUpdate strategy with maxUnavailable 0 (and room to surge)."""
    strategy = dig(manifests.deployment(), "spec", "strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return [f"the strategy is {strategy.get('type')}: every pod stops before new ones start"]
    rolling = strategy.get("rollingUpdate") or {}
    unavailable, surge = rolling.get("maxUnavailable", "25%"), rolling.get("maxSurge", "25%")
    problems = []
    if str(unavailable) not in ("0", "0%"):
        problems.append(f"maxUnavailable is {unavailable}: an update may drop below capacity")
    if str(surge) in ("0", "0%"):
        problems.append("maxSurge is 0: with maxUnavailable 0 an update cannot start a pod")
    return problems


def port_is_declared(port: Any, container: dict[str, Any]) -> bool:
    """True when ``port`` (number or name) is one of the container's declared ports."""
    declared = container.get("ports") or []
    return any(port in (p.get("containerPort"), p.get("name")) for p in declared)


def probes_on_declared_ports(manifests: Manifests) -> list[str]:
    """Readiness and liveness probes (HTTP GET) on a port the container declares."""
    container = manifests.container()
    if container is None:
        return ["the Deployment has no container"]
    problems = []
    for probe in ("readinessProbe", "livenessProbe"):
        get = dig(container, probe, "httpGet")
        if not get:
            problems.append(f"the container has no {probe} with httpGet")
        elif not port_is_declared(get.get("port"), container):
            problems.append(
                f"the {probe} port {get.get('port')!r} is not a declared container port"
            )
    return problems


def requests_and_limits(manifests: Manifests) -> list[str]:
    """CPU and memory requests and limits on every container, each a valid quantity, and no
    request above its limit (the API server refuses such a pod, so no replica would start)."""
    problems = []
    for container in manifests.pod_spec().get("containers") or []:
        name = container.get("name")
        for resource in ("cpu", "memory"):
            amounts = {}
            for kind in ("requests", "limits"):
                value = dig(container, "resources", kind, resource)
                if value is None or value == "":
                    problems.append(f"container {name}: no {resource} {kind[:-1]}")
                    continue
                try:
                    amounts[kind] = quantity(value)
                except NotAQuantity as error:
                    problems.append(f"container {name}: {resource} {kind[:-1]}: {error}")
                    continue
                if amounts[kind] < 0:
                    problems.append(f"container {name}: the {resource} {kind[:-1]} is negative")
            if len(amounts) == 2 and amounts["requests"] > amounts["limits"]:
                requested = dig(container, "resources", "requests", resource)
                limit = dig(container, "resources", "limits", resource)
                problems.append(
                    f"container {name}: the {resource} request {requested!r} is more than its "
                    f"limit {limit!r}; the API server refuses such a pod, so no replica starts"
                )
    return problems


def locked_down(manifests: Manifests) -> list[str]:
    """runAsNonRoot (and no runAsUser 0), a read-only root filesystem, all capabilities dropped."""
    pod = manifests.pod_spec().get("securityContext") or {}
    problems = []
    for container in manifests.pod_spec().get("containers") or []:
        context = {**pod, **(container.get("securityContext") or {})}
        name = container.get("name")
        if context.get("runAsNonRoot") is not True or context.get("runAsUser") == 0:
            problems.append(f"container {name} may run as root (set runAsNonRoot: true)")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"container {name}: the root filesystem is writable")
        if "ALL" not in (dig(container, "securityContext", "capabilities", "drop") or []):
            problems.append(f"container {name} keeps Linux capabilities (drop: [ALL])")
    return problems


def image_pinned(manifests: Manifests) -> list[str]:
    """Every image names a tag other than latest (or a digest)."""
    problems = []
    for container in manifests.pod_spec().get("containers") or []:
        image = str(container.get("image") or "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if "@sha256:" not in image and tag in ("", "latest"):
            problems.append(f"container {container.get('name')}: image {image!r} is not pinned")
    return problems


def service_routes_to_pods(manifests: Manifests) -> list[str]:
    """A Service whose selector matches the pod labels, each targetPort a container port."""
    service, container = manifests.service(), manifests.container()
    if service is None or container is None:
        return ["there is no Service" if service is None else "the Deployment has no container"]
    problems = []
    selector = dig(service, "spec", "selector") or {}
    labels = manifests.pod_labels()
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        problems.append(f"the Service selector {selector} does not match the pod labels {labels}")
    for port in dig(service, "spec", "ports") or []:
        target = port.get("targetPort", port.get("port"))
        if not port_is_declared(target, container):
            problems.append(f"the Service targetPort {target!r} is not a container port")
    return problems


def no_problems(problems: list[str]) -> None:
    """Fail with every problem, one a line."""
    assert not problems, "\n".join(problems)
