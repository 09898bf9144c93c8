"""The FastAPI application: loads the model once, then answers /health and /predict.

The model directory is ``$MODEL_DIR`` when set, otherwise ``model/`` next to the ``app`` package
(``/app/model`` in the image, where ``train.py`` writes it during the build). Loading happens once,
at import, so a missing or broken artifact stops the service at start instead of failing requests.

Never point MODEL_DIR at an artifact you did not produce yourself: joblib files are pickles, and
loading a pickle runs whatever code it contains.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import joblib
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
MAX_INSTANCES = 10_000  # one request may not ask for more rows than this


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Load the trained pipeline and its metadata from ``model_dir``."""
    model = joblib.load(model_dir / "model.joblib")
    metadata = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    return model, metadata


MODEL_DIR = Path(os.environ.get("MODEL_DIR", str(DEFAULT_MODEL_DIR)))
MODEL, METADATA = load_model(MODEL_DIR)
MODEL_VERSION = str(METADATA["model_version"])
N_FEATURES = int(METADATA["n_features"])

# Strict: a JSON number only (ints are fine), never a string such as "1.5" or "abc", never a
# boolean, and never NaN or Infinity, which Python's JSON parser would otherwise let through.
Feature = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class PredictRequest(BaseModel):
    """A batch of rows, each with the 30 features of ``load_breast_cancer`` in its column order."""

    instances: list[list[Feature]] = Field(min_length=1, max_length=MAX_INSTANCES)

    @field_validator("instances")
    @classmethod
    def rows_have_all_features(cls, rows: list[list[float]]) -> list[list[float]]:
        for index, row in enumerate(rows):
            if len(row) != N_FEATURES:
                raise ValueError(
                    f"instance {index} has {len(row)} features; every instance needs {N_FEATURES}"
                )
        return rows


class PredictResponse(BaseModel):
    predictions: list[int]  # 0 = malignant, 1 = benign (scikit-learn's target encoding)
    model_version: str


app = FastAPI(title="Breast-cancer classifier", version=MODEL_VERSION)


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Answer any malformed request with 422 and a readable message (the inputs are not echoed)."""
    errors = [
        {"loc": [str(part) for part in error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    message = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    if len(errors) > 5:
        message += f"; and {len(errors) - 5} more"
    return JSONResponse(
        status_code=422,
        content={"message": message or "invalid request", "detail": errors},
    )


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# `async def` on purpose: a prediction is about a millisecond of CPU, so running it on the event
# loop is cheaper than handing it to FastAPI's thread pool, which adds no parallelism on one CPU.
# MAX_INSTANCES bounds how long one request can hold the loop.
@app.post("/predict", response_model=PredictResponse)
async def predict(request: PredictRequest) -> PredictResponse:
    features = np.asarray(request.instances, dtype=np.float64)
    labels = MODEL.predict(features)
    return PredictResponse(predictions=labels.astype(int).tolist(), model_version=MODEL_VERSION)
