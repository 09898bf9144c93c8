"""Facts from the MLflow server, as JSON on stdout. Runs in the sandbox runner, never the grader.

The grader of foundation/03-experiment-tracking mounts this file into the sandbox, on the tracking
server's private network (``MLFLOW_TRACKING_URI`` is set). Loading a model runs code from the
learner's artifacts, which is why it happens here.

    python probe.py runs EXPERIMENT        every run of the experiment, with its logged models
    python probe.py score MODEL_ID CSV     accuracy of the model's predictions on a labelled CSV
    python probe.py plant EXPERIMENT       a FAILED run with the best score, before select_best.py
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import mlflow
import pandas as pd

LABEL, ID = "churned", "customer_id"
EXAMPLE_ROWS = 20
PLANTED_SCORE = 0.999


class LoggedModel(TypedDict):
    """A model a run logged: its status, signature inputs and whether it saved an example."""

    model_id: str
    status: str
    ready: bool
    inputs: list[str] | None
    input_example: bool
    # the saved input example's columns (None: no column names, or unreadable: ``example_error``)
    example_columns: list[str] | None
    example_rows: list[list[Any]]  # its first EXAMPLE_ROWS rows, in the columns' order
    example_error: str


class Run(TypedDict):
    """A run of the experiment and the models it logged."""

    run_id: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    models: list[LoggedModel]


class Runs(TypedDict):
    """What ``runs`` returns: whether the experiment exists, and its runs."""

    experiment: bool
    runs: list[Run]


class Score(TypedDict, total=False):
    """What ``score`` returns: the model's accuracy on the labelled CSV and its row count, or
    ``failed`` ("load" or "predict") and ``error`` (the exception, the start of its text) and,
    for a predict that failed, whether MLflow's schema enforcement refused the data."""

    accuracy: float
    f1: float  # of the churn class, sklearn's default (binary) F1
    rows: int
    failed: str
    error: str
    schema: bool


def logged_model(model: Any) -> LoggedModel:
    """A logged model's status, signature inputs and whether it saved an input example."""
    status = str(model.status)
    facts = LoggedModel(
        model_id=model.model_id,
        status=status,
        ready=status.endswith("READY"),
        inputs=None,
        input_example=False,
        example_columns=None,
        example_rows=[],
        example_error="",
    )
    if facts["ready"]:
        info = mlflow.models.get_model_info(f"models:/{model.model_id}")
        if info.signature is not None and info.signature.inputs is not None:
            facts["inputs"] = list(info.signature.inputs.input_names())
        facts["input_example"] = bool(info.saved_input_example_info)
        if info.saved_input_example_info:
            try:
                columns, rows = example_table(
                    model, str(info.saved_input_example_info.get("artifact_path", ""))
                )
                facts["example_columns"], facts["example_rows"] = columns, rows
            except Exception as error:  # the learner's artifact: unreadable is a finding
                facts["example_error"] = f"{type(error).__name__}: {str(error)[:300]}"
    return facts


def example_table(model: Any, artifact_path: str) -> tuple[list[str] | None, list[list[Any]]]:
    """The columns and first rows of a logged model's saved input example. MLflow writes a
    table as ``{"columns": [...], "data": [...]}`` (or records), a dict of columns as
    ``{"inputs": {column: values}}``; an array has no column names (None)."""
    location = str(model.artifact_location).rstrip("/")
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/{artifact_path}")
    with open(local, encoding="utf-8") as file:
        example = json.load(file)
    if isinstance(example, dict) and isinstance(example.get("columns"), list):
        columns = [str(column) for column in example["columns"]]
        data = example.get("data")
        rows = data[:EXAMPLE_ROWS] if isinstance(data, list) else []
        return columns, [list(row) for row in rows if isinstance(row, list)]
    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        columns = [str(column) for column in example[0]]
        return columns, [[r.get(c) for c in columns] for r in example[:EXAMPLE_ROWS]]
    inputs = example.get("inputs") if isinstance(example, dict) else None
    if isinstance(inputs, dict) and all(isinstance(v, list) for v in inputs.values()):
        columns = [str(column) for column in inputs]
        length = min((len(v) for v in inputs.values()), default=0)
        rows = [[inputs[c][n] for c in inputs] for n in range(min(length, EXAMPLE_ROWS))]
        return columns, rows
    return None, []


def runs(experiment: str) -> Runs:
    """Every run of ``experiment`` (status, params, metrics, tags) and the models it logged."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return Runs(experiment=False, runs=[])
    ids = [found.experiment_id]
    models: dict[str, list[LoggedModel]] = {}
    for model in mlflow.search_logged_models(experiment_ids=ids, output_format="list"):
        models.setdefault(model.source_run_id, []).append(logged_model(model))
    listed = [
        Run(
            run_id=run.info.run_id,
            status=run.info.status,
            params=run.data.params,
            metrics=run.data.metrics,
            tags={k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
            models=models.get(run.info.run_id, []),
        )
        for run in mlflow.search_runs(experiment_ids=ids, output_format="list", max_results=1000)
    ]
    return Runs(experiment=True, runs=listed)


def plant(experiment: str) -> dict[str, str]:
    """A FAILED run with a val_accuracy above any real one (a crashed try that logged a figure),
    planted before ``select_best.py`` runs: the best run is the best *finished* one."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return {"run_id": ""}
    client = mlflow.MlflowClient()
    run = client.create_run(found.experiment_id, run_name="crashed-try")
    for metric in ("val_accuracy", "val_f1"):
        client.log_metric(run.info.run_id, metric, PLANTED_SCORE)
    client.set_terminated(run.info.run_id, status="FAILED")
    return {"run_id": run.info.run_id}


def score(model_id: str, csv: str) -> Score:
    """Load the model with pyfunc and score its predictions on a labelled CSV."""
    frame = pd.read_csv(csv)
    try:
        model = mlflow.pyfunc.load_model(f"models:/{model_id}")
    except Exception as error:  # the learner's logged model: any failure is a finding
        return Score(failed="load", error=f"{type(error).__name__}: {str(error)[:600]}")
    try:
        predictions = model.predict(frame.drop(columns=[ID, LABEL]))
    except Exception as error:
        said = str(error)
        schema = "schema" in said.lower() and "mlflow" in type(error).__module__
        if schema and "Error:" in said:  # MLflow quotes the data and the schema before why
            said = said.rsplit("Error:", 1)[1].strip()
        return Score(failed="predict", error=f"{type(error).__name__}: {said[:600]}", schema=schema)
    predicted = pd.Series(predictions).to_numpy().ravel().astype(int)
    truth = frame[LABEL].to_numpy()
    accuracy = float((predicted == truth).mean())
    # F1 of the churn class (1), as sklearn.metrics.f1_score computes it by default
    hits = int(((predicted == 1) & (truth == 1)).sum())
    claimed, actual = int((predicted == 1).sum()), int((truth == 1).sum())
    f1 = 2 * hits / (claimed + actual) if claimed + actual else 0.0
    return Score(accuracy=accuracy, f1=f1, rows=len(frame))


if __name__ == "__main__":
    from probe_cli import serve

    serve({"runs": runs, "score": score, "plant": plant})
