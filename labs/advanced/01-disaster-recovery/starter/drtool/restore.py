"""Restore a backup: verify every checksum first, then replace the database and the artifacts."""

from __future__ import annotations

from pathlib import Path


def restore_backup(backup: Path, db: Path, artifacts: Path) -> None:
    """Restore ``backup`` into ``db`` and ``artifacts``; raise BackupRefused (touching nothing)
    when the backup is incomplete or corrupted."""
    raise NotImplementedError("TODO: restore a backup")
