"""The disaster-recovery lab's probe: runs in the sandbox, prints one JSON line.

    python probe.py seed                 fill the server ($MLFLOW_TRACKING_URI) with the registry
    python probe.py snapshot             read back everything the registry holds, through the API
    python probe.py tables DB            a digest per registry table of a SQLite file, its health
    python probe.py tree FOLDER          {relative path: sha256} of every file under FOLDER
    python probe.py under-writes DB HOLD -- COMMAND...
                                         run COMMAND while the server registers versions and a
                                         transaction holds half a registration for HOLD seconds
    python probe.py plant ROOT BACKUP N  make N dated copies of BACKUP in ROOT, and two non-backups

Standard library and MLflow only (the runner image's).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

HALF_REGISTERED = "half-registered"  # the model the held transaction never commits
UNDER_LOAD = "registered-under-load"  # the model the writer registers versions of
REGISTRY_TABLES = (
    "experiments",
    "runs",
    "params",
    "metrics",
    "tags",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
)
Model = tuple[str, dict[str, str], list[tuple[int, dict[str, str]]], dict[str, str]]
MODELS: dict[str, Model] = {  # name: (description, tags, [(run, version tags)], {alias: version})
    "fraud-detector": (
        "Scores card transactions for fraud.",
        {"team": "risk", "tier": "critical"},
        [(0, {"validated": "true"}), (1, {"validated": "true"}), (2, {"validated": "false"})],
        {"champion": "2", "challenger": "3"},
    ),
    "churn-predictor": (
        "Monthly churn propensity.",
        {"team": "growth"},
        [(3, {"dataset": "2026-10"}), (4, {"dataset": "2026-11"})],
        {"champion": "1"},
    ),
    "demand-forecast": ("", {"team": "supply", "status": "experimental"}, [(5, {})], {}),
}


class Seeded(TypedDict):
    """What ``seed`` returns: how many experiments, runs and models it made."""

    experiments: int
    runs: int
    models: int


class Snapshot(TypedDict):
    """What ``snapshot`` returns: everything a restore must bring back, keyed by names."""

    models: dict[str, Any]  # name: description and tags
    versions: dict[str, Any]  # "name/version": source, run, status, tags
    aliases: dict[str, dict[str, str]]  # name: {alias: version}
    runs: dict[str, Any]  # run id: name, params, tags, metric histories
    artifacts: dict[str, str]  # "run id/path": sha256


class Tables(TypedDict, total=False):
    """What ``tables`` returns: whether the file exists, then SQLite's verdict (or ``error``)
    and a digest and row count per registry table."""

    exists: bool
    error: str
    integrity: str
    foreign_key_errors: int
    digests: dict[str, str]
    counts: dict[str, int]
    models: list[str]
    statuses: list[str]


class UnderWrites(TypedDict):
    """What ``under-writes`` returns: how the command ended (exit None: killed after 120 s),
    and how many versions the writer registered meanwhile."""

    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    versions_written: int


class Planted(TypedDict):
    """What ``plant`` returns: the planted backups' ``created`` by folder, and the others."""

    created: dict[str, str]
    others: list[str]


