"""The scoring service: ``/predict`` and ``/health`` work; watching them is your job.

TODO (see the README's "What you will build"):
  1. the metrics of the README's table, with prometheus_client, and ``GET /metrics``;
  2. time and count every /predict request by endpoint and status (a 422 too);
  3. one observation of ``model_prediction_score`` per scored application;
  4. a sliding window of the last 500 scored rows; once it holds 100, recompute every feature's
     PSI and KS against ``reference`` (service/drift.py) after each request and set the gauges.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service import model

MAX_INSTANCES = 1_000
REFERENCE = Path(os.environ.get("REFERENCE_CSV", Path(__file__).parents[1] / "data/reference.csv"))


def _load_reference(path: Path) -> dict[str, list[float]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [float(row[name]) for row in rows] for name in model.FEATURES}


reference = _load_reference(REFERENCE)
app = FastAPI(title="loan default scoring")


def _rows(body: Any) -> list[dict[str, float]]:
    """The applications of a request body, or ValueError saying what is wrong."""
    instances = body.get("instances") if isinstance(body, dict) else None
    if not isinstance(instances, list) or not 1 <= len(instances) <= MAX_INSTANCES:
        raise ValueError(f"'instances' must be a list of 1 to {MAX_INSTANCES} applications")
    rows = []
    for number, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise ValueError(f"instance {number} is not an object")
        row = {}
        for name in model.FEATURES:
            value = instance.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"instance {number}: {name!r} must be a number")
            if not math.isfinite(value):
                raise ValueError(f"instance {number}: {name!r} must be finite")
            row[name] = float(value)
        rows.append(row)
    return rows


@app.post("/predict")
async def predict(request: Request) -> JSONResponse:
    """Score applications: ``{"instances": [{feature: number, ...}, ...]}``."""
    try:
        rows = _rows(await request.json())
    except ValueError as problem:  # also a body that is not JSON
        return JSONResponse({"detail": str(problem)}, status_code=422)
    scores = [model.score(row) for row in rows]
    return JSONResponse(
        {"predictions": [int(value >= 0.5) for value in scores], "scores": scores}
    )


@app.get("/health")
def health() -> dict[str, str]:
    """Ready as soon as the reference window is loaded (at import)."""
    return {"status": "ok"}
