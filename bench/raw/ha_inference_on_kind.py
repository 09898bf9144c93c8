"""professional/03-ha-inference-on-kind by hand, as graded on a machine without a kind cluster
(checks 11 to 13 are skipped there, so nothing of them is done here): ``kubectl kustomize k8s/`` in
the runner image (the host's kubectl mounted, no network, the sandbox's limits); every rendered
object validated strictly against the Kubernetes 1.36 schemas (kubernetes-validate, in process) and
read for checks 2 to 8; docker build of the solution; the image run as the manifest declares (its
user, read-only root with a 64 MiB tmpfs for the /tmp emptyDir, 1 CPU, 512 MiB, env, all
capabilities dropped, port 8080 published on loopback, on a bridge of its own); GET on the
readiness and liveness probes' endpoint until both answer 200; one POST /predict; SIGTERM, waited
for until it exits.

Left out, as harness bookkeeping or work that proves nothing for this reference: the staged copy of
the submission (the solution is mounted and built as it is: it is world-readable and nothing here
writes to it); ``docker image inspect`` of the image's USER (the manifest sets runAsUser, so the
image's own user decides nothing); the look for a kind cluster (``kind`` is not installed here:
the grading's look ends at once); the report and the label sweep of the run's resources (each
resource is removed by name). Readiness is polled every 0.1 s, as the grading polls it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import kubernetes_validate
import requests
import yaml

from graders.containers.builder import builder
from graders.labs.ha_inference_on_kind.fixtures import INSTANCE
from raw._kit import Raw, docker, published_url

LAB = "professional/03-ha-inference-on-kind"


def rendered(raw: Raw) -> list[dict]:
    """``kubectl kustomize k8s/`` in the runner image, sandboxed; the objects it printed."""
    kubectl = Path(shutil.which("kubectl") or "kubectl").resolve()
    out = docker(
        "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp:size=256m",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--cpus", "1",
        "--memory", "1g", "--memory-swap", "1g", "--pids-limit", "128", "--user", "10001:10001",
        "-v", f"{kubectl}:/opt/kubectl:ro", "-v", f"{raw.solution}:/submission:ro",
        raw.runner, "/opt/kubectl", "kustomize", "/submission/k8s",
    )  # fmt: skip
    return [o for o in yaml.safe_load_all(out) if o is not None]


def read_by_hand(objects: list[dict]) -> None:
    """Checks 1 to 8 on the rendered objects: the schemas, and what a reviewer reads in them."""
    for obj in objects:
        kubernetes_validate.validate(obj, "1.36", strict=True)
    kinds = {o["kind"]: o for o in objects}
    deployment, service = kinds["Deployment"], kinds["Service"]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = pod["containers"][0]
    assert kinds["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    budget = kinds["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    ports = {p.get("name") for p in container["ports"]}
    assert {container[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe")} <= ports
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert container["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]
    assert ":" in container["image"] and not container["image"].endswith(":latest")
    assert service["spec"]["selector"].items() <= labels.items()


def run(raw: Raw) -> None:
    """The lab's grading without a cluster, by hand."""
    suffix = uuid.uuid4().hex[:8]
    name = network = f"bench-raw-ha-{suffix}"  # the container and its bridge
    tag = f"bench-raw-ha:{suffix}"
    read_by_hand(rendered(raw))
    used = builder()
    subprocess.run([used.cli, "build", "-q", "-t", tag, str(raw.solution)],
                   check=True, capture_output=True, env=used.environment())  # fmt: skip
    docker("network", "create", "-o", "com.docker.network.bridge.enable_ip_masquerade=false",
           network)  # fmt: skip
    try:
        docker(
            "run", "-d", "--name", name, "--network", network, "-p", "127.0.0.1::8080",
            "--read-only", "--tmpfs", "/tmp:rw,exec,size=67108864,mode=1777",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--cpus", "1",
            "--memory", "536870912", "--memory-swap", "536870912", "--pids-limit", "256",
            "--user", "10001:10001", "-e", "PORT=8080", tag,
        )  # fmt: skip
        url = published_url(name, 8080)
        deadline = time.monotonic() + 60
        while True:  # the readiness and liveness probes' endpoint (both GET /health on http)
            try:
                statuses = [requests.get(url + "/health", timeout=2).status_code for _ in "rl"]
            except requests.RequestException:
                statuses = []
            if statuses == [200, 200]:
                break
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.1)
        answer = requests.post(url + "/predict", json={"instances": [INSTANCE]}, timeout=10)
        assert answer.status_code == 200, answer.text
        docker("kill", "-s", "TERM", name)
        docker("wait", name)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "--no-prune", tag], capture_output=True, check=False)
