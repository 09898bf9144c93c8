"""Layer 3 of lab professional/03-ha-inference-on-kind: the learner's manifests on kind.

Their Deployment's image is replaced by the grader's build of their Dockerfile, under this run's
own tag (so parallel gradings and the learner's own images never clash), loaded with kind. Their
objects are applied into a namespace of this run, ``mlops-labs-<run id>`` (deleted in
``finally``); a traffic pod of the grader's runner image POSTs ``/predict`` through their Service
about 20 times a second while one of their pods is deleted (phase A) and through a rolling update
(phase B). What their workload does wrong (a rollout that never completes, a crash loop, objects
the API refuses) goes into ``rollout_problem`` or ``update_problem`` with the pods' state; only
the grader's trouble raises.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graders.containers.cleanup import RUN_LABEL
from graders.containers.images import BuildResult
from graders.errors import EnvironmentProblem, LearnerFailure
from graders.fixtures.kind import KindCluster
from graders.labs.ha_inference_on_kind.manifests import Manifests, dig
from graders.timing import measured_alone

ROLLOUT_TIMEOUT = 180  # seconds for a rollout (the first one, the recovery, the rolling update)
DELETION_SECONDS = 40  # phase A's traffic; a pod is deleted DELETE_AFTER seconds into it
DELETE_AFTER = 8
UPDATE_LEAD = 3  # phase B's traffic runs this long before the restart ...
UPDATE_TAIL = 10  # ... and this long after the rollout, while old pods finish terminating
RATE = 20  # requests per second
START_SECONDS = 60  # for the traffic pod to start (its image is already on the nodes)
STOP_FILE = "/tmp/stop"  # phase B's traffic ends when this file appears in the pod
TRAFFIC_CONFIGMAP = "mlops-labs-traffic"
CLUSTER_SCOPED = frozenset({"Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver",
    "RuntimeClass", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
    "IngressClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "PriorityClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"})  # fmt: skip
PROBE = Path(__file__).with_name("probe.py")
AGAIN = "grade again; if it happens again, report it with report.json"


@dataclass
class TrafficResult:
    """What one traffic pod counted: requests sent, those that failed, and the first failures."""

    requests: int
    failures: int
    examples: list[str] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        """Failed requests as a fraction of those sent (1.0 when none was sent)."""
        return self.failures / self.requests if self.requests else 1.0


@dataclass
class LiveRun:
    """What layer 3 saw on the cluster."""

    namespace: str
    rollout_seconds: float | None = None
    rollout_problem: str = ""  # "" when the workload was applied and rolled out
    deletion: TrafficResult | None = None  # phase A: a pod deleted under traffic
    rolling_update: TrafficResult | None = None  # phase B: a rolling update under traffic
    update_problem: str = ""  # "" when it recovered from the deletion and the update finished
    deleted_pod: str = ""
    update_seconds: float | None = None


def namespaced_objects(manifests: Manifests, namespace: str) -> tuple[list[dict[str, Any]], str]:
    """The learner's objects with any ``metadata.namespace`` replaced by ours, and why they cannot
    be applied ("" when they can): cluster-scoped objects would outlive the namespace."""
    refused = sorted({str(o["kind"]) for o in manifests.objects if o.get("kind") in CLUSTER_SCOPED})
    if refused:
        return [], f"the grader applies only namespaced objects; remove {', '.join(refused)}"
    if manifests.deployment() is None or manifests.service() is None:
        return [], "the manifests need a Deployment and a Service"
    placed = [{**o, "metadata": {**(o.get("metadata") or {}), "namespace": namespace}}
              for o in manifests.objects]  # fmt: skip
    return placed, ""


def traffic_pod(name: str, runner: str, target: str, seconds: float, run_id: str) -> dict[str, Any]:
    """The traffic pod: the runner image (loaded with kind, never pulled), non-root, read-only
    root, no capabilities, never restarted."""
    env = {"TARGET": target, "DURATION": str(seconds), "RATE": str(RATE), "STOP_FILE": STOP_FILE}
    container = {
        "name": "traffic", "image": runner, "imagePullPolicy": "Never",
        "command": ["python", "/probe/traffic.py"],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "probe", "mountPath": "/probe", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }  # fmt: skip
    labels = {RUN_LABEL: run_id, "app.kubernetes.io/name": "mlops-labs-traffic"}
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "probe", "configMap": {"name": TRAFFIC_CONFIGMAP}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
        },
    }  # fmt: skip


@pytest.fixture(scope="session")
def live_run(
    kind_cluster: KindCluster,
    inference_build: BuildResult,
    rendered_manifests: Manifests,
    sandbox_image: str,
    run_id: str,
    progress: Callable[[str], None],
) -> LiveRun:
    """The learner's workload on the cluster, through a pod deletion and a rolling update under
    traffic; the run's namespace is being deleted (asynchronously) when this returns."""
    if not inference_build.ok:
        raise LearnerFailure(inference_build.failure())
    live = LiveRun(f"mlops-labs-{run_id}")
    objects, refusal = namespaced_objects(rendered_manifests, live.namespace)
    if refusal:
        live.rollout_problem = refusal
        return live
    declared = str(dig(rendered_manifests.container(), "image") or "")
    objects = with_image(objects, declared, inference_build.tag)
    with measured_alone():  # one grading at a time on the cluster: its traffic is measured
        progress("loading your image and the traffic runner into the kind cluster")
        kind_cluster.load_image(inference_build.tag)
        kind_cluster.load_image(sandbox_image)
        try:
            _exercise(
                kind_cluster, live, objects, rendered_manifests, sandbox_image, run_id, progress
            )
        finally:
            kind_cluster.kubectl("delete", "namespace", live.namespace, "--wait=false", timeout=60)
    return live


