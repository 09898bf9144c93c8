"""foundation/03 by hand: an internal Docker network, an MLflow 3 server from the runner image (as
the grader starts it: a copy of the image's migrated empty database, one CPU, read-only, waited
for by /health), a locked-down runner container on that network with the reference mounted, then
in it: ``python sweep.py`` on a copy of the project (with the grader's validation file, the
starter's without its last row), the planted FAILED run, ``python select_best.py``, the search for
a local store, ``cat best_run.json``, the probe's ``runs`` (every run and logged model, each
model's input example downloaded) and ``score`` of the best model on the validation file; on the
host, the training file's SHA-256 and the validation rows (checks 3 and 4 compare with them).

Left out, as the harness's own bookkeeping: pytest and the report, the staged copies of the
submission (the raw side mounts the reference read-only as it is: its files are world-readable
already), the fresh HOME and ``kill -1`` settling before each grader command (nothing is left
running in the sandbox of a reference), and the capped engine logs and run labels.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graders.catalogue import find_lab
from graders.containers import probe_cli
from graders.containers.workspace import MLFLOW_CLIENT_ENV
from graders.fixtures.mlflow import _HEALTH, _START, EMPTY_DATABASE, MLFLOW_PORT
from graders.labs import experiment_tracking
from graders.labs.experiment_tracking.data import validation_rows
from graders.labs.experiment_tracking.fixtures import EXPERIMENT, LOCAL_STORES
from raw._kit import Raw, docker

LAB = "foundation/03-experiment-tracking"
LOCKED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
          "--user", "10001:10001"]  # fmt: skip


def limits(cpus: str, memory: str, pids: str = "256") -> list[str]:
    """``docker run`` flags for the grader's CPU, memory (no swap) and PID limits."""
    return ["--cpus", cpus, "--memory", memory, "--memory-swap", memory, "--pids-limit", pids]


def env_flags(env: dict[str, str]) -> list[str]:
    """``-e NAME=VALUE`` for each variable."""
    return [flag for name, value in env.items() for flag in ("-e", f"{name}={value}")]


@contextmanager
def internal_network() -> Iterator[str]:
    """An internal bridge network (peers only), removed afterwards."""
    name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    docker("network", "create", "--internal", name)
    try:
        yield name
    finally:
        docker("network", "rm", name)


