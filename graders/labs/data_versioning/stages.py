"""The pipeline contract of foundation/02-data-versioning: the stages the README names, and how
a reproduction after a change is read (which stages ran, which params moved)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graders.labs.data_versioning.fixtures import Clone, output_tail

METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class StageContract:
    """A stage as the README names it."""

    name: str
    script: str
    params: tuple[str, ...]


STAGES = (
    StageContract("prepare", "src/prepare.py", ("prepare.test_size", "prepare.seed")),
    StageContract("train", "src/train.py", ("train.n_estimators", "train.max_depth", "train.seed")),
    StageContract("evaluate", "src/evaluate.py", ()),
)


def repro_after(clone: Clone, change: Callable[[], str]) -> tuple[str, list[str], bool]:
    """Make ``change`` (it says what it did), run ``dvc repro``; return what to tell the learner,
    the stages that ran, and whether the metrics file changed."""
    before = clone.hashes([METRICS_FILE])[METRICS_FILE]
    what = change()
    repro = clone.repro()
    assert repro.result.ok, f"{what}, dvc repro failed:\n{output_tail(repro.result)}"
    said = f"{what}, dvc repro ran {', '.join(repro.ran) or 'nothing'}"
    return said, repro.ran, clone.hashes([METRICS_FILE])[METRICS_FILE] != before


def params_changes(locked: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """How the params of a stage differ between a lock entry and a fresh one, key by key."""
    changes = []
    for file in sorted(set(locked.get("params", {})) | set(now.get("params", {}))):
        old, new = locked.get("params", {}).get(file, {}), now.get("params", {}).get(file, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append(
                    f"{file} has {key}: {new.get(key)!r}, the committed dvc.lock {old.get(key)!r}"
                )
    return changes
