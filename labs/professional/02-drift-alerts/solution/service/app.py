"""The scoring service, instrumented: ``/predict``, ``/health`` and ``/metrics``.

Every request to /predict or /health is timed and counted by endpoint and status; a status of 400
or more also counts as an error. Every scored application joins a sliding window of the last
``WINDOW_ROWS`` rows; once the window holds ``MIN_WINDOW_ROWS``, each feature's PSI and KS
against the reference window are recomputed after every request and exported as gauges.
"""

from __future__ import annotations

import csv
import math
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from service import drift, model

WINDOW_ROWS = 500
MIN_WINDOW_ROWS = 100
MAX_INSTANCES = 1_000
REFERENCE = Path(os.environ.get("REFERENCE_CSV", Path(__file__).parents[1] / "data/reference.csv"))
INSTRUMENTED = ("/predict", "/health")

REQUESTS = Counter("model_requests", "Requests by endpoint and status.", ["endpoint", "status"])
ERRORS = Counter("model_request_errors", "Requests answered 400 or more.", ["endpoint"])
LATENCY = Histogram("model_request_duration_seconds", "Request latency.", ["endpoint"])
SCORES = Histogram(
    "model_prediction_score",
    "Predicted probability of default.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
PSI = Gauge("feature_drift_psi", "PSI of the recent window against the reference.", ["feature"])
KS = Gauge("feature_drift_ks", "KS statistic of the recent window against the reference.", ["feature"])


def _load_reference(path: Path) -> dict[str, list[float]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [float(row[name]) for row in rows] for name in model.FEATURES}


reference = _load_reference(REFERENCE)
window: deque[dict[str, float]] = deque(maxlen=WINDOW_ROWS)
window_lock = threading.Lock()
for feature in model.FEATURES:
    PSI.labels(feature=feature).set(0)
    KS.labels(feature=feature).set(0)

app = FastAPI(title="loan default scoring")


@app.middleware("http")
async def instrument(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Time and count every request to an instrumented endpoint."""
    endpoint = request.url.path
    if endpoint not in INSTRUMENTED:
        return await call_next(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint=endpoint, status=str(status)).inc()
        if status >= 400:
            ERRORS.labels(endpoint=endpoint).inc()


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


def _update_drift(rows: list[dict[str, float]]) -> None:
    with window_lock:
        window.extend(rows)
        if len(window) < MIN_WINDOW_ROWS:
            return
        recent = list(window)
    for name in model.FEATURES:
        current = [row[name] for row in recent]
        PSI.labels(feature=name).set(drift.psi(reference[name], current))
        KS.labels(feature=name).set(drift.ks(reference[name], current))


@app.post("/predict")
async def predict(request: Request) -> JSONResponse:
    """Score applications: ``{"instances": [{feature: number, ...}, ...]}``."""
    try:
        rows = _rows(await request.json())
    except ValueError as problem:  # also a body that is not JSON
        return JSONResponse({"detail": str(problem)}, status_code=422)
    scores = [model.score(row) for row in rows]
    for value in scores:
        SCORES.observe(value)
    _update_drift(rows)
    return JSONResponse(
        {"predictions": [int(value >= 0.5) for value in scores], "scores": scores}
    )


@app.get("/health")
def health() -> dict[str, str]:
    """Ready as soon as the reference window is loaded (at import)."""
    return {"status": "ok"}


@app.get("/metrics")
def metrics() -> Response:
    """Every metric in Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
