"""Grader of foundation/03-experiment-tracking: its acceptance criteria, in order, one check each.

The learner's scripts run once, in a sandbox on the network of a real MLflow server the grader
started (see ``experiment_tracking_fixtures``); every check reads what the server holds.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from graders.catalogue import Lab
from graders.checks import check
from graders.containers.workspace import GRADER
from graders.labs.experiment_tracking.data import (
    FEATURE_COLUMNS,
    VALID_CSV,
    not_validation_rows,
    validation_rows,
)
from graders.labs.experiment_tracking.fixtures import COMMANDS, EXPERIMENT, Sweep
from graders.labs.experiment_tracking.runs import each_run, grid_point

if TYPE_CHECKING:  # the probe imports MLflow, which only the sandbox has
    from graders.labs.experiment_tracking.probe import Run

RUNS = ["test_experiment_has_five_finished_runs"]
MIN_RUNS = 5
GRID = {(n, depth) for n in (20, 40) for depth in (4, 8, 12)}
PARAMS = ("n_estimators", "max_depth")
METRIC = "val_accuracy"
F1 = "val_f1"
METRICS = (METRIC, F1)
TAG = "dataset_sha256"
FEATURES = set(FEATURE_COLUMNS)
TOLERANCE = 1e-6


@check(
    1,
    points=14,
    hint="Let mlflow read MLFLOW_TRACKING_URI from the environment (never call "
    "set_tracking_uri), mlflow.set_experiment('churn-sweep'), one mlflow.start_run() per point.",
)
def test_experiment_has_five_finished_runs(sweep: Sweep, record_property: Any) -> None:
    """The experiment churn-sweep has at least 5 finished runs"""
    print(sweep.result.stdout[-5000:], sweep.result.stderr[-5000:])
    tail = "\n".join((sweep.result.stdout + sweep.result.stderr).strip().splitlines()[-15:])
    assert sweep.result.ok, f"`{' && '.join(COMMANDS)}` failed ({sweep.result.exit_code}):\n{tail}"
    assert sweep.experiment, f"the server has no experiment named {EXPERIMENT!r}"
    finished = len(sweep.finished)
    assert finished >= MIN_RUNS, (
        f"{EXPERIMENT} has {finished} finished runs on the server (of {len(sweep.runs)}); "
        f"at least {MIN_RUNS} are needed"
    )
    record_property("message", f"{finished} finished runs in {sweep.result.seconds:.0f} s")


@check(
    2,
    points=14,
    requires=RUNS,
    hint="mlflow.log_params({'n_estimators': ..., 'max_depth': ...}) and mlflow.log_metrics"
    "({'val_accuracy': ..., 'val_f1': ...}) in every run, over the whole grid.",
)
def test_runs_have_grid_params_and_validation_metrics(sweep: Sweep) -> None:
    """Each run has the grid's params and the validation metrics"""

    def missing(run: Run) -> str | None:
        absent = [p for p in PARAMS if p not in run["params"]]
        absent += [m for m in METRICS if m not in run["metrics"]]
        return f"no {', '.join(absent)}" if absent else None

    problems = each_run(sweep, missing)
    assert not problems, "runs without the grid's params or metrics:\n" + "\n".join(problems)
    covered = {grid_point(run) for run in sweep.finished} & GRID
    assert len(covered) >= MIN_RUNS, f"the runs cover {len(covered)} points of the grid, not 5"


@check(
    3,
    points=14,
    requires=RUNS,
    hint="mlflow.set_tag('dataset_sha256', hashlib.sha256(Path('data/train.csv').read_bytes())"
    ".hexdigest()) in every run: the hash of the file you trained on.",
)
def test_runs_tagged_with_training_data_hash(sweep: Sweep, lab: Lab) -> None:
    """Each run is tagged with the hash of the training data it used"""
    expected = hashlib.sha256((lab.starter / "data" / "train.csv").read_bytes()).hexdigest()

    def wrong(run: Run) -> str | None:
        tag = run["tags"].get(TAG)
        if tag is None:
            return f"no tag {TAG}"
        return None if tag == expected else f"{TAG} is {tag[:12]}…, not {expected[:12]}…"

    problems = each_run(sweep, wrong)
    assert not problems, "runs without the right dataset tag:\n" + "\n".join(problems)


@check(
    4,
    points=16,
    requires=RUNS,
    hint="mlflow.sklearn.log_model(model, name='model', signature=infer_signature(X_valid, "
    "predictions), input_example=X_valid.head(5), skops_trusted_types=[...]).",
)
def test_runs_logged_model_with_signature_and_input_example(sweep: Sweep, lab: Lab) -> None:
    """Each run logged a model with a signature of the data's columns and an input example"""

    validation = validation_rows(lab)

    def wrong(run: Run) -> str | None:
        ready = [model for model in run["models"] if model["ready"]]
        if not ready:
            return "no logged model (status READY)"
        model = ready[-1]
        if model["inputs"] is None:
            return "the model has no signature"
        if set(model["inputs"]) != FEATURES:
            return f"the signature's inputs are {sorted(model['inputs'])}, not the 8 features"
        if not model["input_example"]:
            return "the model has no input example"
        if model["example_error"]:
            return f"its input example cannot be read: {model['example_error']}"
        columns = model["example_columns"]
        if columns is None:
            return (
                "the input example has no column names (an array, not a table): log a few "
                "validation rows as a DataFrame, features only"
            )
        if set(columns) != FEATURES:
            extra, missing = sorted(set(columns) - FEATURES), sorted(FEATURES - set(columns))
            return (
                f"the input example's columns are not the 8 features (extra: {extra or 'none'}, "
                f"missing: {missing or 'none'}): a few validation rows, features only"
            )
        return not_validation_rows(columns, model["example_rows"], validation)

    problems = each_run(sweep, wrong)
    assert not problems, "runs without a proper model:\n" + "\n".join(problems)


