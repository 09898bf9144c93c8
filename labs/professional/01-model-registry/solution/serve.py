"""Serve whatever is the champion: python serve.py NAME INPUT_CSV prints the champion's version
and its predictions for every row, as JSON. Promotion changes what it serves; this code does not."""

import json
import sys

import mlflow
import pandas as pd
from mlflow import MlflowClient


def main() -> None:
    name, path = sys.argv[1], sys.argv[2]
    version = MlflowClient().get_model_version_by_alias(name, "champion").version
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    predictions = model.predict(pd.read_csv(path))
    print(json.dumps({"version": version, "predictions": [int(p) for p in predictions]}))


if __name__ == "__main__":
    main()
