"""Take a consistent backup: SQLite's online backup API, then the artifacts, then the manifest."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from drtool.manifest import ARTIFACTS, DATABASE, describe, write_manifest

BUSY_TIMEOUT = 60.0  # seconds to wait for a writer's transaction to end


def copy_database(source: Path, target: Path) -> None:
    """Copy a live SQLite database page by page under a read transaction (never a torn copy)."""
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}")
    live = sqlite3.connect(source, timeout=BUSY_TIMEOUT)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def create_backup(db: Path, artifacts: Path, root: Path) -> Path:
    """Back up ``db`` and ``artifacts`` into a new folder of ``root``; return that folder.

    The backup is built under a hidden name and renamed when complete, so an interrupted backup
    never looks like one.
    """
    created = datetime.now(UTC)
    name = created.strftime("%Y%m%dT%H%M%S.%fZ")
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".partial-{name}"
    partial.mkdir()
    try:
        copy_database(db, partial / DATABASE)
        if artifacts.is_dir():
            shutil.copytree(artifacts, partial / ARTIFACTS, symlinks=True)
        else:
            (partial / ARTIFACTS).mkdir()
        write_manifest(partial, describe(partial, created))
        final = root / name
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final
