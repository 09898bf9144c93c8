"""foundation/04-retraining-pipeline by hand, in one runner container under the workspace's limits:
the reference's code copied with the starter's data put back, ``python -m pipeline run`` under
the lab's watching probe on the starter data, the lab's own first model trained and scored; then,
each on a copy of a project, a run with a good hidden batch (check 2), with the bad, cut,
duplicate and good batches (3), with the two flipped ones (4), with no new data (5), two runs
killed (after 0.7 of the time to the model write, and at the write) each followed by a run (6),
and the crontab's job run as cron would, then the probe's look (7). Every pipeline run goes
through the probe, as in a grading: it watches models/current, kills when asked and reports what
the project holds (the checks need all of it).

Left out, as the harness's own safety and bookkeeping: staging a world-readable copy of the
reference on the host (solution/ is mounted read-only as it is; the grading's copy leaves out
only .git, which it has not); the fresh HOME and the settling kill before each probe; the pytest
child and its report. The hidden batches are made afresh each run (their cache is cleared), as
each grading's own process makes them once.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import uuid
from pathlib import Path
from typing import Any

from graders.catalogue import find_lab
from graders.containers import probe_cli
from graders.labs.retraining_pipeline import probe as lab_probe
from graders.labs.retraining_pipeline.crontab import parse_crontab
from graders.labs.retraining_pipeline.data import Batch, hidden_batches
from graders.labs.retraining_pipeline.fixtures import HOLDOUT, KILL_FRACTION, RUN_TIMEOUT, STATE
from graders.labs.retraining_pipeline.schedule import job_script
from raw._kit import Box, Raw, docker

LAB = "foundation/04-retraining-pipeline"
SCHEDULE = "schedule.cron"
FIRST_MODEL = (  # the lab's own model.fit on data/training/ alone, scored by model.auc
    "import sys; sys.path.insert(0, '/grader/lab_model'); import model; "
    "from pathlib import Path; print(model.auc(model.fit(model.read([Path('/grader/data/"
    "training/base.csv')])), model.read([Path('/grader/holdout.csv')])))"
)


def grader_folder(work: Path, starter: Path) -> tuple[Path, dict[str, Batch]]:
    """The probe (with probe_cli.py), the starter's data and holdout, the lab's model.py and the
    hidden batches, readable by the sandbox user."""
    folder = work / "grader"
    (folder / "batches").mkdir(parents=True)
    shutil.copy(lab_probe.__file__, folder / "probe.py")
    shutil.copy(probe_cli.__file__, folder / "probe_cli.py")
    shutil.copytree(starter / "data", folder / "data")
    shutil.copy(starter / "data" / "holdout.csv", folder / "holdout.csv")
    (folder / "lab_model").mkdir()
    shutil.copy(starter / "pipeline" / "model.py", folder / "lab_model" / "model.py")
    hidden_batches.cache_clear()
    hidden = hidden_batches()
    for batch in hidden.values():
        (folder / "batches" / batch.file).write_bytes(batch.content)
    for here, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(here, name), 0o755)
        for name in files:
            os.chmod(os.path.join(here, name), 0o644)
    return folder, hidden


def run(raw: Raw) -> None:
    """The retraining-pipeline lab's grading, by hand."""
    os.chmod(raw.work, 0o755)
    grader, hidden = grader_folder(raw.work, find_lab(LAB).starter)
    name = f"bench-raw-retrain-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "-d", "--name", name, "--user", "10001:10001", "--read-only",
        "--tmpfs", "/tmp:rw,size=256m", "--tmpfs", "/work:rw,exec,size=2g,mode=1777",
        "--network", "none", "--cpus", "2", "--memory", "3g", "--memory-swap", "3g",
        "--pids-limit", "256", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "-e", "HOME=/tmp", "-e", "PYTHONDONTWRITEBYTECODE=1",
        "-v", f"{raw.solution}:/submission:ro", "-v", f"{grader}:/grader:ro",
        raw.runner, "sleep", "infinity",
    )  # fmt: skip
    try:
        grade(Box(name), hidden, (raw.solution / SCHEDULE).read_text())
    finally:
        docker("rm", "-f", name)


