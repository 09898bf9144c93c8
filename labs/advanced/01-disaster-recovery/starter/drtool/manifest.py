"""The manifest of a backup: what it holds, when it was taken, and a checksum per file."""

from __future__ import annotations

from typing import Any
from pathlib import Path

MANIFEST = "manifest.json"
DATABASE = "mlflow.db"
ARTIFACTS = "artifacts"


class BackupRefused(Exception):
    """The backup cannot be used: nothing was touched."""


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest; raise BackupRefused when it is missing or is not one."""
    raise NotImplementedError("TODO: read manifest.json")


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Raise BackupRefused unless every listed file is there with its size and checksum."""
    raise NotImplementedError("TODO: verify the checksums")
