"""Probe of the model-registry lab; it runs inside the sandbox, on the registry's network.

    python probe.py train DATA_DIR OUT_DIR       the grader's three models and their predictions
    python probe.py health                      /health and an API call through the service name
    python probe.py seed TOKEN                  a run, an artifact and a registered model to keep
    python probe.py seeded TOKEN RUN_ID         what of them the registry still holds
    python probe.py approve NAME VERSION WHO    a reviewer's approval tag on a version
    python probe.py model NAME                  the champion alias and every version's tags
    python probe.py connections COUNT SECONDS   wait until COUNT connections to the registry wait

Registry calls use MLflow's REST API with the standard library (fast, nothing of the learner's
runs); only ``train`` and ``seed`` import scikit-learn or MLflow. The last line printed is JSON.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any, TypedDict

API = os.environ.get("MLFLOW_TRACKING_URI", "http://registry:5000").rstrip("/") + "/api/2.0/mlflow"
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "age"]
CATEGORICAL = ["contract", "payment_method", "internet_service"]
PORT_HEX = ":1388"  # 5000


class Trained(TypedDict):
    """What ``train`` returns: each model's holdout AUC and predictions on ``input.csv``."""

    auc: dict[str, float]
    predictions: dict[str, list[int]]


class Health(TypedDict, total=False):
    """What ``health`` returns: /health's status (None: no answer, then ``error``), and the
    status and body of an API call."""

    health: int | None
    error: str
    api: int
    body: Any


class Seed(TypedDict):
    """What ``seed`` returns: the run it logged, and the status of registering its version."""

    run_id: str
    version_status: int


class Seeded(TypedDict, total=False):
    """What ``seeded`` returns: which of the seeded things the registry still holds."""

    run: bool
    metric: bool
    version: bool
    artifact: bool
    artifact_error: str


class RegisteredModel(TypedDict):
    """What ``model`` returns: the champion's version, and every version's tags."""

    champion: str | None
    versions: dict[str, dict[str, str]]


class Connections(TypedDict):
    """What ``connections`` returns: the connections found, and after how long."""

    found: int
    seconds: float


def call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One REST call: (status, parsed JSON or text)."""
    url = API + path
    data = None
    if method == "GET" and body:
        url += "?" + urllib.parse.urlencode(body)
    elif body is not None:
        data = json.dumps(body).encode()
    from probe_cli import exchange  # staged beside this probe in the sandbox

    headers = {"Content-Type": "application/json"}  # at most 1 MB, within 30 s in all
    status, content = exchange(method, url, data, headers, deadline=30)
    text = content.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text[:300]


def train(data: Path, out: Path) -> Trained:
    """Three models of different quality, their holdout AUCs, and predictions on an input CSV."""
    import joblib
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, holdout = pd.read_csv(data / "train.csv"), pd.read_csv(data / "holdout.csv")
    features = CATEGORICAL + NUMERIC

    def pipeline(columns: list[str], estimator: Any) -> Any:
        parts = [(SimpleImputer(strategy="median"), [c for c in columns if c in NUMERIC])]
        if any(c in CATEGORICAL for c in columns):
            parts.append(
                (OneHotEncoder(handle_unknown="ignore"), [c for c in columns if c in CATEGORICAL])
            )
        return make_pipeline(make_column_transformer(*parts), estimator)

    models = {
        "baseline": pipeline(NUMERIC, LogisticRegression(max_iter=500)),
        "worse": pipeline(["age", "monthly_charges"], LogisticRegression(max_iter=500)),
        "better": pipeline(
            features, RandomForestClassifier(n_estimators=60, max_depth=8, random_state=0, n_jobs=1)
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    inputs = holdout[features].head(200)
    inputs.to_csv(out / "input.csv", index=False)
    found = Trained(auc={}, predictions={})
    for name, model in models.items():
        model.fit(frame[features], frame["churned"])
        joblib.dump(model, out / f"{name}.joblib")
        scores = model.predict_proba(holdout[features])[:, 1]
        found["auc"][name] = round(float(roc_auc_score(holdout["churned"], scores)), 4)
        found["predictions"][name] = [int(p) for p in model.predict(inputs)]
    return found


def health() -> Health:
    base = API.removesuffix("/api/2.0/mlflow")
    from probe_cli import exchange  # staged beside this probe in the sandbox

    try:  # at most 1 MB, within 5 s in all
        alive = exchange("GET", base + "/health", deadline=5)[0]
    except OSError as error:
        return Health(health=None, error=str(error))
    status, body = call("GET", "/registered-models/search", {"max_results": 1})
    return Health(health=alive, api=status, body=body if status != 200 else "")


def seed(token: str) -> Seed:
    import mlflow

    mlflow.set_experiment(f"persistence-{token}")
    with mlflow.start_run() as run:
        mlflow.log_metric("proof", 0.5)
        mlflow.log_text(f"kept {token}\n", "proof/proof.txt")
    name = f"persistence-{token}"
    call("POST", "/registered-models/create", {"name": name})
    status, body = call(
        "POST",
        "/model-versions/create",
        {"name": name, "source": run.info.artifact_uri + "/proof", "run_id": run.info.run_id},
    )
    return Seed(run_id=run.info.run_id, version_status=status)


def seeded(token: str, run_id: str) -> Seeded:
    import mlflow

    found = Seeded()
    status, body = call("GET", "/runs/get", {"run_id": run_id})
    found["run"] = status == 200
    found["metric"] = status == 200 and any(
        m["key"] == "proof" for m in body["run"]["data"].get("metrics", [])
    )
    status, body = call(
        "GET", "/model-versions/get", {"name": f"persistence-{token}", "version": "1"}
    )
    found["version"] = status == 200
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="proof/proof.txt")
        found["artifact"] = Path(path).read_text() == f"kept {token}\n"
    except Exception as error:  # a registry that lost its artifacts
        found["artifact"] = False
        found["artifact_error"] = str(error)[:300]
    return found


def approve(name: str, version: str, who: str) -> dict[str, Any]:
    status, body = call(
        "POST",
        "/model-versions/set-tag",
        {"name": name, "version": version, "key": "approved_by", "value": who},
    )
    if status != 200:
        raise SystemExit(f"approving {name} v{version} failed: {status} {body}")
    return {"approved": True}


def model(name: str) -> RegisteredModel:
    status, body = call("GET", "/registered-models/alias", {"name": name, "alias": "champion"})
    champion = body["model_version"]["version"] if status == 200 else None
    status, body = call(
        "GET", "/model-versions/search", {"filter": f"name='{name}'", "max_results": 1000}
    )
    versions = {
        v["version"]: {t["key"]: t["value"] for t in v.get("tags", [])}
        for v in (body.get("model_versions", []) if status == 200 else [])
    }
    return RegisteredModel(champion=champion, versions=versions)


def connections(count: int, seconds: float) -> Connections:
    """Wait until ``count`` TCP connections to port 5000 are open from this sandbox."""
    started = time.monotonic()
    found = 0
    while time.monotonic() - started < seconds:
        found = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            found += sum(
                1
                for line in lines
                if line.split()[2].endswith(PORT_HEX) and line.split()[3] in ("01", "02")
            )
        if found >= count:
            break
        time.sleep(0.05)
    return Connections(found=found, seconds=round(time.monotonic() - started, 2))


if __name__ == "__main__":
    from probe_cli import serve

    serve(
        {
            "train": train,
            "health": health,
            "seed": seed,
            "seeded": seeded,
            "approve": approve,
            "model": model,
            "connections": connections,
        }
    )
