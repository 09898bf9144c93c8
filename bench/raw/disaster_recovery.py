"""advanced/01 by hand: the drill on a real MLflow 3 registry, as a grading runs it. A tmpfs volume
at /drill and an internal network; a locked-down runner container with the reference mounted
(a copy of it in /work/project); the grader's MLflow server on /drill/live (as ``registry``),
filled by the probe's ``seed`` and read back (``snapshot``, ``tables``, ``tree``); then
``python -m drtool backup``, ``ls`` and ``cat manifest.json``, the backup's ``tree`` and
``tables``; a backup under writes (the probe's ``under-writes``: a writer thread and a held
half-registration around the learner's backup), ``ls`` and ``cat`` again; the disaster (server
and files gone), ``drtool restore``, a new server on the restored files waited for by /health,
and ``snapshot`` of it; the runbook read; two corrupted copies (``tree``, ``find`` for the largest
artifact, a byte flipped, ``tree`` of the target before and after a refused restore); the backup
under writes restored and its ``tables``; retention (the probe's ``plant``, ``drtool prune``,
``ls``); the runbook's own Backup and Restore commands, ``ls``, then ``tables`` and ``tree`` of
both registries.

Left out, as the harness's own bookkeeping: pytest and the report, the staged copies of the
submission (the reference is mounted read-only as it is: its files are world-readable already),
the ``ls`` before each backup (the raw side knows the folder it backs up into is new), the fresh
HOME and ``kill -1`` settling before each grader command (a reference leaves nothing running), and
the capped engine logs and run labels.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from pathlib import Path

from graders.containers.workspace import MLFLOW_CLIENT_ENV
from graders.fixtures.mlflow import MLFLOW_PORT
from graders.labs import disaster_recovery
from graders.labs.disaster_recovery.runbook import read_runbook
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

LAB = "advanced/01-disaster-recovery"
DRILL, LIVE, RESTORED = "/drill", "/drill/live", "/drill/restored"
PROJECT = "/work/project"
FLIP = (
    "python -c \"import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); "
    "b[len(b) // 2] ^= 0xFF; open(p, 'wb').write(bytes(b))\" "
)


def tool(work: str, script: str) -> subprocess.CompletedProcess[bytes]:
    """A learner's command in their project (it may fail: a refused restore)."""
    return subprocess.run(
        ["docker", "exec", "-w", PROJECT, work, "bash", "-c", script],
        capture_output=True,
        check=False,
    )


def paths(folder: str) -> str:
    """``--db … --artifacts …`` of the registry kept in ``folder``."""
    return f"--db {folder}/mlflow.db --artifacts {folder}/artifacts"


def backup(work: str, root: str, under_writes: bool = False) -> str:
    """``drtool backup`` of the live registry into ``root`` (under writes: in the probe's
    ``under-writes``), then ``ls`` and ``cat manifest.json``; the new folder."""
    command = f"python -m drtool backup {paths(LIVE)} --dest {root}"
    if under_writes:
        sh(work, "python /grader/probe.py under-writes /drill/live/mlflow.db 3.0 -- bash -c "
           + shlex.quote(f"cd {PROJECT} && {command}"))  # fmt: skip
    else:
        sh(work, command, cwd=PROJECT)
    folder = f"{root}/{sh(work, f'ls -1 {root}').split()[0]}"
    json.loads(sh(work, f"cat {folder}/manifest.json"))
    return folder


def corrupt_and_restore(work: str, backup_folder: str, relative: str, name: str) -> None:
    """A copy of the backup with a byte of ``relative`` flipped, restored onto a registry."""
    copy, target = f"{DRILL}/corrupt-{name}", f"{DRILL}/refused-{name}"
    sh(work, f"cp -a {backup_folder} {copy} && {FLIP}{shlex.quote(f'{copy}/{relative}')} && "
       f"mkdir -p {target}/artifacts/0 && echo 'the registry before the restore' > "
       f"{target}/mlflow.db && echo keep > {target}/artifacts/0/keep.txt", cwd="/tmp")  # fmt: skip
    before = sh(work, f"python /grader/probe.py tree {target}")
    done = tool(work, f"python -m drtool restore {copy} {paths(target)}")
    assert done.returncode != 0
    assert sh(work, f"python /grader/probe.py tree {target}") == before


