"""Retention: keep the newest backups (by the manifest's ``created``), delete older ones."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from drtool.manifest import MANIFEST, read_manifest


def backups_newest_first(root: Path) -> list[Path]:
    """The backup folders of ``root`` (those with a readable manifest), newest first."""
    found = []
    for folder in root.iterdir():
        if folder.is_dir() and not folder.is_symlink() and (folder / MANIFEST).is_file():
            created = datetime.fromisoformat(read_manifest(folder)["created"])
            found.append((created, folder))
    return [folder for _, folder in sorted(found, key=lambda pair: pair[0], reverse=True)]


def prune(root: Path, keep: int) -> list[Path]:
    """Delete every backup of ``root`` but the ``keep`` newest; return what was deleted.

    Anything that is not a backup (no manifest) is left alone.
    """
    if keep < 1:
        raise ValueError("keep at least one backup")
    doomed = backups_newest_first(root)[keep:]
    for folder in doomed:
        shutil.rmtree(folder)
    return doomed