def with_image(objects: list[dict[str, Any]], declared: str, built: str) -> list[dict[str, Any]]:
    """The objects with every Deployment container that names ``declared`` running ``built``."""
    placed = json.loads(json.dumps(objects))
    for obj in placed:
        if obj.get("kind") == "Deployment":
            for container in dig(obj, "spec", "template", "spec", "containers") or []:
                if container.get("image") == declared:
                    container["image"] = built
    return placed


def _exercise(
    cluster: KindCluster,
    live: LiveRun,
    objects: list[dict[str, Any]],
    manifests: Manifests,
    runner: str,
    run_id: str,
    progress: Callable[[str], None],
) -> None:
    ns, name = live.namespace, str(dig(manifests.deployment(), "metadata", "name"))
    metadata = {"name": ns, "labels": {RUN_LABEL: run_id}}
    _apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}, "")
    service = str(dig(manifests.service(), "metadata", "name"))
    target = f"http://{service}.{ns}.svc:{manifests.service_port() or 80}/predict"
    progress("applying your manifests and waiting for the rollout")
    listed = {"apiVersion": "v1", "kind": "List", "items": objects}
    applied = cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(listed))
    if applied.returncode != 0:
        live.rollout_problem = f"kubectl apply refused the manifests:\n{applied.stderr[-1500:]}"
        return
    live.rollout_seconds, live.rollout_problem = _rollout(cluster, ns, name, "roll out")
    if live.rollout_problem:
        return
    script = {"traffic.py": PROBE.read_text()}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": TRAFFIC_CONFIGMAP}}
    _apply(cluster, {**configmap, "data": script}, ns)
    progress(f"sending traffic while one of your pods is deleted ({DELETION_SECONDS} s)")
    _start_traffic(cluster, ns, traffic_pod("traffic-a", runner, target, DELETION_SECONDS, run_id))
    time.sleep(DELETE_AFTER)
    live.deleted_pod = _a_running_pod(cluster, ns, manifests)
    cluster.kubectl("delete", "pod", live.deleted_pod, "-n", ns, "--wait=false")
    live.deletion = _finish_traffic(cluster, ns, "traffic-a", DELETION_SECONDS + START_SECONDS)
    live.update_problem = _rollout(cluster, ns, name, "recover after a pod was deleted")[1]
    if live.update_problem:
        return
    progress("sending traffic through a rolling update")
    most = UPDATE_LEAD + ROLLOUT_TIMEOUT + UPDATE_TAIL + 60  # it is stopped before, normally
    _start_traffic(cluster, ns, traffic_pod("traffic-b", runner, target, most, run_id))
    time.sleep(UPDATE_LEAD)
    restarted = cluster.kubectl("rollout", "restart", f"deployment/{name}", "-n", ns)
    _checked(restarted, f"restart the Deployment {name}")
    live.update_seconds, live.update_problem = _rollout(cluster, ns, name, "finish the update")
    time.sleep(UPDATE_TAIL)
    stop = f"open({STOP_FILE!r}, 'w').close()"
    cluster.kubectl("exec", "-n", ns, "traffic-b", "--", "python", "-c", stop)
    live.rolling_update = _finish_traffic(cluster, ns, "traffic-b", most + START_SECONDS)


