"""One run: every new batch in data/incoming/, in name order, is validated, then either
quarantined, or used to train a candidate that is promoted only when it is not worse."""

import os
from pathlib import Path

from pipeline import contract, history, model, store

TOLERANCE = 0.01


def run(root: Path) -> list[dict]:
    """Process the new batches under ``root``; return the decisions made."""
    data = root / "data"
    store.clean_leftovers(root)
    batches = sorted((data / "incoming").glob("*.csv"))
    if not batches and (root / "models" / "current").exists():
        return []
    known = history.decided(root)
    served = store.current(root)
    holdout = model.read([data / "holdout.csv"])
    made = []
    if served is None:
        first = model.fit(model.read(training_files(data)))
        score = model.auc(first, holdout)
        version = store.promote(root, first, {"holdout_auc": score, "trained_on": "training set"})
        metrics = {"candidate_auc": score, "current_auc": None}
        made.append(history.record(root, batch=None, decision="promoted", metrics=metrics,
                                   model=version))
        served = (version, first)
    served_auc = model.auc(served[1], holdout)
    for batch in batches:
        sha256 = history.digest(batch)
        if (batch.name, sha256) in known:  # decided by a run stopped before it moved the batch
            settle(data, batch, known[batch.name, sha256])
            continue
        repeated = [name for name, digest in known if digest == sha256]
        if repeated:  # the same bytes under a new name: never train on a batch twice
            problems = [f"the same bytes as the batch {repeated[0]}, already decided"]
        else:
            problems = contract.problems(batch)
        if problems:
            entry = history.record(root, batch=batch.name, sha256=sha256, decision="quarantined",
                                   reason="; ".join(problems), metrics={})
        else:
            candidate = model.fit(model.read([*training_files(data), batch]))
            score = model.auc(candidate, holdout)
            metrics = {"candidate_auc": score, "current_auc": served_auc}
            if score >= served_auc - TOLERANCE:
                version = store.promote(root, candidate, {"holdout_auc": score,
                                                          "trained_on": batch.name})
                entry = history.record(root, batch=batch.name, sha256=sha256,
                                       decision="promoted", metrics=metrics, model=version)
                served_auc = score
            else:
                reason = (f"candidate AUC {score} is worse than the current {served_auc} "
                          f"by more than {TOLERANCE}")
                entry = history.record(root, batch=batch.name, sha256=sha256, decision="rejected",
                                       metrics=metrics, reason=reason)
        known[batch.name, sha256] = entry
        settle(data, batch, entry)
        made.append(entry)
    return made


def training_files(data: Path) -> list[Path]:
    """The training set: every CSV in data/training/."""
    return sorted((data / "training").glob("*.csv"))


def settle(data: Path, batch: Path, entry: dict) -> None:
    """Move a decided batch where its decision puts it (nothing is ever deleted)."""
    folder = {"promoted": "training", "rejected": "rejected", "quarantined": "quarantine"}
    target_dir = data / folder[entry["decision"]]
    target_dir.mkdir(exist_ok=True)
    target = target_dir / batch.name
    if target.exists():  # another batch once had this name: keep both
        target = target_dir / f"{batch.stem}-{entry['sha256'][:8]}{batch.suffix}"
    if entry["decision"] == "quarantined":
        reason = target.with_name(target.name + ".reason.txt")
        store.write_atomically(reason, entry["reason"] + "\n")
    os.replace(batch, target)
