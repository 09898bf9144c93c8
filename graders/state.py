"""The learner's last score per lab, kept in ``$MLOPS_LABS_HOME`` (or ~/.local/state/mlops-labs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from graders.report import Report, write_text_atomically


def state_dir() -> Path:
    """Where mlops-labs keeps the learner's state."""
    configured = os.environ.get("MLOPS_LABS_HOME")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mlops-labs"


def last_scores() -> dict[str, dict[str, object]]:
    """Lab id → the last grading's score, maximum, status and time ({} when there is none)."""
    path = state_dir() / "scores.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_score(report: Report) -> None:
    """Remember this grading as the lab's last score; a partial grading (``--only``) is never
    the lab's score and is not recorded."""
    if report.is_partial:
        return
    scores = last_scores()
    scores[report.lab["id"]] = {
        "score": report.score,
        "max_score": report.max_score,
        "status": report.status.value,
        "finished_at": report.finished_at,
    }
    write_text_atomically(state_dir() / "scores.json", json.dumps(scores, indent=2) + "\n")
