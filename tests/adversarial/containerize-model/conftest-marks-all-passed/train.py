"""Train the breast-cancer classifier and write the model artifact.

Provided by the data-science team; do not change it. The grader computes its reference predictions
with exactly this script and the pinned versions in the lab README.

Usage: python train.py [--out DIR]      (DIR defaults to ./model)

Writes DIR/model.joblib (a scikit-learn Pipeline) and DIR/metadata.json. Deterministic: the split
and the estimator are seeded, and nothing is downloaded (the data set ships with scikit-learn).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

MODEL_VERSION = "1.0.0"
RANDOM_STATE = 42


def build_pipeline() -> Pipeline:
    """The estimator the team signed off: standardised features into a logistic regression."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=1000, random_state=0)),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="model", help="directory to write the artifact to")
    args = parser.parse_args(argv)

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=RANDOM_STATE, stratify=y
    )

    model = build_pipeline()
    model.fit(X_train, y_train)
    accuracy = float(model.score(X_test, y_test))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    metadata = {
        "model_version": MODEL_VERSION,
        "sklearn_version": sklearn.__version__,
        "n_features": int(X.shape[1]),
        "classes": [int(c) for c in model.classes_],
        "test_accuracy": round(accuracy, 6),
    }
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out / 'model.joblib'} (test accuracy {accuracy:.4f})")


if __name__ == "__main__":
    main()