def _rollout(cluster: KindCluster, ns: str, name: str, what: str) -> tuple[float | None, str]:
    """Wait for the Deployment's rollout: its seconds and "", or None and what went wrong."""
    started = time.monotonic()
    done = cluster.kubectl(
        "rollout", "status", f"deployment/{name}", "-n", ns,
        f"--timeout={ROLLOUT_TIMEOUT}s", timeout=ROLLOUT_TIMEOUT + 30,
    )  # fmt: skip
    if done.returncode == 0:
        return round(time.monotonic() - started, 1), ""
    return None, (
        f"the Deployment {name} did not {what} within {ROLLOUT_TIMEOUT} s "
        f"({done.stderr.strip()[-300:]})\n{_workload_state(cluster, ns)}"
    )


def _workload_state(cluster: KindCluster, ns: str) -> str:
    pods = cluster.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout.strip()
    events = cluster.kubectl("get", "events", "-n", ns, "--sort-by=.metadata.creationTimestamp")
    last = "\n".join(events.stdout.strip().splitlines()[-12:])
    return f"pods:\n{pods}\nlast events:\n{last}"


def _a_running_pod(cluster: KindCluster, ns: str, manifests: Manifests) -> str:
    """A running pod of the Deployment (by its template's labels) that is not being deleted."""
    selector = ",".join(f"{key}={value}" for key, value in manifests.pod_labels().items())
    listed = cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json")
    pods = json.loads(listed.stdout).get("items", []) if listed.returncode == 0 else []
    running = [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")
               and RUN_LABEL not in (p["metadata"].get("labels") or {})]  # fmt: skip
    if not running:  # the rollout just completed: its pods carry these labels
        state = _workload_state(cluster, ns)
        raise EnvironmentProblem(f"no running pod labelled {selector} to delete:\n{state}", AGAIN)
    return min(running)


def _start_traffic(cluster: KindCluster, ns: str, pod: dict[str, Any]) -> None:
    """Create the traffic pod and wait until it runs."""
    name = pod["metadata"]["name"]
    _apply(cluster, pod, ns)
    if _phase_after(cluster, ns, name, {"Running", "Succeeded", "Failed"}, START_SECONDS) is None:
        late = f"the traffic pod did not start within {START_SECONDS} s"
        raise EnvironmentProblem(f"{late}:\n{_workload_state(cluster, ns)}", AGAIN)


def _finish_traffic(cluster: KindCluster, ns: str, name: str, seconds: float) -> TrafficResult:
    """Wait for the traffic pod to end and read the one JSON line it printed."""
    phase = _phase_after(cluster, ns, name, {"Succeeded", "Failed"}, seconds)
    logs = cluster.kubectl("logs", "-n", ns, name).stdout.strip()
    try:
        counted = json.loads(logs.splitlines()[-1])
        return TrafficResult(counted["requests"], counted["failures"], counted["examples"])
    except (IndexError, KeyError, TypeError, ValueError):
        ended = f"the traffic pod {name} ended ({phase or 'still running'}) without its counts"
        raise EnvironmentProblem(f"{ended}:\n{logs[-1500:]}", AGAIN) from None


def _phase_after(cluster: KindCluster, ns: str, pod: str, ends: set[str], s: float) -> str | None:
    """Poll the pod's phase until it is one of ``ends``; that phase, or None after ``s`` seconds."""
    deadline = time.monotonic() + s
    while time.monotonic() < deadline:
        asked = cluster.kubectl("get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.phase}")
        if asked.stdout.strip() in ends:
            return asked.stdout.strip()
        time.sleep(1)
    return None


def _apply(cluster: KindCluster, obj: dict[str, Any], ns: str) -> None:
    """``kubectl apply`` one object of the grader's own (in ``ns``, unless it is "")."""
    done = cluster.kubectl("apply", *(["-n", ns] if ns else []), "-f", "-", input=json.dumps(obj))
    _checked(done, f"create the {obj['kind']} {obj['metadata']['name']}")


def _checked(done: subprocess.CompletedProcess[str], what: str) -> None:
    """A kubectl call of the grader's own must succeed: otherwise the cluster is at fault."""
    if done.returncode != 0:
        raise EnvironmentProblem(
            f"kubectl could not {what}: {done.stderr.strip()[-500:]}",
            "check `mlops-labs cluster status`, then grade again",
        )
