"""Take a consistent backup of the database and the artifacts, with a manifest."""

from __future__ import annotations

from pathlib import Path


def create_backup(db: Path, artifacts: Path, root: Path) -> Path:
    """Back up ``db`` and ``artifacts`` into a new folder of ``root``; return that folder."""
    raise NotImplementedError("TODO: back up the registry")