def start_mlflow(
    runner: str, network: str, store: str = "/tmp", *, aliases: tuple[str, ...] = (),
    volume: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """Start an MLflow server as the grader does (``graders.fixtures.mlflow``); its name."""
    name = f"bench-raw-mlflow-{uuid.uuid4().hex[:8]}"
    hosts = ",".join(
        f"{host}:{MLFLOW_PORT},{host}" for host in (name, *aliases, "localhost", "127.0.0.1")
    )
    extra = [flag for alias in aliases for flag in ("--network-alias", alias)]
    if volume:
        extra += ["-v", f"{volume[0]}:{volume[1]}"]
    env = {"HOME": "/tmp", "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # fmt: skip
    docker(
        "run", "-d", "--name", name, "--network", network, *extra, *LOCKED,
        "--tmpfs", "/tmp:rw,size=1g", *limits("1", "1536m"), *env_flags(env), runner,
        "python", "-I", "-c", _START, EMPTY_DATABASE, f"{store}/mlflow.db",
        "mlflow", "server", "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
        "--artifacts-destination", f"{store}/artifacts", "--host", "0.0.0.0",
        "--port", str(MLFLOW_PORT), "--workers", "1", "--allowed-hosts", hosts,
    )  # fmt: skip
    return name


def wait_mlflow(name: str, deadline: float = 120.0) -> None:
    """Ask the server's /health from inside its container (it is on an internal network) every
    0.25 s until it answers 200."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            docker("exec", name, "bash", "-c", _HEALTH)
            return
        except Exception:  # noqa: BLE001 - not ready yet
            time.sleep(0.25)
    raise RuntimeError(f"{name} did not answer /health in {deadline:.0f} s")


def start_workspace(
    runner: str, network: str, mounts: dict[Path, str], env: dict[str, str],
    volume: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """A locked-down runner container (the grader's workspace limits) on ``network``, with
    ``mounts`` read-only and a 1 GB scratch /work; its name."""
    name = f"bench-raw-work-{uuid.uuid4().hex[:8]}"
    extra = [flag for host, inside in mounts.items() for flag in ("-v", f"{host}:{inside}:ro")]
    if volume:
        extra += ["-v", f"{volume[0]}:{volume[1]}"]
    docker(
        "run", "-d", "--name", name, "--network", network, *LOCKED, *extra,
        "--tmpfs", "/tmp:rw,size=256m", "--tmpfs", "/work:rw,exec,size=1g,mode=1777",
        *limits("2", "3g"), *env_flags(env), runner, "sleep", "infinity",
    )  # fmt: skip
    return name


def sh(container: str, script: str, cwd: str = "/work") -> str:
    """``docker exec`` of a bash script; its output (raises if it fails)."""
    return docker("exec", "-w", cwd, container, "bash", "-c", script)


def grader_folder(work: Path, package_probe: Path) -> Path:
    """A world-readable folder with the lab's probe and ``probe_cli.py`` beside it."""
    work.chmod(0o755)  # the sandbox's user reads the mounts
    folder = work / "grader"
    folder.mkdir()
    shutil.copy(package_probe, folder / "probe.py")
    shutil.copy(probe_cli.__file__, folder / "probe_cli.py")
    return folder


def run(raw: Raw) -> None:
    """The third lab's grading, by hand."""
    lab = find_lab(LAB)
    starter = lab.starter
    folder = grader_folder(raw.work, Path(experiment_tracking.__file__).with_name("probe.py"))
    lines = (starter / "data" / "valid.csv").read_bytes().splitlines(keepends=True)
    (folder / "valid.csv").write_bytes(b"".join(lines[:-1]))
    for path in folder.iterdir():
        path.chmod(0o644)
    with internal_network() as network:
        server = start_mlflow(raw.runner, network)
        work = ""
        try:
            env = {**MLFLOW_CLIENT_ENV, "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
                   "MLFLOW_TRACKING_URI": f"http://{server}:{MLFLOW_PORT}"}  # fmt: skip
            wait_mlflow(server)
            work = start_workspace(
                raw.runner, network, {raw.solution: "/submission", folder: "/grader"}, env
            )
            sh(work, "cp -a /submission /work/project && mkdir -p /work/project/data && "
               "cp /grader/valid.csv /work/project/data/valid.csv && cd /work/project && "
               "python sweep.py")  # fmt: skip
            sh(work, f"python /grader/probe.py plant {EXPERIMENT}")
            sh(work, "python select_best.py", cwd="/work/project")
            sh(work, f"find /work/project /submission {LOCAL_STORES} -print")
            best = sh(work, "cat /work/project/best_run.json")
            facts = sh(work, f"python /grader/probe.py runs {EXPERIMENT}")
            hashlib.sha256((starter / "data" / "train.csv").read_bytes()).hexdigest()
            validation_rows(lab)
            model = best_model_id(facts, best)
            sh(work, f"python /grader/probe.py score {model} /grader/valid.csv")
        finally:
            for container in (work, server):
                if container:
                    docker("rm", "-f", container)


def best_model_id(facts: str, best: str) -> str:
    """The last READY model of the finished run with the best val_accuracy."""
    runs = json.loads(facts.strip().splitlines()[-1])["runs"]
    finished = [r for r in runs if r["status"] == "FINISHED" and "val_accuracy" in r["metrics"]]
    top = max(finished, key=lambda r: r["metrics"]["val_accuracy"])
    assert json.loads(best)["run_id"] == top["run_id"]
    return [m for m in top["models"] if m["ready"]][-1]["model_id"]