@check(
    5,
    points=14,
    requires=RUNS,
    hint="Order the finished runs by metrics.val_accuracy DESC (higher is better) and write "
    '{"run_id": ..., "val_accuracy": ...} of the first to best_run.json, the metric as the '
    "number the run logged.",
)
def test_best_run_json_names_the_best_run(sweep: Sweep, record_property: Any) -> None:
    """best_run.json names the run with the best val_accuracy"""
    assert isinstance(sweep.best_run, dict), (
        f"best_run.json is missing or not a JSON object ({sweep.best_run!r})"
    )
    scores = {run["run_id"]: run["metrics"].get(METRIC) for run in sweep.finished}
    best = max((score for score in scores.values() if score is not None), default=None)
    assert best is not None, f"no finished run logged {METRIC}"
    named = str(sweep.best_run.get("run_id"))
    assert named in scores, f"best_run.json names {named!r}, not a finished run of {EXPERIMENT}"
    assert scores[named] == best, (
        f"best_run.json names a run with {METRIC} {scores[named]:.6f}; the best is {best:.6f}"
    )
    said = sweep.best_run.get(METRIC)
    assert isinstance(said, (int, float)) and not isinstance(said, bool), (
        f"best_run.json's {METRIC} is {said!r}, not a number (the run's {METRIC}, {best!r})"
    )
    assert abs(said - best) <= TOLERANCE, (
        f"best_run.json's {METRIC} is {said!r}; the run it names logged {best!r}"
    )
    record_property("message", f"best run {named[:8]} with {METRIC} {best:.4f}")


@check(
    6,
    points=16,
    requires=RUNS,
    hint="Compute val_accuracy with the model you log, on data/valid.csv only: the grader loads "
    "that model and scores the same file.",
)
def test_best_model_reproduces_its_metric(sweep: Sweep, record_property: Any) -> None:
    """The best model loads and reproduces its val_accuracy on the validation set"""
    scored = [run for run in sweep.finished if METRIC in run["metrics"]]
    assert scored, f"no finished run logged {METRIC}"
    best = max(scored, key=lambda run: run["metrics"][METRIC])
    ready = [model for model in best["models"] if model["ready"]]
    assert ready, f"the best run {best['run_id'][:8]} logged no model"
    model_id = ready[-1]["model_id"]
    scored_model = sweep.probe(
        "score",
        model_id,
        f"{GRADER}/{VALID_CSV}",
        failure=f"the best model {model_id} could not be scored",
    )
    if scored_model.get("failed") == "load":
        raise AssertionError(
            f"the best model {model_id} does not load with mlflow.pyfunc.load_model: "
            f"{scored_model['error']}"
        )
    if scored_model.get("failed") == "predict":
        why = (
            "its signature's schema refuses the validation features at predict time (log the "
            "signature inferred from the same columns and dtypes you predict on)"
            if scored_model.get("schema")
            else "its predict fails on the validation features"
        )
        raise AssertionError(f"the best model {model_id} loads, but {why}: {scored_model['error']}")
    measured = scored_model["accuracy"]
    logged = best["metrics"][METRIC]
    record_property("measured_accuracy", measured)
    assert abs(measured - logged) <= TOLERANCE, (
        f"the best run logged {METRIC} {logged:.6f}, but its model scores {measured:.6f} on "
        "data/valid.csv"
    )
    f1, logged_f1 = scored_model["f1"], best["metrics"].get(F1)  # a missing one: check 2's
    assert logged_f1 is None or abs(f1 - logged_f1) <= TOLERANCE, (
        f"the best run logged {F1} {logged_f1}, but its model's F1 of the churn class (1) is "
        f"{f1:.6f} on data/valid.csv (sklearn's f1_score, average='binary')"
    )
    record_property("message", f"{METRIC} {measured:.6f} and {F1} reproduced on the validation set")


@check(
    7,
    points=12,
    hint="Never call mlflow.set_tracking_uri in your scripts, and delete mlruns/ or mlflow.db "
    "left from local experiments.",
)
def test_nothing_written_to_a_local_store(sweep: Sweep) -> None:
    """Nothing was written to a local mlruns/ or mlflow.db"""
    found = [
        path.replace("/work/project/", "after the run: ").replace(
            "/submission/", "in your folder: "
        )
        for path in sweep.local_stores
    ]
    assert not found, "a local MLflow store exists:\n" + "\n".join(sorted(set(found)))
