"""Pick the finished run with the highest val_accuracy from the server; write best_run.json."""

import json
from pathlib import Path

import mlflow

EXPERIMENT = "churn-sweep"
METRIC = "val_accuracy"


def main() -> None:
    runs = mlflow.search_runs(
        experiment_names=[EXPERIMENT],
        filter_string="attributes.status = 'FINISHED'",
        order_by=[f"metrics.{METRIC} DESC"],
        max_results=1,
        output_format="list",
    )
    if not runs:
        raise SystemExit(f"no finished run in the experiment {EXPERIMENT!r}")
    best = runs[0]
    chosen = {"run_id": best.info.run_id, METRIC: best.data.metrics[METRIC]}
    Path("best_run.json").write_text(json.dumps(chosen, indent=2) + "\n")
    print(json.dumps(chosen))


if __name__ == "__main__":
    main()
