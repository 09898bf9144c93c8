"""Restore a backup: verify every checksum first, then replace the database and the artifacts."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from drtool.manifest import ARTIFACTS, DATABASE, BackupRefused, read_manifest, verify


def restore_backup(backup: Path, db: Path, artifacts: Path) -> None:
    """Restore ``backup`` into ``db`` and ``artifacts``; refused (nothing touched) when the
    backup is incomplete, corrupted or its database fails SQLite's integrity check."""
    manifest = read_manifest(backup)
    verify(backup, manifest)
    db.parent.mkdir(parents=True, exist_ok=True)
    staged_db = db.with_name(f".restoring-{db.name}")
    shutil.copyfile(backup / DATABASE, staged_db)
    try:
        check = sqlite3.connect(staged_db)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            check.close()
        if verdict != "ok":
            raise BackupRefused(f"{backup / DATABASE} fails SQLite's integrity check: {verdict}")
        staged_artifacts = artifacts.with_name(f".restoring-{artifacts.name}")
        shutil.rmtree(staged_artifacts, ignore_errors=True)
        source = backup / ARTIFACTS
        if source.is_dir():
            shutil.copytree(source, staged_artifacts, symlinks=True)
        else:
            staged_artifacts.mkdir(parents=True)
    except BaseException:
        staged_db.unlink(missing_ok=True)
        raise
    # everything is verified and staged: swap it in
    retired = artifacts.with_name(f".retired-{artifacts.name}")
    shutil.rmtree(retired, ignore_errors=True)
    if artifacts.exists():
        artifacts.rename(retired)
    staged_artifacts.rename(artifacts)
    staged_db.replace(db)
    for stale in (db.with_name(db.name + "-journal"), db.with_name(db.name + "-wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(retired, ignore_errors=True)
