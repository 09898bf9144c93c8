"""Facts from the MLflow server, as JSON on stdout. Runs in the sandbox runner, never the grader.

The grader of foundation/03-experiment-tracking mounts this file into the sandbox, on the tracking
server's private network (``MLFLOW_TRACKING_URI`` is set). Loading a model runs code from the
learner's artifacts, which is why it happens here.

    python probe.py runs EXPERIMENT        every run of the experiment, with its logged models
    python probe.py score MODEL_ID CSV     accuracy of the model's predictions on a labelled CSV
"""

from __future__ import annotations

import json
import sys
from typing import Any

import mlflow
import pandas as pd

LABEL, ID = "churned", "customer_id"


def logged_model(model: Any) -> dict[str, Any]:
    """A logged model's status, signature inputs and whether it saved an input example."""
    facts: dict[str, Any] = {"model_id": model.model_id, "status": str(model.status)}
    facts["ready"] = facts["status"].endswith("READY")
    facts["inputs"], facts["input_example"] = None, False
    if facts["ready"]:
        info = mlflow.models.get_model_info(f"models:/{model.model_id}")
        if info.signature is not None and info.signature.inputs is not None:
            facts["inputs"] = list(info.signature.inputs.input_names())
        facts["input_example"] = bool(info.saved_input_example_info)
    return facts


def runs(experiment: str) -> dict[str, Any]:
    """Every run of ``experiment`` (status, params, metrics, tags) and the models it logged."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return {"experiment": False, "runs": []}
    ids = [found.experiment_id]
    models: dict[str, list[dict[str, Any]]] = {}
    for model in mlflow.search_logged_models(experiment_ids=ids, output_format="list"):
        models.setdefault(model.source_run_id, []).append(logged_model(model))
    listed = [
        {
            "run_id": run.info.run_id,
            "status": run.info.status,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
            "models": models.get(run.info.run_id, []),
        }
        for run in mlflow.search_runs(experiment_ids=ids, output_format="list", max_results=1000)
    ]
    return {"experiment": True, "runs": listed}


def score(model_id: str, csv: str) -> dict[str, Any]:
    """Load the model with pyfunc and score its predictions on a labelled CSV."""
    frame = pd.read_csv(csv)
    model = mlflow.pyfunc.load_model(f"models:/{model_id}")
    predicted = pd.Series(model.predict(frame.drop(columns=[ID, LABEL]))).to_numpy().ravel()
    accuracy = float((predicted.astype(int) == frame[LABEL].to_numpy()).mean())
    return {"accuracy": accuracy, "rows": len(frame)}


def main(argv: list[str]) -> None:
    """Dispatch one command and print its JSON."""
    if argv[0] == "runs":
        result = runs(argv[1])
    elif argv[0] == "score":
        result = score(argv[1], argv[2])
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
