"""A backup's manifest of advanced/01-disaster-recovery, read and checked against the backup's
real files and the registry it copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from graders.labs.disaster_recovery.fixtures import Backup, LiveRegistry

# how far a manifest's ``created`` may be from the grader's clock
CLOCK_SLACK = timedelta(minutes=10)


def created_at(manifest: dict[str, Any]) -> datetime | None:
    """The manifest's ``created`` as an aware time (None when it is not one)."""
    try:
        moment = datetime.fromisoformat(str(manifest.get("created")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def manifest_problems(backup: Backup, files: dict[str, str], live: LiveRegistry) -> list[str]:
    """What the backup's manifest gets wrong about the backup and the registry it copies."""
    manifest = backup.manifest or {}
    problems = []
    moment = created_at(manifest)
    if moment is None or abs(datetime.now(UTC) - moment) > CLOCK_SLACK:
        problems.append(f"created {manifest.get('created')!r} is not this backup's UTC time")
    listed = {}
    for entry in manifest.get("files") or []:
        if isinstance(entry, dict) and {"path", "sha256", "size"} <= entry.keys():
            listed[str(entry["path"])] = str(entry["sha256"])
    if not listed:
        return [*problems, "files lists no {path, sha256, size} entries"]
    wrong = [path for path, digest in listed.items() if files.get(path) != digest]
    unlisted = [path for path in files if path != "manifest.json" and path not in listed]
    missing = [f"artifacts/{path}" for path in live.artifacts if f"artifacts/{path}" not in files]
    if "mlflow.db" not in listed:
        problems.append("mlflow.db is not listed")
    labelled = (
        ("wrong or missing checksums", wrong),
        ("files not listed", unlisted),
        ("artifacts of the registry not in the backup", missing),
    )
    for label, paths in labelled:
        if paths:
            problems.append(f"{label}: {', '.join(sorted(paths)[:4])}" + (" …" * (len(paths) > 4)))
    return problems
