"""The kind cluster of the Kubernetes labs: ``mlops-labs cluster up|down|status``, and its use.

The cluster is real: kind runs its nodes as Docker containers (one control plane and two workers,
``infra/kind/cluster.yaml``). The grader reaches it only through the ``kind`` and ``kubectl``
command lines, always naming the context (``kind-mlops-labs``, or ``MLOPS_LABS_KIND_CONTEXT``,
e.g. the ``kind-<cluster_name>`` that helm/kind-action creates), never the learner's current one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.containers.engine import START_DOCKER, connect, docker_cli
from graders.containers.images import INFRA
from graders.errors import EnvironmentProblem

CLUSTER = "mlops-labs"
KIND_VERSION = "v0.32.0"
KIND_CONFIG = INFRA / "kind" / "cluster.yaml"
CONTEXT_ENV = "MLOPS_LABS_KIND_CONTEXT"
CREATE_WAIT = "120s"  # kind's own wait for the control plane
NODES_READY_SECONDS = 90.0  # then the workers' wait, here
INSTALL_KIND = (
    f"install kind {KIND_VERSION}: `go install sigs.k8s.io/kind@{KIND_VERSION}`, or its release "
    f"binary (https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}) on your PATH"
)
INSTALL_KUBECTL = "install kubectl: https://kubernetes.io/docs/tasks/tools/"

Say = Callable[[str], None]


@dataclass
class ClusterStatus:
    """What ``status`` found: a usable cluster, or the first problem and how to fix it."""

    context: str
    name: str  # the kind cluster's name ("" when the context is not a kind cluster's)
    kind_version: str = ""
    kubernetes_version: str = ""
    nodes: dict[str, bool] = field(default_factory=dict)  # node name -> Ready
    problem: str = ""
    fix: str = ""

    @property
    def ready(self) -> bool:
        """True when kind and kubectl are installed and every node of the cluster is Ready."""
        return not self.problem

    def reason(self) -> str:
        """The problem and its fix, on one line."""
        return f"{self.problem}; {self.fix}" if self.fix else self.problem

    def describe(self) -> list[str]:
        """Lines for ``mlops-labs cluster status``."""
        ready = sum(self.nodes.values())
        return [
            f"cluster {self.name}: context {self.context}, Kubernetes {self.kubernetes_version}",
            f"nodes: {ready}/{len(self.nodes)} Ready ({', '.join(sorted(self.nodes))})",
            f"kind: {self.kind_version}",
        ]

    def failing(self, problem: str, fix: str) -> ClusterStatus:
        """This status with ``problem`` recorded (the first one found wins)."""
        self.problem, self.fix = problem, fix
        return self


def context_name() -> str:
    """The kube context the grader uses: ``MLOPS_LABS_KIND_CONTEXT`` or ``kind-mlops-labs``."""
    return os.environ.get(CONTEXT_ENV, "").strip() or f"kind-{CLUSTER}"


def run(
    command: list[str], *, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output; a time-out is exit code 124 with a message."""
    try:
        return subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(
            command, 124, "", f"`{' '.join(command[:4])} …` timed out after {timeout:.0f} s"
        )


