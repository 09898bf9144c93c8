"""Facts from the MLflow server, as JSON on stdout. Runs in the sandbox runner, never the grader.

The grader of foundation/03-experiment-tracking mounts this file into the sandbox, on the tracking
server's private network (``MLFLOW_TRACKING_URI`` is set). Loading a model runs code from the
learner's artifacts, which is why it happens here.

    python probe.py runs EXPERIMENT        every run of the experiment, with its logged models
    python probe.py score MODEL_ID CSV     accuracy of the model's predictions on a labelled CSV
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import mlflow
import pandas as pd

LABEL, ID = "churned", "customer_id"


class LoggedModel(TypedDict):
    """A model a run logged: its status, signature inputs and whether it saved an example."""

    model_id: str
    status: str
    ready: bool
    inputs: list[str] | None
    input_example: bool
    # the saved input example's columns (None: not a table, or unreadable: ``example_error``)
    example_columns: list[str] | None
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
        example_error="",
    )
    if facts["ready"]:
        info = mlflow.models.get_model_info(f"models:/{model.model_id}")
        if info.signature is not None and info.signature.inputs is not None:
            facts["inputs"] = list(info.signature.inputs.input_names())
        facts["input_example"] = bool(info.saved_input_example_info)
        if info.saved_input_example_info:
            try:
                facts["example_columns"] = example_columns(
                    model, str(info.saved_input_example_info.get("artifact_path", ""))
                )
            except Exception as error:  # the learner's artifact: unreadable is a finding
                facts["example_error"] = f"{type(error).__name__}: {str(error)[:300]}"
    return facts


def example_columns(model: Any, artifact_path: str) -> list[str] | None:
    """The columns of a logged model's saved input example (MLflow writes a table as
    ``{"columns": [...], "data": [...]}``, or as records); None for an example that is no
    table."""
    location = str(model.artifact_location).rstrip("/")
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/{artifact_path}")
    with open(local, encoding="utf-8") as file:
        example = json.load(file)
    if isinstance(example, dict) and isinstance(example.get("columns"), list):
        return [str(column) for column in example["columns"]]
    if isinstance(example, list) and example and isinstance(example[0], dict):
        return [str(column) for column in example[0]]
    return None


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
    predicted = pd.Series(predictions).to_numpy().ravel()
    accuracy = float((predicted.astype(int) == frame[LABEL].to_numpy()).mean())
    return Score(accuracy=accuracy, rows=len(frame))


if __name__ == "__main__":
    from probe_cli import serve

    serve({"runs": runs, "score": score})
