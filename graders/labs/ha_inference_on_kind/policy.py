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
from graders.labs.ha_inference_on_kind.quantities import NotAQuantity, quantity

KUBERNETES = "1.36"
# the securityContext fields a container takes from its pod's (PodSecurityContext has no
# readOnlyRootFilesystem, capabilities, privileged or allowPrivilegeEscalation)
POD_LEVEL = (
    "runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile",
    "appArmorProfile", "windowsOptions",
)  # fmt: skip


def effective_security_context(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """A container's securityContext with what it inherits from the pod's, as a kubelet merges
    them: the container's own fields win, and only fields a PodSecurityContext has are inherited."""
    inherited = {k: v for k, v in (pod.get("securityContext") or {}).items() if k in POD_LEVEL}
    return {**inherited, **(container.get("securityContext") or {})}


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
    for hpa in manifests.of_kind("HorizontalPodAutoscaler"):
        name = dig(hpa, "metadata", "name") or "?"
        least, most = dig(hpa, "spec", "minReplicas") or 1, dig(hpa, "spec", "maxReplicas")
        if isinstance(least, int) and isinstance(most, int) and most < least:
            problems.append(
                f"HorizontalPodAutoscaler/{name}: maxReplicas {most} is below minReplicas "
                f"{least}; the API server refuses it (`maxReplicas` must be greater than or "
                "equal to `minReplicas`)"
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
    problems = []
    for container in manifests.pod_spec().get("containers") or []:
        context = effective_security_context(manifests.pod_spec(), container)
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
