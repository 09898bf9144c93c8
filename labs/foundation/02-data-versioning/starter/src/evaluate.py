"""Score the trained model on the holdout set and write the metrics file."""

import json
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

TEST = Path("data/prepared/test.csv")
MODEL = Path("models/model.joblib")
METRICS = Path("metrics.json")


def main() -> None:
    frame = pd.read_csv(TEST)
    features, labels = frame.drop(columns=["churned"]), frame["churned"]
    model = joblib.load(MODEL)
    scores = model.predict_proba(features)[:, 1]
    metrics = {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 6),
        "accuracy": round(float(accuracy_score(labels, scores >= 0.5)), 6),
        "test_rows": len(frame),
    }
    METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