def kubectl(
    context: str, *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``kubectl --context CONTEXT ARGS…``, output captured."""
    return run(["kubectl", "--context", context, *args], input=input, timeout=timeout)


def clusters() -> list[str]:
    """The names of the kind clusters on this Docker engine (which must answer)."""
    listed = run(["kind", "get", "clusters"], timeout=30)
    if listed.returncode != 0:
        raise EnvironmentProblem(
            f"kind cannot list its clusters ({_first_line(listed.stderr)})", START_DOCKER
        )
    return listed.stdout.split()


def status(context: str | None = None) -> ClusterStatus:
    """Look for a usable cluster behind ``context`` (default: ``context_name()``). A missing tool
    or cluster is the result's ``problem``; only a Docker engine that does not answer raises."""
    context = context or context_name()
    name = context.removeprefix("kind-") if context.startswith("kind-") else ""
    found = ClusterStatus(context, name)
    if shutil.which("kind") is None:
        return found.failing("kind is not installed", INSTALL_KIND)
    found.kind_version = _first_line(run(["kind", "version"], timeout=30).stdout)
    if shutil.which("kubectl") is None:
        return found.failing("kubectl is not installed", INSTALL_KUBECTL)
    if not name:
        return found.failing(
            f"{CONTEXT_ENV}={context} is not a kind cluster's context (kind-NAME)",
            f"unset {CONTEXT_ENV}: the grader loads images into the cluster with kind",
        )
    if name not in clusters():
        fix = "run `mlops-labs cluster up`" if name == CLUSTER else f"unset {CONTEXT_ENV}"
        return found.failing(f"there is no kind cluster named {name}", fix)
    contexts = run(["kubectl", "config", "get-contexts", "-o", "name"], timeout=30).stdout.split()
    if context not in contexts:
        return found.failing(
            f"kubectl has no context {context}", f"run `kind export kubeconfig --name {name}`"
        )
    listed = kubectl(context, "get", "nodes", "-o", "json", "--request-timeout=10s", timeout=30)
    if listed.returncode != 0:
        return found.failing(
            f"the cluster {name} does not answer ({_first_line(listed.stderr)})",
            "run `mlops-labs cluster down`, then `mlops-labs cluster up`",
        )
    items = json.loads(listed.stdout).get("items", [])
    found.nodes = {item["metadata"]["name"]: _is_ready(item) for item in items}
    found.kubernetes_version = items[0]["status"]["nodeInfo"]["kubeletVersion"] if items else ""
    waiting = [node for node, ready in sorted(found.nodes.items()) if not ready]
    if waiting or not found.nodes:
        return found.failing(
            f"nodes not Ready: {', '.join(waiting) or 'none listed'}",
            "nodes take about a minute to start: run `mlops-labs cluster status` again",
        )
    return found


def up(say: Say) -> ClusterStatus:
    """Create the ``mlops-labs`` cluster from ``KIND_CONFIG`` (once more if the first attempt
    fails: a node can miss its boot deadline on a busy machine) and wait until its nodes are
    Ready; an existing cluster is left as it is."""
    _require_kind()
    connect(timeout=30).close()  # kind's nodes are Docker containers
    if CLUSTER not in clusters():
        command = ["kind", "create", "cluster", "--name", CLUSTER, "--config", str(KIND_CONFIG)]
        for attempt in (1, 2):
            say(f"creating the kind cluster {CLUSTER}: 1 control plane, 2 workers (about a minute)")
            # kind's own progress goes straight to the terminal
            created = subprocess.run([*command, "--wait", CREATE_WAIT], check=False)
            if created.returncode == 0:
                break
            if attempt == 2:
                raise EnvironmentProblem(
                    f"kind could not create the cluster {CLUSTER} (twice; its output is above)",
                    "check `docker info`, free memory (about 4 GB) and disk, then run "
                    "`mlops-labs cluster up` again",
                )
            say("kind could not create the cluster; trying once more")
    else:
        say(f"the kind cluster {CLUSTER} already exists")
    deadline = time.monotonic() + NODES_READY_SECONDS
    found = status(f"kind-{CLUSTER}")
    while not found.ready and time.monotonic() < deadline:
        time.sleep(2)
        found = status(f"kind-{CLUSTER}")
    return found


def down(say: Say) -> bool:
    """Delete the ``mlops-labs`` cluster, everything in it included; False when there was none."""
    _require_kind()
    if CLUSTER not in clusters():
        say(f"there is no kind cluster named {CLUSTER}: nothing to delete")
        return False
    say(f"deleting the kind cluster {CLUSTER}")
    deleted = subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], check=False)
    if deleted.returncode != 0:
        raise EnvironmentProblem(
            f"kind could not delete the cluster {CLUSTER} (its output is above)",
            "remove its node containers (`docker ps -a --filter "
            f"label=io.x-k8s.kind.cluster={CLUSTER}`), then run `kind delete cluster --name "
            f"{CLUSTER}`",
        )
    return True


def load_image(tag: str, cluster: str = CLUSTER, timeout: float = 900) -> None:
    """Copy the local Docker image ``tag`` into every node of the kind cluster ``cluster`` (kind
    skips nodes that already hold that image ID)."""
    done = run(["kind", "load", "docker-image", tag, "--name", cluster], timeout=timeout)
    if done.returncode != 0 and "content digest" in done.stdout + done.stderr:
        done = _load_one_platform(tag, cluster, timeout)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        raise EnvironmentProblem(
            f"kind could not load the image {tag} into the cluster {cluster}:\n{output}",
            f"kind {KIND_VERSION} or newer loads into kind {KIND_VERSION}'s node images: check "
            "`kind version` and `mlops-labs cluster status`",
        )


def _load_one_platform(tag: str, cluster: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Docker's containerd image store may hold an index whose other platforms are absent, which
    ``kind load docker-image`` cannot import (kubernetes-sigs/kind#3795): save only this image's
    own platform and load that archive."""
    docker = docker_cli()
    inspected = run(
        [docker, "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", tag], timeout=60
    )
    with tempfile.TemporaryDirectory(prefix="mlops-labs-kind-") as folder:
        archive = str(Path(folder) / "image.tar")
        platform = inspected.stdout.strip()
        saved = run(
            [docker, "image", "save", "--platform", platform, "-o", archive, tag], timeout=timeout
        )
        if saved.returncode != 0:
            return saved
        return run(["kind", "load", "image-archive", archive, "--name", cluster], timeout=timeout)


def _require_kind() -> None:
    if shutil.which("kind") is None:
        raise EnvironmentProblem(f"kind is not installed; {INSTALL_KIND}")


def _is_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
