"""professional/02-drift-alerts by hand: an internal network; a runner container (the sandbox's
limits) with the solution and the hidden datasets and traffic mounted, where the learner's psi()
and ks() run on the hidden datasets (compared with an independent implementation on the host);
docker build of the service; the service run read-only with its limits as ``model:8000``, polled
until /health answers; ten requests and /metrics, parsed; ``promtool check rules`` and ``promtool
test rules`` on monitoring/, the hidden promtool tests in one container, ``promtool check rules``
on the rules as written and shortened for the live run; Prometheus (the pinned image) scraping the
service with those rules; the end-to-end traffic (50 rows to fill the window, 10 s in
distribution, shifted until FeatureDrift fires); every dashboard query on that Prometheus.

Every promtool command, container and HTTP request of a grading is here, the same number of times,
from the same images under the same limits, and the probes are the lab's own probe.py (its
traffic and Prometheus questions are what the checks judge), run with ``docker exec`` in the
runner container as the grading runs them.

Left out, as harness bookkeeping: the staged copy of the submission (the solution is mounted
read-only as it is, it is already world-readable, and nothing here writes to it) and the second,
world-readable copies of it and of monitoring/ for the sandbox; the fresh HOME and the
``kill -KILL -1`` settling before each probe (no learner step ran in the runner container); the
wait on Prometheus' log line (the live probe itself waits for /-/ready); the grading's health
probe every 0.5 s, one ``docker exec`` each (here one exec polls /health every 0.1 s); the report,
progress events and the label sweep of the run's resources (each resource is removed by name).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from graders.containers import probe_cli
from graders.containers.builder import builder
from graders.containers.images import INFRA
from graders.labs.drift_alerts import statistics
from graders.labs.drift_alerts.data import applications
from graders.labs.drift_alerts.promtool import (
    SCENARIOS,
    alert_intervals,
    for_live_run,
    load_rules,
    results,
    run_script,
)
from graders.labs.drift_alerts.templating import GRAFANA_VARIABLES
from raw._kit import Raw, docker

LAB = "professional/02-drift-alerts"
PROBE = Path(statistics.__file__).with_name("probe.py")
PROBE_CLI = Path(probe_cli.__file__)
LOCKED = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
HEALTHY = (
    "import time, urllib.request\n"
    "for _ in range(300):\n"
    "    try:\n"
    "        if urllib.request.urlopen('http://model:8000/health', timeout=2).status == 200:\n"
    "            break\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
    "else:\n"
    "    raise SystemExit('the service did not answer /health')\n"
)


def prometheus_image() -> str:
    """The pinned Prometheus image's tag: ``mlops-labs/prometheus:`` a digest of its folder."""
    folder = INFRA / "images" / "prometheus"
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return f"mlops-labs/prometheus:{digest.hexdigest()[:12]}"


def promtool(image: str, script: str, folder: Path, inside: str) -> str:
    """A sandboxed ``sh -c SCRIPT`` in the Prometheus image, ``folder`` read-only at ``inside``;
    its output (a failing script does not raise: its output says why)."""
    done = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", *LOCKED, "--tmpfs", "/tmp:size=256m",
            "--cpus", "1", "--memory", "512m", "--memory-swap", "512m", "--pids-limit", "128",
            "--user", "10001:10001", "-v", f"{folder}:{inside}:ro", image, "sh", "-c", script,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout + done.stderr


def probe(workspace: str, *args: str) -> Any:
    """``python probe.py ARGS`` in the runner container; the JSON it printed last."""
    out = docker("exec", "-e", "HOME=/tmp", "-w", "/work", workspace, "python", "/grader/probe.py",
                 *args)  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def readable_folder(folder: Path) -> Path:
    """Make ``folder`` and its files readable by a container's non-root user."""
    for path in folder.iterdir():
        path.chmod(0o644)
    folder.chmod(0o755)
    return folder


def grader_files(folder: Path) -> Path:
    """The probe, probe_cli.py beside it, the hidden datasets and the traffic."""
    folder.mkdir()
    shutil.copy(PROBE, folder / "probe.py")
    shutil.copy(PROBE_CLI, folder / "probe_cli.py")
    (folder / "datasets.json").write_text(json.dumps(statistics.hidden_datasets()))
    traffic = {
        "quiet": list(applications(8002, 3000)),
        "shifted": list(applications(8003, 3000, shifted=True)),
    }
    (folder / "traffic.json").write_text(json.dumps(traffic))
    return readable_folder(folder)


