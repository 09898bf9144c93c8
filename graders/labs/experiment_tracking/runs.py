"""The runs of foundation/03-experiment-tracking's sweep, as the checks read them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graders.labs.experiment_tracking.fixtures import Sweep

if TYPE_CHECKING:  # the probe imports MLflow, which only the sandbox has
    from graders.labs.experiment_tracking.probe import Run


def grid_point(run: Run) -> tuple[int, int] | None:
    """The (n_estimators, max_depth) a run logged, or None when they are not numbers."""
    try:
        return int(float(run["params"]["n_estimators"])), int(float(run["params"]["max_depth"]))
    except (KeyError, ValueError):
        return None


def each_run(sweep: Sweep, problem: Any) -> list[str]:
    """``problem(run)`` of every finished run, as 'run <id>: <problem>' lines (None: no problem)."""
    found = [(run["run_id"], problem(run)) for run in sweep.finished]
    return [f"run {run_id[:8]}: {said}" for run_id, said in found if said]
