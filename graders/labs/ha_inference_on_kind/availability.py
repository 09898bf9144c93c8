"""Layer 1 of lab professional/03-ha-inference-on-kind, criterion 2: high availability read
from the rendered manifests as a scheduler, an HPA and the disruption controller read them."""

from __future__ import annotations

from typing import Any

from graders.labs.ha_inference_on_kind.manifests import Manifests, dig
from graders.labs.ha_inference_on_kind.policy import selects
from graders.labs.ha_inference_on_kind.quantities import NotAQuantity, scaled

NODE_KEY = "kubernetes.io/hostname"
KIND_WORKERS = 2  # infra/kind/cluster.yaml: one control plane (tainted) and two workers


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
    problems += spread_problems(manifests, least)
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


def spread_problems(manifests: Manifests, least: int) -> list[str]:
    """A spread constraint or anti-affinity term over nodes (kubernetes.io/hostname) that selects
    the pods; a required anti-affinity must leave room for every pod a rollout runs at once."""
    pod, labels = manifests.pod_spec(), manifests.pod_labels()
    anti = dig(pod, "affinity", "podAntiAffinity") or {}
    required = [
        t
        for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        if _over_nodes(t, labels)
    ]
    terms = list(pod.get("topologySpreadConstraints") or []) + [
        t.get("podAffinityTerm") or {}
        for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]
    if not required and not any(_over_nodes(t, labels) for t in terms):
        keys = sorted({str(t.get("topologyKey")) for t in terms + required if isinstance(t, dict)})
        return [
            "no topology spread constraint or pod anti-affinity over the nodes "
            f"(topologyKey {NODE_KEY}) selects the pods"
            + (f"; the ones there spread over {', '.join(keys)}" if keys else "")
        ]
    rolling = dig(manifests.deployment(), "spec", "strategy", "rollingUpdate") or {}
    try:  # maxSurge rounds up (Kubernetes' deployment controller)
        at_once = least + scaled(rolling.get("maxSurge", "25%"), least, round_up=True)
    except NotAQuantity:
        at_once = least
    if required and at_once > KIND_WORKERS:
        return [
            f"a required pod anti-affinity on {NODE_KEY} allows one pod per node: the kind "
            f"cluster's {KIND_WORKERS} workers cannot hold the {at_once} pods a rollout runs at "
            f"once ({least} replicas and the surge), so pods stay Pending (prefer it, or use a "
            "spread constraint with ScheduleAnyway)"
        ]
    return []


def _over_nodes(term: Any, labels: dict[str, str]) -> bool:
    return (
        isinstance(term, dict)
        and term.get("topologyKey") == NODE_KEY
        and selects(term.get("labelSelector"), labels)
    )


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
