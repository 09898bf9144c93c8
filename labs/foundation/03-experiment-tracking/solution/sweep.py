"""The sweep, tracked: one MLflow run per grid point, on the server MLFLOW_TRACKING_URI names."""

import hashlib
from pathlib import Path

import mlflow
from mlflow.models import infer_signature
from sklearn.metrics import accuracy_score, f1_score
from train import build_model, load

EXPERIMENT = "churn-sweep"
TRAIN, VALID = Path("data/train.csv"), Path("data/valid.csv")
GRID = [(n, depth) for n in (20, 40) for depth in (4, 8, 12)]
SEED = 42
# skops refuses types it cannot vouch for; these two are what a fitted forest pipeline holds.
TRUSTED = ["numpy.dtype", "sklearn.tree._tree.Tree"]


def main() -> None:
    X_train, y_train = load(TRAIN)
    X_valid, y_valid = load(VALID)
    dataset_sha256 = hashlib.sha256(TRAIN.read_bytes()).hexdigest()
    mlflow.set_experiment(EXPERIMENT)  # the server comes from MLFLOW_TRACKING_URI
    for n_estimators, max_depth in GRID:
        with mlflow.start_run(run_name=f"rf-{n_estimators}-{max_depth}"):
            mlflow.log_params({"n_estimators": n_estimators, "max_depth": max_depth})
            mlflow.set_tag("dataset_sha256", dataset_sha256)
            model = build_model(n_estimators, max_depth, SEED).fit(X_train, y_train)
            predicted = model.predict(X_valid)
            mlflow.log_metrics(
                {
                    "val_accuracy": accuracy_score(y_valid, predicted),
                    "val_f1": f1_score(y_valid, predicted),
                }
            )
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(X_valid, predicted),
                input_example=X_valid.head(5),
                skops_trusted_types=TRUSTED,
                pip_requirements="requirements.txt",  # pinned: MLflow infers none (a subprocess)
            )


if __name__ == "__main__":
    main()
