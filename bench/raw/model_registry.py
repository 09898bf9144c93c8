"""professional/01 by hand: docker build of server/, an internal network, the runner workspace
(the project copied to /work/project, the grader's probe and churn files at /grader), the learner's
MLflow server on a volume under the grader's limits, its settling, its users, /data's owner and
its Docker health, a seeded run kept across a replaced container, the three models trained, the
README's story (4 register, 6 promote, 2 serve.py, 3 rollback, 1 audit from a second workspace,
with the champion read before and after each, and the reviewers' approvals), the server's log
read around the three refused promotions, and two registers released together from a paused
server.

Left out, as harness bookkeeping: the run's labels, reports, progress events, pytest, the staged
copy of the submission that ``stage_submission`` makes before the workspace's own world-readable
copy (one copy is kept: the sandbox reads it as UID 10001), the fresh HOME and ``kill -1``
settling around every probe, ``timeout``/``tail`` wrappers of each step and the 1 s pauses of the
grader's polls (here: a 0.1-0.2 s poll, a blocking ``docker exec`` for the concurrent registers).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from graders.containers.services import cpu_seconds  # the grader's own reading of cgroups
from graders.containers.workspace import stage_readable
from graders.labs._shared.churn import write_csv
from graders.labs.model_registry import data
from graders.labs.model_registry.server import LIST_PROCESSES
from raw._kit import Raw, docker

LAB = "professional/01-model-registry"
SKIPPED = {".git", "mlruns", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache"}
PACKAGE = Path(data.__file__).parent
PROBE_CLI = PACKAGE.parent.parent / "containers" / "probe_cli.py"
ENV = {
    "HOME": "/tmp",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_TRACKING_URI": "http://registry:5000",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",
    "PYTHONDONTWRITEBYTECODE": "1",
}
PROJECT, MODELS = "/work/project", "/work/models"
LOGS = ("--log-opt", "max-size=1m", "--log-opt", "max-file=1")
LOGS += ("--security-opt", "no-new-privileges")
WAIT_HEALTH = (
    "import time, urllib.request\n"
    "for _ in range(1500):\n"
    "    try:\n"
    "        urllib.request.urlopen('http://registry:5000/health', timeout=1); break\n"
    "    except Exception: time.sleep(0.1)\n"
    "else: raise SystemExit('no answer')\n"
)


def readable_copy(source: Path, target: Path) -> Path:
    """Copy ``source`` (no .git, mlruns, caches) world-readable: the sandbox reads it as 10001."""
    return stage_readable(source, target, lambda _, names: {n for n in names if n in SKIPPED})


def settle(cid: str, deadline: float = 60.0) -> None:
    """Wait until the server has used under 5 % of a CPU over a second (it started its workers
    and was not killed meanwhile): what check 1 proves."""
    end = time.monotonic() + deadline
    then, used = time.monotonic(), cpu_seconds(SimpleNamespace(id=cid))
    while used is not None and time.monotonic() < end:
        time.sleep(0.25)
        now, current = time.monotonic(), cpu_seconds(SimpleNamespace(id=cid))
        if current is None or now - then < 1.0:
            continue
        if (current - used) / (now - then) < 0.05:
            return
        then, used = now, current
    if "true" not in docker("inspect", "-f", "{{.State.Running}}", cid):
        raise RuntimeError("the registry ended before settling")


def run(raw: Raw) -> None:
    """The model-registry lab's grading, by hand."""
    tag = f"bench-raw-registry:{uuid.uuid4().hex[:8]}"
    suffix = uuid.uuid4().hex[:8]
    network, volume = f"bench-raw-net-{suffix}", f"bench-raw-data-{suffix}"
    project = readable_copy(raw.solution, raw.work / "submission")
    grader = raw.work / "grader"
    grader.mkdir()
    shutil.copy(PACKAGE / "probe.py", grader / "probe.py")
    shutil.copy(PROBE_CLI, grader / "probe_cli.py")
    write_csv(grader / "train.csv", seed=data.TRAIN_SEED, count=data.TRAIN_ROWS)
    write_csv(grader / "holdout.csv", seed=data.HOLDOUT_SEED, count=data.HOLDOUT_ROWS)
    readable_copy(grader, raw.work / "mounted")
    grader = raw.work / "mounted"
    docker("build", "-q", "-t", tag, str(project / "server"))
    started: list[str] = []
    docker(
        "network", "create", "--internal",
        "-o", "com.docker.network.bridge.inhibit_ipv4=true", network,
    )  # fmt: skip
    try:
        env = [arg for key, value in ENV.items() for arg in ("-e", f"{key}={value}")]

        def workspace(name: str) -> str:
            cid = docker(
                "run", "-d", "--name", f"bench-raw-{name}-{suffix}", *env, *LOGS,
                "--cpus", "2", "--memory", "3g", "--memory-swap", "3g", "--pids-limit", "256",
                "--read-only", "--tmpfs", "/tmp:rw,size=256m",
                "--tmpfs", "/work:rw,exec,size=1g,mode=1777", "--user", "10001:10001",
                "--cap-drop", "ALL", "--network", network,
                "-v", f"{project}:/submission:ro", "-v", f"{grader}:/grader:ro",
                raw.runner, "sleep", "infinity",
            ).strip()  # fmt: skip
            started.append(cid)
            docker("exec", "-w", "/tmp", cid, "cp", "-a", "/submission", PROJECT)
            return cid

        ws = workspace("workspace")

        def probe(*args: str) -> dict:
            out = docker("exec", "-w", "/work", ws, "python", "/grader/probe.py", *args)
            return json.loads(out.strip().splitlines()[-1])

        def server() -> str:
            cid = docker(
                "run", "-d", "--name", f"bench-raw-registry-{uuid.uuid4().hex[:8]}", *LOGS,
                "--cpus", "1", "--memory", "1536m", "--memory-swap", "1536m",
                "--pids-limit", "512", "--cap-drop", "ALL", "--network", network,
                "--network-alias", "registry", "-v", f"{volume}:/data", tag,
            ).strip()  # fmt: skip
            started.append(cid)
            docker("exec", ws, "python", "-c", WAIT_HEALTH)
            return cid

        docker("volume", "create", volume)
        registry = server()
        # 1: it settles, and answers the API through its service name
        settle(registry)
        assert probe("health")["api"] == 200
        # 2: its processes' users, /data's owner, and Docker's health status
        docker("exec", registry, "sh", "-c", LIST_PROCESSES)
        docker("exec", registry, "stat", "-c", "%u", "/data")
        while docker("inspect", "-f", "{{.State.Health.Status}}", registry).strip() != "healthy":
            time.sleep(0.2)
        # 3: a seeded run, a new container on the same volume, what it still holds
        token = uuid.uuid4().hex[:8]
        seeded = probe("seed", token)
        docker("rm", "-f", registry)
        registry = server()
        kept = probe("seeded", token, seeded["run_id"])
        assert all(kept.get(k) for k in ("run", "metric", "version", "artifact")), kept
        # 4-8: the story
        models = probe("train", "/grader", MODELS)
        name = f"churn-{uuid.uuid4().hex[:6]}"
        last: list[dict] = []
        steps: dict[str, tuple[float, float, dict, dict]] = {}

        def model() -> dict:
            last[:] = [probe("model", name)]
            return last[0]

        def tool(key: str, actor: str, *args: str, machine: str = ws) -> dict:
            before = last[0] if last else model()
            last.clear()
            begun = time.time()
            subprocess.run(
                ["docker", "exec", "-w", PROJECT, "-e", f"REGISTRY_ACTOR={actor}", machine,
                 "python", "-m", "registry", *args],
                capture_output=True, check=False,
            )  # fmt: skip
            after = model()
            steps[key] = (begun, time.time(), before, after)
            return after

        def register(key: str, which: str, actor: str) -> str:
            lineage = {
                "git-commit": uuid.uuid4().hex[:12], "data-version": f"churn-{key}",
                "training-run": f"run-{uuid.uuid4().hex[:8]}", "author": actor,
                "roc-auc": str(models["auc"][which]),
            }  # fmt: skip
            before = set(last[0]["versions"]) if last else set(model()["versions"])
            after = tool(
                key, actor, "register", "--name", name, f"--model={MODELS}/{which}.joblib",
                *[f"--{k}={v}" for k, v in lineage.items()],
            )  # fmt: skip
            (new,) = set(after["versions"]) - before
            return new

        def promote(key: str, version: str, actor: str, approver: str = "") -> None:
            if approver:
                probe("approve", name, version, approver)
            tool(key, actor, "promote", "--name", name, "--version", version)

        def serve() -> None:
            last.clear()
            docker("exec", "-w", PROJECT, ws, "python", "serve.py", name, f"{MODELS}/input.csv")

        promote("promote-baseline", register("register-baseline", "baseline", "alice"), "dave",
                "carol")  # fmt: skip
        serve()
        promote("promote-worse", register("register-worse", "worse", "bob"), "erin", "carol")
        unapproved = register("register-unapproved", "better", "bob")
        promote("promote-unapproved", unapproved, "frank")
        probe("approve", name, unapproved, "")
        promote("promote-blank-approval", unapproved, "frank")
        promote("promote-better", register("register-better", "better", "alice"), "grace",
                "carol")  # fmt: skip
        serve()
        promote("promote-reviewed", unapproved, "frank", "carol")
        tool("rollback", "heidi", "rollback", "--name", name)
        tool("rollback-again", "heidi", "rollback", "--name", name)
        ivans = workspace("ivan")
        tool("audit", "ivan", "audit", "--name", name, machine=ivans)
        docker("rm", "-f", ivans)
        tool("rollback-nothing-left", "heidi", "rollback", "--name", name)
        probe("model", name)  # check 4 reads the registry as the story left it
        for key in ("promote-worse", "promote-unapproved", "promote-blank-approval"):  # check 6
            begun, ended, _, _ = steps[key]
            docker("logs", "--since", f"{begun:.3f}", "--until", f"{ended + 0.5:.3f}", registry)
        # 9: two registers held at a paused server, released together
        other = f"churn-{uuid.uuid4().hex[:6]}"
        docker("pause", registry)
        racing = []
        try:
            for number in range(2):
                commit = uuid.uuid4().hex[:12]
                command = [
                    "docker", "exec", "-w", PROJECT, "-e", f"REGISTRY_ACTOR=worker-{number}", ws,
                    "python", "-m", "registry", "register", "--name", other,
                    f"--model={MODELS}/baseline.joblib", f"--git-commit={commit}",
                    "--data-version=churn-concurrent", f"--training-run=run-{commit}",
                    f"--author=worker-{number}", f"--roc-auc={models['auc']['baseline']}",
                ]  # fmt: skip
                quiet = subprocess.DEVNULL
                racing.append(subprocess.Popen(command, stdout=quiet, stderr=quiet))
            probe("connections", "2", "90")
        finally:
            docker("unpause", registry)
        assert [process.wait() for process in racing] == [0, 0]
        assert len(probe("model", other)["versions"]) == 2
    finally:
        for cid in started:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "--no-prune", tag], capture_output=True, check=False)
