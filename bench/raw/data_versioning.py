"""foundation/02-data-versioning by hand, in one runner container under the workspace's limits:
the reference's STEPS.sh (git init, dvc init, dvc add, dvc repro, dvc push, git commit) on a
copy of solution/, then what the grading does to that repository: a clone read by git and the
probe (check 1), a clone beside a copy of the remote with dvc pull (2), a copy with dvc repro and
dvc status (4), a param change and dvc repro (5), dvc metrics show and the holdout AUC (6), a
second dvc repro --force (7), this run's hidden rows appended, dvc add and dvc repro (8), each
probe run as often as the grading runs it.

Left out, as the harness's own safety and bookkeeping: exporting the made repository to the host,
staging it (twice) and mounting it read-only into a second container (here the clones are made
straight from the repository STEPS.sh made, in the same container: a clone still gets only what
git holds, and the remote is still copied next to it); git's safe.directory setup (the repository
here is the sandbox user's own); the fresh HOME and the settling kill before each probe; the
pytest child and its report. Commands with no output the next one needs share one docker exec.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import uuid
from pathlib import Path

import graders.labs.data_versioning as lab_package
from graders.catalogue import find_lab
from graders.containers import probe_cli
from graders.labs._shared.churn import churn_rows
from graders.labs.data_versioning.checks import (
    BIG_BLOB_BYTES,
    CHANGED_PARAM,
    HOLDOUT_FILE,
    LABEL,
    MODEL_FILE,
)
from graders.labs.data_versioning.data import HIDDEN_CSV, HIDDEN_FIRST_ID, HIDDEN_ROWS, hidden_seed
from graders.labs.data_versioning.fixtures import RAW, git_blob_id
from graders.labs.data_versioning.stages import METRICS_FILE
from raw._kit import Box, Raw, docker

LAB = "foundation/02-data-versioning"
ENV = {
    "HOME": "/tmp",
    "DVC_NO_ANALYTICS": "1",
    "DVC_SITE_CACHE_DIR": "/tmp/dvc-site",
    "GIT_TERMINAL_PROMPT": "0",
}


def grader_folder(work: Path) -> Path:
    """The probe (with probe_cli.py) and this run's hidden rows, readable by the sandbox user."""
    folder = work / "grader"
    folder.mkdir()
    shutil.copy(Path(lab_package.__file__).with_name("probe.py"), folder / "probe.py")
    shutil.copy(probe_cli.__file__, folder / "probe_cli.py")
    rows = churn_rows(hidden_seed(uuid.uuid4().hex[:12]), HIDDEN_ROWS, first_id=HIDDEN_FIRST_ID)
    (folder / HIDDEN_CSV).write_text("\n".join(rows) + "\n")
    for path in (folder, *folder.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def run(raw: Raw) -> None:
    """The data-versioning lab's grading, by hand."""
    os.chmod(raw.work, 0o755)
    grader = grader_folder(raw.work)
    name = f"bench-raw-dvc-{uuid.uuid4().hex[:8]}"
    env = [arg for key, value in ENV.items() for arg in ("-e", f"{key}={value}")]
    docker(
        "run", "-d", "--name", name, "--user", "10001:10001", "--read-only",
        "--tmpfs", "/tmp:rw,size=256m", "--tmpfs", "/work:rw,exec,size=1g,mode=1777",
        "--network", "none", "--cpus", "2", "--memory", "3g", "--memory-swap", "3g",
        "--pids-limit", "256", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        *env, "-v", f"{raw.solution}:/source:ro", "-v", f"{grader}:/grader:ro",
        raw.runner, "sleep", "infinity",
    )  # fmt: skip
    try:
        grade(Box(name), (find_lab(LAB).starter / RAW).read_bytes())
    finally:
        docker("rm", "-f", name)


def grade(box: Box, shipped: bytes) -> None:
    """The learner's steps, then every check's commands and probes, in the grading's order."""
    box.sh("cp -r /source /work/repo && rm /work/repo/STEPS.sh && cd /work/repo "
           "&& bash /source/STEPS.sh")  # fmt: skip
    repo = "/work/repo"
    # check 1: a fresh clone, what DVC and git hold
    box.sh(f"git -C {repo} rev-parse --verify HEAD && git clone -q {repo} /work/committed")
    committed = "/work/committed"
    box.sh("test -f .dvc/config", committed)
    pipeline = box.probe(committed, "pipeline")
    assert isinstance(pipeline, dict)
    box.sh(
        f"! git ls-files --error-unmatch {RAW} 2>/dev/null "
        f"&& ! git cat-file -e {git_blob_id(shipped)} 2>/dev/null "
        "&& git rev-list --objects --all "
        "| git cat-file --batch-check='%(objecttype) %(objectsize) %(rest)' "
        f"| awk '$1 == \"blob\" && $2 > {BIG_BLOB_BYTES} {{print $3}}'",
        committed,
    )
    # check 2: a clone beside a copy of its remote, dvc pull of the raw data
    box.sh(f"git clone -q {repo} /work/pulled")
    pulled = "/work/pulled"
    remote = box.probe(pulled, "remote")
    assert isinstance(remote, dict)
    inside = str(remote["path"]).removeprefix(pulled + "/")
    tracker = next(
        t["file"] for t in pipeline["tracked"] for out in t["outs"] if RAW.startswith(out)
    )
    box.sh(
        f"test -d {repo}/{inside} && mkdir -p {inside} && cp -r {repo}/{inside}/. {inside}/ "
        f"&& dvc pull {shlex.quote(tracker)}",
        pulled,
    )
    restored = box.probe(pulled, "hash", RAW)
    assert isinstance(restored, dict) and restored[RAW] == hashlib.md5(shipped).hexdigest()
    # check 4: dvc repro in a copy, the lock before and after, dvc status
    reproduced = copy(box, pulled, "reproduced")
    box.probe(reproduced, "lock")
    box.sh("dvc repro", reproduced)
    box.probe(reproduced, "lock")
    status = json.loads(box.sh("dvc status --json", reproduced) or "{}")
    assert status == {}, status
    # check 5: a training param changed, dvc repro
    changed = copy(box, reproduced, "param-change")
    before = box.probe(changed, "hash", METRICS_FILE)
    current = box.probe(changed, "get-param", CHANGED_PARAM)
    new = current + 10 if isinstance(current, int) else 50
    box.probe(changed, "set-param", CHANGED_PARAM, str(new))
    ran = box.sh("dvc repro", changed)
    assert "Running stage 'prepare'" not in ran and "Running stage 'train'" in ran, ran
    assert box.probe(changed, "hash", METRICS_FILE) != before
    # check 6: dvc metrics show, the grader's own AUC of the model on the holdout
    shown = json.loads(box.sh("dvc metrics show --json", reproduced))
    assert shown, shown
    box.probe(reproduced, "holdout-auc", MODEL_FILE, HOLDOUT_FILE, LABEL)
    # check 7: a second reproduction, byte for byte
    outputs = [out["path"] for stage in pipeline["stages"] for out in stage["outs"]]
    first = box.probe(reproduced, "hash", *outputs)
    again = copy(box, reproduced, "again")
    box.sh("dvc repro --force", again)
    assert box.probe(again, "hash", *outputs) == first
    # check 8: this run's hidden rows appended to the raw data, dvc add, dvc repro
    new_data = copy(box, reproduced, "new-data")
    before = box.probe(new_data, "hash", METRICS_FILE)
    target = shlex.quote(RAW)
    box.sh(
        f"dvc unprotect {target} && cat /grader/{HIDDEN_CSV} >> {RAW} && dvc add {target}",
        new_data,
    )
    ran = box.sh("dvc repro", new_data)
    assert ran.count("Running stage") == 3, ran
    assert box.probe(new_data, "hash", METRICS_FILE) != before


def copy(box: Box, clone: str, name: str) -> str:
    """``cp -a`` of a clone (its DVC cache, outputs and all) for one check to change."""
    box.sh(f"cp -a {clone} /work/{name}")
    return f"/work/{name}"
