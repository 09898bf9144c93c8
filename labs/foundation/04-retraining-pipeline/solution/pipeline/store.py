"""Where models live: one folder per version in models/, and models/current, a relative link to
the version being served. Promotion swaps the link with one rename, so a reader of models/current
sees the old model or the new one, never a mix, a gap or a half-written file."""

import json
import os
import shutil
from pathlib import Path

import joblib
from sklearn.pipeline import Pipeline

TEMPORARY = ".tmp-"


def clean_leftovers(root: Path) -> None:
    """Remove what a run that was killed left half-done (temporary files and folders)."""
    for leftover in [*root.glob(f"models/{TEMPORARY}*"), *root.glob(f"data/*/{TEMPORARY}*")]:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def current(root: Path) -> tuple[str, Pipeline] | None:
    """The version being served and its model, or None before the first promotion."""
    link = root / "models" / "current"
    if not link.exists():
        return None
    return os.readlink(link), joblib.load(link / "model.joblib")


def promote(root: Path, model: Pipeline, metadata: dict) -> str:
    """Store ``model`` as a new version and serve it; return the version's name."""
    models = root / "models"
    models.mkdir(exist_ok=True)
    numbers = [int(p.name[1:]) for p in models.glob("v[0-9]*") if p.name[1:].isdigit()]
    version = f"v{max(numbers, default=0) + 1:04d}"
    staging = models / f"{TEMPORARY}{version}"
    staging.mkdir()
    joblib.dump(model, staging / "model.joblib")
    write_durably(staging / "metadata.json", json.dumps({"version": version, **metadata}, indent=2))
    staging.rename(models / version)
    link = models / f"{TEMPORARY}current"
    link.symlink_to(version)
    os.replace(link, models / "current")
    return version


def write_durably(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` and flush it to disk."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename: it is whole or absent, never half-written."""
    staging = path.with_name(f"{TEMPORARY}{path.name}")
    write_durably(staging, text)
    os.replace(staging, path)
