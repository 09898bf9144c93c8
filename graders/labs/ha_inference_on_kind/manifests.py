"""The learner's Kubernetes manifests of lab professional/03-ha-inference-on-kind, rendered.

``kubectl kustomize k8s/`` runs in the sandbox (the host's kubectl mounted read-only, no network,
so a remote base or a generator cannot reach out); the grader reads the YAML it prints as data.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml

from graders.containers.sandbox import run_in_sandbox
from graders.errors import EnvironmentProblem, LearnerFailure

MANIFESTS = "k8s"


@dataclass(frozen=True)
class Manifests:
    """The rendered objects, in the order kustomize printed them."""

    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind``."""
        return [o for o in self.objects if o.get("kind") == kind]

    def deployment(self) -> dict[str, Any] | None:
        """The (first) Deployment."""
        return next(iter(self.of_kind("Deployment")), None)

    def service(self) -> dict[str, Any] | None:
        """The (first) Service."""
        return next(iter(self.of_kind("Service")), None)

    def pod_spec(self) -> dict[str, Any]:
        """The Deployment's pod spec ({} without one)."""
        return dig(self.deployment(), "spec", "template", "spec") or {}

    def pod_labels(self) -> dict[str, str]:
        """The labels of the Deployment's pod template."""
        return dig(self.deployment(), "spec", "template", "metadata", "labels") or {}

    def container(self) -> dict[str, Any] | None:
        """The Deployment's first container."""
        return next(iter(self.pod_spec().get("containers") or []), None)

    def service_port(self) -> int | None:
        """The Service's first port number."""
        ports = dig(self.service(), "spec", "ports") or []
        return int(ports[0]["port"]) if ports and "port" in ports[0] else None


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def kubectl_binary() -> Path:
    """The host's kubectl (a static binary, mounted into the sandbox)."""
    found = shutil.which("kubectl")
    if not found:
        raise EnvironmentProblem(
            "kubectl is not installed",
            "install kubectl 1.30 or newer (it includes kustomize): https://kubernetes.io/docs/tasks/tools/",
        )
    return Path(found).resolve()


def render(client: docker.DockerClient, image: str, submission: Path, run_id: str) -> Manifests:
    """``kubectl kustomize`` of the submission's ``k8s/`` in the sandbox, parsed; a learner
    failure when the folder is missing or kustomize refuses it."""
    if not (submission / MANIFESTS / "kustomization.yaml").is_file():
        raise LearnerFailure(f"there is no {MANIFESTS}/kustomization.yaml")
    done = run_in_sandbox(
        client,
        image,
        ["/opt/kubectl", "kustomize", f"/submission/{MANIFESTS}"],
        run_id=run_id,
        mounts={kubectl_binary(): "/opt/kubectl", submission: "/submission"},
        timeout=60,
    )
    if not done.ok:
        raise LearnerFailure(
            f"kubectl kustomize {MANIFESTS}/ failed:\n{done.stderr.strip()[-1500:]}"
        )
    try:
        objects = [o for o in yaml.safe_load_all(done.stdout) if o is not None]
    except yaml.YAMLError as problem:
        raise LearnerFailure(f"kustomize printed YAML that does not parse: {problem}") from None
    if not all(isinstance(o, dict) for o in objects):
        raise LearnerFailure("kustomize printed something that is not a Kubernetes object")
    return Manifests(objects)
