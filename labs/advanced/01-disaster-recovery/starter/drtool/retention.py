"""Retention: keep the newest backups (by the manifest's ``created``), delete older ones."""

from __future__ import annotations

from pathlib import Path


def prune(root: Path, keep: int) -> list[Path]:
    """Delete every backup of ``root`` but the ``keep`` newest; return what was deleted."""
    raise NotImplementedError("TODO: apply retention")
