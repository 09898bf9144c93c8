"""The FastAPI application for the breast-cancer classifier.

This file is a skeleton: the endpoints exist but do nothing yet. See the lab README for the
contract the grader checks (routes, request and response bodies, status codes).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# TODO: load the model and its metadata ONCE, when the module is imported, not on every request.
#   - `python train.py --out model` writes model/model.joblib and model/metadata.json.
#   - Decide where the service finds them (e.g. a MODEL_DIR environment variable with a default)
#     and build that path so it works in your image whatever the working directory is.
#   - Only ever load artifacts you produced yourself: a joblib file is a pickle.
MODEL: Any = None
METADATA: dict[str, Any] = {}

app = FastAPI(title="Breast-cancer classifier")


# TODO: describe the request body with a pydantic model:
#   {"instances": [[30 numbers], ...]}
#   - reject strings, NaN and Infinity, an empty list, and rows without exactly 30 features,
#     with a 4xx and a JSON message (never let scikit-learn raise: that is a 500).


@app.get("/health")
def health() -> dict[str, str]:
    # TODO: return {"status": "ok"} once the model is loaded.
    raise NotImplementedError("GET /health")


@app.post("/predict")
def predict() -> dict[str, Any]:
    # TODO: accept the request model above and return
    #   {"predictions": [0 or 1 per instance], "model_version": METADATA["model_version"]}
    #   as plain Python ints (0 = malignant, 1 = benign, as in load_breast_cancer's target).
    raise NotImplementedError("POST /predict")