def drill(raw: Raw, work: str, network: str, volume: str) -> None:
    """The drill, in the order the checks ask for it."""
    probe_ = "python /grader/probe.py"
    live = start_mlflow(raw.runner, network, LIVE, aliases=("registry",), volume=(volume, DRILL))
    restored = ""
    try:
        wait_mlflow(live)
        for command in ("seed", "snapshot", f"tables {LIVE}/mlflow.db", f"tree {LIVE}/artifacts"):
            sh(work, f"{probe_} {command}")
        first = backup(work, f"{DRILL}/backups")
        sh(work, f"{probe_} tree {first}")
        sh(work, f"{probe_} tables {first}/mlflow.db")
        under = backup(work, f"{DRILL}/backups-under-writes", under_writes=True)
        # the disaster, the restore and the new server (the recovery time)
        docker("rm", "-f", live)
        sh(work, f"rm -rf {LIVE}", cwd="/tmp")
        sh(work, f"python -m drtool restore {first} {paths(RESTORED)}", cwd=PROJECT)
        restored = start_mlflow(
            raw.runner, network, RESTORED, aliases=("registry",), volume=(volume, DRILL)
        )
        wait_mlflow(restored)
        sh(work, f"{probe_} snapshot")
        runbook = read_runbook((raw.solution / "RUNBOOK.md").read_text(encoding="utf-8"))
        # corrupted copies: the database, then the largest artifact
        sh(work, f"{probe_} tree {first}")
        sizes = sh(work, f"cd {first} && find artifacts -type f -printf '%s %p\\n' | sort -n")
        corrupt_and_restore(work, first, "mlflow.db", "database")
        corrupt_and_restore(work, first, sizes.split()[-1], "artifact")
        # the backup taken under writes, restored and inspected
        sh(work, f"python -m drtool restore {under} {paths(f'{DRILL}/consistent')}", cwd=PROJECT)
        sh(work, f"{probe_} tables {DRILL}/consistent/mlflow.db")
        # retention
        keep = runbook.retention()
        assert keep is not None
        sh(work, f"{probe_} plant {DRILL}/retention {first} {keep + 3}")
        sh(work, f"python -m drtool prune {DRILL}/retention --keep {keep}", cwd=PROJECT)
        sh(work, f"ls -1 {DRILL}/retention")
        # the runbook's own commands: back up the restored registry, restore it elsewhere
        backups, target = f"{DRILL}/runbook-backups", f"{DRILL}/runbook-restored"
        exports = (
            f"export MLFLOW_DB={RESTORED}/mlflow.db MLFLOW_ARTIFACTS={RESTORED}/artifacts "
            f"BACKUP_ROOT={backups}; "
        )
        for command in runbook.commands("Backup"):
            sh(work, exports + command, cwd=PROJECT)
        newest = sorted(sh(work, f"ls -1 {backups}").split())[-1]
        exports = (
            f"export MLFLOW_DB={target}/mlflow.db MLFLOW_ARTIFACTS={target}/artifacts "
            f"BACKUP_ROOT={backups} BACKUP={backups}/{newest}; "
        )
        for command in runbook.commands("Restore procedure"):
            sh(work, exports + command, cwd=PROJECT)
        for folder in (target, RESTORED):
            sh(work, f"{probe_} tables {folder}/mlflow.db")
            sh(work, f"{probe_} tree {folder}/artifacts")
    finally:
        for server in (live, restored):
            if server:
                docker("rm", "-f", server)


def run(raw: Raw) -> None:
    """The disaster-recovery lab's grading, by hand."""
    folder = grader_folder(raw.work, Path(disaster_recovery.__file__).with_name("probe.py"))
    for path in folder.iterdir():
        path.chmod(0o644)
    volume = f"bench-raw-drill-{uuid.uuid4().hex[:8]}"
    docker(
        "volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
        "--opt", "o=size=768m,uid=10001,gid=10001", volume,
    )  # fmt: skip
    try:
        with internal_network() as network:
            env = {**MLFLOW_CLIENT_ENV, "MLFLOW_TRACKING_URI": f"http://registry:{MLFLOW_PORT}",
                   "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
            work = start_workspace(
                raw.runner, network, {raw.solution: "/submission", folder: "/grader"}, env,
                volume=(volume, DRILL),
            )  # fmt: skip
            try:
                sh(work, f"cp -a /submission {PROJECT} && mkdir -p {LIVE}/artifacts", cwd="/tmp")
                drill(raw, work, network, volume)
            finally:
                docker("rm", "-f", work)
    finally:
        docker("volume", "rm", "-f", volume)