def copy(box: Box, source: str, name: str, *batches: Batch) -> str:
    """``cp -a`` of a project for one check, with ``batches`` dropped into data/incoming/."""
    target = f"/work/{name}"
    script = f"cp -a {source} {target}"
    if batches:
        copies = " && ".join(f"cp /grader/batches/{b.file} data/incoming/{b.name}" for b in batches)
        script += f" && cd {target} && mkdir -p data/incoming && {copies} "
        script += "&& chmod u+w data/incoming/*"
    box.sh(script)
    return target


def probe(
    box: Box, command: str, project: str, *flags: str, watched: tuple[Batch, ...] = ()
) -> Any:
    """The lab's probe on ``project`` (``run``: the pipeline once under watch; ``state``: a
    look), following the ``watched`` batches; its JSON."""
    line = ["python", "/grader/probe.py", command, project, f"--holdout={HOLDOUT}", *flags]
    line += [f"--batch=/grader/batches/{b.file}" for b in watched]
    found = json.loads(box.sh(shlex.join(line)).strip().splitlines()[-1])
    if found.get("run") and not found["run"]["killed"]:
        assert found["run"]["exit_code"] == 0, found["run"]["output"]
    return found


def grade(box: Box, hidden: dict[str, Batch], crontab: str) -> None:
    """Every check's runs, in the grading's order."""
    timeout = f"--timeout={RUN_TIMEOUT}"
    # check 1: the reference's code, the starter's data, the first run; the lab's first model
    box.sh(
        f"cp -a /submission /work/first && cd /work/first && rm -rf {' '.join(STATE)} "
        "&& cp -a /grader/data data && chmod -R u+w ."
    )
    probe(box, "run", "/work/first", timeout)
    float(box.sh(f"python -I -c {shlex.quote(FIRST_MODEL)}").strip().splitlines()[-1])
    # check 2: a good batch
    good = hidden["good"]
    calibration = probe(
        box, "run", copy(box, "/work/first", "good", good), timeout, watched=(good,)
    )
    # check 3: batches that break the contract, a cut one, a duplicate, good ones
    bad = [batch for role, batch in hidden.items() if role.startswith("bad-")]
    bad += [hidden["cut"], hidden["duplicate"], hidden["good-among-bad"], hidden["name-taken"]]
    probe(box, "run", copy(box, "/work/first", "quarantine", *bad), timeout, watched=tuple(bad))
    # check 4: two flipped batches, either side of the gate's tolerance
    flipped = (hidden["poisoned"], hidden["worse-within-tolerance"])
    probe(box, "run", copy(box, "/work/first", "poisoned", *flipped), timeout, watched=flipped)
    # check 5: no new data
    probe(box, "run", copy(box, "/work/good", "idle"), timeout)
    # check 6: a run killed while it trains, one killed at its model write; each then run again
    until_write = calibration["run"]["first_model_write"] or calibration["run"]["seconds"]
    kills = ([f"--kill-after={KILL_FRACTION * until_write:.3f}"], ["--kill-on-model-write"])
    for number, how in enumerate(kills):
        project = copy(box, "/work/first", f"killed-{number}", good)
        probe(box, "run", project, timeout, *how, watched=(good,))
        probe(box, "run", project, timeout, watched=(good,))
    # check 7: the crontab's one job, run as cron would, then a look at the project
    _, (job,) = parse_crontab(crontab)
    scheduled = hidden["scheduled"]
    project = copy(box, "/work/first", "scheduled", scheduled)
    script, _ = job_script(job, project)
    box.sh(script, cwd="/tmp")
    looked = probe(box, "state", project, watched=(scheduled,))
    assert any(e.get("batch") == scheduled.name for e in looked["state"]["history"]["entries"])