def seed() -> Seeded:
    """Two experiments, six runs (params, metric histories, tags, artifacts), three models."""
    from mlflow import MlflowClient

    client = MlflowClient()
    rng = random.Random(10_001)
    experiments = [client.create_experiment(name) for name in ("fraud", "customers")]
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(6):
            run = client.create_run(
                experiments[index // 3],
                run_name=f"train-{index}",
                tags={"git_commit": f"{rng.getrandbits(40):010x}"},
            )
            run_id = run.info.run_id
            client.log_param(run_id, "learning_rate", str(0.01 * (index + 1)))
            client.log_param(run_id, "max_depth", str(3 + index))
            for step in range(8):
                client.log_metric(run_id, "loss", round(1.0 / (step + 1 + index), 6), step=step)
            client.log_metric(run_id, "auc", round(0.7 + index / 50, 4))
            model = Path(scratch) / f"run{index}"
            (model / "model" / "plots").mkdir(parents=True)
            (model / "model" / "model.bin").write_bytes(rng.randbytes(48_000 + 4_000 * index))
            (model / "model" / "MLmodel").write_text(f"run: {index}\nflavor: binary\n")
            (model / "model" / "plots" / "roc.csv").write_text(
                "\n".join(f"{i / 20},{rng.random():.6f}" for i in range(21)) + "\n"
            )
            client.log_artifacts(run_id, str(model), "")
            client.set_terminated(run_id)
            runs.append(run)
    for name, (description, tags, versions, aliases) in MODELS.items():
        client.create_registered_model(name, tags=tags, description=description or None)
        for index, version_tags in versions:
            run = runs[index]
            client.create_model_version(
                name, f"{run.info.artifact_uri}/model", run.info.run_id, tags=version_tags
            )
        for alias, version in aliases.items():
            client.set_registered_model_alias(name, alias, version)
    return Seeded(experiments=len(experiments), runs=len(runs), models=len(MODELS))


def snapshot() -> Snapshot:
    """Everything a restore must bring back, keyed by names, read through the server."""
    from mlflow import MlflowClient

    client = MlflowClient()
    state = Snapshot(models={}, versions={}, aliases={}, runs={}, artifacts={})
    for model in client.search_registered_models():
        name = model.name
        state["models"][name] = {"description": model.description or "", "tags": model.tags}
        state["aliases"][name] = dict(sorted(model.aliases.items()))
        for version in client.search_model_versions(f"name='{name}'"):
            state["versions"][f"{name}/{version.version}"] = {
                "source": version.source,
                "run_id": version.run_id,
                "status": version.status,
                "tags": version.tags,
            }
    experiments = client.search_experiments()
    ids = [experiment.experiment_id for experiment in experiments]
    with tempfile.TemporaryDirectory() as scratch:
        for run in client.search_runs(ids, max_results=1000):
            run_id = run.info.run_id
            state["runs"][run_id] = {
                "name": run.info.run_name,
                "params": run.data.params,
                "tags": run.data.tags,
                "metrics": {
                    key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
                    for key in sorted(run.data.metrics)
                },
            }
            target = Path(scratch) / run_id
            client.download_artifacts(run_id, "", str(target))
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    state["artifacts"][f"{run_id}/{path.relative_to(target).as_posix()}"] = (
                        sha256_of(path)
                    )
    return state


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(db: str) -> Tables:
    """A digest of each registry table's rows, and what SQLite thinks of the file."""
    if not Path(db).is_file():
        return Tables(exists=False)
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        foreign = len(connection.execute("PRAGMA foreign_key_check").fetchall())
        digests, counts = {}, {}
        for table in REGISTRY_TABLES:
            rows = sorted(repr(row) for row in connection.execute(f"SELECT * FROM {table}"))
            digests[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            counts[table] = len(rows)
        models = [row[0] for row in connection.execute("SELECT name FROM registered_models")]
        statuses = sorted(
            {row[0] for row in connection.execute("SELECT status FROM model_versions")}
        )
        connection.close()
    except sqlite3.Error as error:
        return Tables(exists=True, error=str(error))
    return Tables(
        exists=True,
        integrity=integrity,
        foreign_key_errors=foreign,
        digests=digests,
        counts=counts,
        models=sorted(models),
        statuses=statuses,
    )


def tree(folder: str) -> dict[str, str]:
    """{relative path: sha256} of the files under ``folder`` ({} when there is none)."""
    root = Path(folder)
    files = {}
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                files[path.relative_to(root).as_posix()] = sha256_of(path)
            elif path.is_symlink():
                files[path.relative_to(root).as_posix()] = "-> " + os.readlink(path)
    return files


def under_writes(db: str, hold: float, *command: str) -> UnderWrites:
    """Run ``command`` (the learner's backup) while the registry is being written to.

    A thread registers versions through the server all along. A second connection opens a
    transaction that registers a model and a version (and enough tags to spill pages into the
    database file), holds it ``hold`` seconds, then rolls it back: a consistent backup never holds
    ``HALF_REGISTERED``. The command starts once the transaction holds the file.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    client.create_registered_model(UNDER_LOAD)
    source = "mlflow-artifacts:/0/under-load/artifacts/model"
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            try:
                client.create_model_version(UNDER_LOAD, source, tags={"n": str(written[0])})
                written[0] += 1
            except Exception:  # noqa: BLE001 - the server may time out while the file is locked
                time.sleep(0.05)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.5)
    holder = hold_half_registration(db)
    started = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(max(0.0, hold - (time.monotonic() - started)))
    holder.execute("ROLLBACK")
    holder.close()
    try:
        stdout, stderr = child.communicate(timeout=120)
        code = child.returncode
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
        code = None
    seconds = round(time.monotonic() - started, 3)
    time.sleep(0.5)
    stop.set()
    writer.join(timeout=30)
    return UnderWrites(
        exit_code=code,
        stdout=stdout[-2000:],
        stderr=stderr[-2000:],
        seconds=seconds,
        versions_written=written[0],
    )


def hold_half_registration(db: str) -> sqlite3.Connection:
    """Open a transaction that registers ``HALF_REGISTERED`` (a model, 300 tags, a pending
    version) with a cache so small that its pages spill into the database file; the caller
    rolls it back."""
    holder = sqlite3.connect(db, timeout=30, isolation_level=None)
    holder.execute("PRAGMA cache_size=10")  # spill: uncommitted pages reach the file
    holder.execute("BEGIN IMMEDIATE")
    now = int(time.time() * 1000)
    holder.execute(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
        "VALUES (?, ?, ?, 'never committed')",
        (HALF_REGISTERED, now, now),
    )
    for index in range(300):
        holder.execute(
            "INSERT INTO registered_model_tags (key, value, name) VALUES (?, ?, ?)",
            (f"k{index}", "x" * 1000, HALF_REGISTERED),
        )
    holder.execute(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, status, "
        "source, current_stage) VALUES (?, 1, ?, ?, 'PENDING_REGISTRATION', 's', 'None')",
        (HALF_REGISTERED, now, now),
    )
    return holder


def plant(root: str, backup: str, count: int) -> Planted:
    """Copy ``backup`` ``count`` times into ``root`` with ``created`` a day apart (names and
    modification times in another order), plus a folder and a file that are not backups."""
    target = Path(root)
    target.mkdir(parents=True)
    rng = random.Random(count)
    base = datetime(2026, 6, 1, 2, 15, tzinfo=UTC)
    order = list(range(count))
    rng.shuffle(order)
    created = {}
    for position, day in enumerate(order):
        name = f"backup-{rng.getrandbits(32):08x}"
        copy = target / name
        shutil.copytree(backup, copy, symlinks=True)
        manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
        moment = base + timedelta(days=day)
        manifest["created"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        (copy / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        stamp = (base + timedelta(days=count - position)).timestamp()
        os.utime(copy, (stamp, stamp))
        created[name] = manifest["created"]
    (target / "notes").mkdir()
    (target / "notes" / "README.txt").write_text("not a backup\n")
    (target / "restore-log.txt").write_text("not a backup either\n")
    return Planted(created=created, others=["notes", "restore-log.txt"])


if __name__ == "__main__":
    from probe_cli import serve

    serve(
        {
            "seed": seed,
            "snapshot": snapshot,
            "tables": tables,
            "tree": tree,
            "under-writes": under_writes,
            "plant": plant,
        },
        sort_keys=True,
    )