def run(raw: Raw) -> None:
    """The lab's grading, by hand."""
    suffix = uuid.uuid4().hex[:8]
    network, workspace = f"bench-raw-drift-{suffix}", f"bench-raw-drift-ws-{suffix}"
    service, server = f"bench-raw-drift-model-{suffix}", f"bench-raw-drift-prom-{suffix}"
    tag, image = f"bench-raw-drift:{suffix}", prometheus_image()
    grader = grader_files(raw.work / "grader")
    docker("network", "create", "--internal", "-o", "com.docker.network.bridge.inhibit_ipv4=true",
           network)  # fmt: skip
    try:
        docker(
            "run", "-d", "--name", workspace, "--network", network, *LOCKED,
            "--tmpfs", "/tmp:size=256m", "--tmpfs", "/work:rw,exec,size=1g,mode=1777",
            "--cpus", "2", "--memory", "3g", "--memory-swap", "3g", "--pids-limit", "256",
            "--user", "10001:10001", "-e", "HOME=/tmp",
            "-v", f"{raw.solution}:/submission:ro", "-v", f"{grader}:/grader:ro",
            raw.runner, "sleep", "infinity",
        )  # fmt: skip
        # 1: psi() and ks() on the hidden datasets, against an independent implementation
        answer = probe(workspace, "statistics", "/submission/service/drift.py",
                       "/grader/datasets.json")  # fmt: skip
        for name, data in statistics.hidden_datasets().items():
            for function in ("psi", "ks"):
                expected = getattr(statistics, function)(data["reference"], data["current"])
                assert statistics.agrees(expected, answer["results"][name][function])
        # 2: the service built and run locked down, ten requests, /metrics
        used = builder()
        subprocess.run([used.cli, "build", "-q", "-t", tag, str(raw.solution)],
                       check=True, capture_output=True, env=used.environment())  # fmt: skip
        docker(
            "run", "-d", "--name", service, "--network", network, "--network-alias", "model",
            *LOCKED, "--tmpfs", "/tmp:size=64m", "--cpus", "1", "--memory", "512m",
            "--memory-swap", "512m", "--pids-limit", "256", tag,
        )  # fmt: skip
        docker("exec", workspace, "python", "-c", HEALTHY)
        page = probe(workspace, "metrics", "http://model:8000", "/grader/traffic.json")
        families = {f.name for f in text_string_to_metric_families(page["text"])}
        assert {"model_requests", "feature_drift_psi", "feature_drift_ks"} <= families
        # 3: the learner's rules checked and their own tests run
        monitoring = raw.solution / "monitoring"
        promtool(image, "promtool check rules /m/rules.yml", monitoring, "/m")
        promtool(image, "promtool test rules /m/rules_test.yml", monitoring, "/m")
        # 4: the hidden promtool tests, one file per scenario, in one container
        rules = load_rules(monitoring / "rules.yml")
        hidden = raw.work / "hidden"
        hidden.mkdir()
        shutil.copyfile(monitoring / "rules.yml", hidden / "rules.yml")
        names = []
        for scenario in SCENARIOS:
            for name, text in scenario.test_files(alert_intervals(rules)).items():
                (hidden / name).write_text(text)
                names.append(name)
        outcome = results(promtool(image, run_script(names, "/t"), readable_folder(hidden), "/t"))
        assert all(outcome[name][0] == 0 for name in names), outcome
        # 5: the rules as written and shortened checked, Prometheus, the end-to-end traffic
        config = raw.work / "prometheus"
        config.mkdir()
        (config / "rules.yml").write_text(for_live_run(rules, "1s", "5s"))
        shutil.copyfile(monitoring / "rules.yml", config / "submitted.yml")
        scrape = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["/etc/lab/rules.yml"],
            "scrape_configs": [
                {"job_name": "drift-service", "static_configs": [{"targets": ["model:8000"]}]}
            ],
        }
        (config / "prometheus.yml").write_text(yaml.safe_dump(scrape, sort_keys=False))
        readable_folder(config)
        promtool(image, "promtool check rules /etc/lab/submitted.yml /etc/lab/rules.yml",
                 config, "/etc/lab")  # fmt: skip
        docker(
            "run", "-d", "--name", server, "--network", network, "--network-alias", "prometheus",
            *LOCKED, "--tmpfs", "/tmp:size=256m", "--cpus", "1", "--memory", "512m",
            "--memory-swap", "512m", "--pids-limit", "256", "--user", "65534:65534",
            "-v", f"{config}:/etc/lab:ro", image, "prometheus",
            "--config.file=/etc/lab/prometheus.yml", "--storage.tsdb.path=/tmp/tsdb",
            "--web.listen-address=0.0.0.0:9090",
        )  # fmt: skip
        seen = probe(workspace, "live", "http://model:8000", "http://prometheus:9090",
                     "/grader/traffic.json", "10", "30")  # fmt: skip
        assert seen["fired_after"] is not None and "firing" not in seen["quiet_states"], seen
        # 6: every dashboard query (Grafana's variables filled in), and the metrics they name
        dashboard = json.loads((monitoring / "dashboard.json").read_text())
        exprs = [target["expr"] for panel in dashboard["panels"]
                 for target in panel.get("targets") or [] if target.get("expr")]  # fmt: skip
        for variable, value in GRAFANA_VARIABLES.items():
            exprs = [expr.replace(f"${variable}", value) for expr in exprs]
        names = ["feature_drift_ks", "feature_drift_psi", "model_prediction_score_bucket",
                 "model_request_duration_seconds_bucket", "model_request_errors_total",
                 "model_requests_total"]  # fmt: skip
        known = f'group by (__name__) ({{__name__=~"{"|".join(names)}"}})'
        answers = probe(workspace, "queries", "http://prometheus:9090", json.dumps([*exprs, known]))
        assert all(a["status"] == "success" and a["series"] for a in answers), answers
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", server, service, workspace],
                       capture_output=True, check=False)  # fmt: skip
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "--no-prune", tag], capture_output=True, check=False)
