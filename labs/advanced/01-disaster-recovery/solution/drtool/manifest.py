"""The manifest of a backup: what it holds, when it was taken, and a checksum per file."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
DATABASE = "mlflow.db"
ARTIFACTS = "artifacts"


class BackupRefused(Exception):
    """The backup cannot be used: nothing was touched."""


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe(folder: Path, created: datetime) -> dict[str, Any]:
    """The manifest of every file under ``folder`` (paths relative, with /)."""
    files = [
        {"path": path.relative_to(folder).as_posix(), "sha256": sha256_of(path),
         "size": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    ]
    return {"created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "files": files}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` into the backup folder."""
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest; refused when it is missing or is not one."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        datetime.fromisoformat(manifest["created"])
        list(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupRefused(f"{folder / MANIFEST} is missing or unreadable ({error})") from None
    return dict(manifest)


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse the backup unless every listed file is there with its size and checksum."""
    bad = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file():
            bad.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
            bad.append(f"{entry['path']}: checksum mismatch")
    if not any(entry["path"] == DATABASE for entry in manifest["files"]):
        bad.append(f"{DATABASE}: not in the manifest")
    if bad:
        raise BackupRefused(f"backup {folder} failed verification: " + "; ".join(bad))
