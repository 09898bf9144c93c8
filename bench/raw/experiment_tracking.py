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
from pathlib import Path

from graders.catalogue import find_lab
from graders.containers.workspace import MLFLOW_CLIENT_ENV
from graders.fixtures.mlflow import MLFLOW_PORT
from graders.labs import experiment_tracking
from graders.labs.experiment_tracking.data import validation_rows
from graders.labs.experiment_tracking.fixtures import EXPERIMENT, LOCAL_STORES
from raw._kit import (
    Raw,
    docker,
    grader_folder,
    internal_network,
    sh,
    start_mlflow,
    start_workspace,
    wait_mlflow,
)

LAB = "foundation/03-experiment-tracking"


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
