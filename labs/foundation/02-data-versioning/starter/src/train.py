"""Train the churn classifier on the prepared training set."""

from pathlib import Path

import joblib
import pandas as pd
import yaml
from sklearn.ensemble import RandomForestClassifier

TRAIN = Path("data/prepared/train.csv")
MODEL = Path("models/model.joblib")


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    frame = pd.read_csv(TRAIN)
    features, labels = frame.drop(columns=["churned"]), frame["churned"]
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        n_jobs=1,
    )
    model.fit(features, labels)
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL)
    print(f"trained on {len(frame)} rows")


if __name__ == "__main__":
    main()
