"""Criterion 2 of professional/02-drift-alerts: the service's ``/metrics`` page, read as
Prometheus reads it, each series compared by type, label and value with the requests the grader
sent (ten to /predict: nine valid, one malformed, timed by the probe)."""

from __future__ import annotations

import math

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from graders.labs.drift_alerts.data import FEATURES

METRICS = {
    "model_requests": ("counter", {"endpoint", "status"}),
    "model_request_errors": ("counter", {"endpoint"}),
    "model_request_duration_seconds": ("histogram", {"endpoint"}),
    "model_prediction_score": ("histogram", set()),
    "feature_drift_psi": ("gauge", {"feature"}),
    "feature_drift_ks": ("gauge", {"feature"}),
}
BUCKETS = {  # the README's table: latency with prometheus_client's defaults, scores by tenths
    "model_request_duration_seconds": (
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf,
    ),
    "model_prediction_score": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, math.inf),
}  # fmt: skip
ENDPOINT = "/predict"  # the route's path, as the README's table says
VALID, MALFORMED = 9, 1  # the probe's ten requests
SLACK_SECONDS = 0.05  # a server's own timer may start before the client's


def read_families(text: str) -> dict[str, Metric]:
    """The metric families of a page of Prometheus' text format (AssertionError if it is not)."""
    try:
        return {f.name: f for f in text_string_to_metric_families(text)}
    except ValueError as problem:
        raise AssertionError(f"/metrics is not Prometheus' text format: {problem}") from None


def total(families: dict[str, Metric], name: str, suffix: str, **labels: str) -> float:
    """The sum of the family's samples named ``*suffix`` whose labels include ``labels``."""
    family = families.get(name)
    return sum(
        s.value
        for s in (family.samples if family else [])
        if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items())
    )


def shape_problems(families: dict[str, Metric]) -> list[str]:
    """Every metric of the table, with its type and every series with its labels."""
    problems = []
    for name, (kind, labels) in METRICS.items():
        family = families.get(name)
        if family is None or not family.samples:
            problems.append(f"no {name} metric (or no series of it)")
        elif family.type != kind:
            problems.append(f"{name} is a {family.type}, not a {kind}")
        elif missing := {label for s in family.samples for label in labels - set(s.labels)}:
            problems.append(f"{name} has series without the label(s) {', '.join(sorted(missing))}")
        elif name in BUCKETS and (les := bucket_bounds(family)) != BUCKETS[name]:
            problems.append(
                f"{name} has the buckets {', '.join(f'{le:g}' for le in les)}; the README's "
                f"table says {', '.join(f'{le:g}' for le in BUCKETS[name])}"
            )
    return problems


def bucket_bounds(family: Metric) -> tuple[float, ...]:
    """The sorted upper bounds (``le``) of a histogram's buckets, over all its series (one that
    is not a number is left out: the type's own parse has let it through)."""
    bounds = set()
    for sample in family.samples:
        if sample.name.endswith("_bucket"):
            try:
                bounds.add(float(sample.labels.get("le", "")))
            except ValueError:
                continue
    return tuple(sorted(bounds))


def value_problems(
    before: dict[str, Metric], after: dict[str, Metric], seconds: float
) -> list[str]:
    """What the ten requests must have added, recomputed from what the probe sent and timed."""
    problems = []
    for name in ("model_requests", "model_request_errors", "model_request_duration_seconds"):
        endpoints = {s.labels.get("endpoint") for s in after[name].samples}
        if ENDPOINT not in endpoints:
            problems.append(
                f'{name} has no series with endpoint="{ENDPOINT}" (its endpoints: '
                f"{sorted(str(e) for e in endpoints)}): the label is the route's path"
            )
    if problems:
        return problems

    def grew(name: str, suffix: str, **labels: str) -> float:
        return round(
            total(after, name, suffix, **labels) - total(before, name, suffix, **labels), 6
        )

    statuses = {s.labels["status"] for s in after["model_requests"].samples}
    ok = grew("model_requests", "_total", endpoint=ENDPOINT, status="200")
    bad = sum(
        grew("model_requests", "_total", endpoint=ENDPOINT, status=status)
        for status in statuses
        if status.startswith("4")
    )
    if (ok, bad) != (VALID, MALFORMED):
        problems.append(
            f'model_requests_total{{endpoint="{ENDPOINT}"}} grew by {ok:g} with status "200" '
            f"and {bad:g} with a 4xx status (statuses seen: {sorted(statuses)}); the grader sent "
            f"{VALID} valid requests and {MALFORMED} malformed one"
        )
    errors = grew("model_request_errors", "_total", endpoint=ENDPOINT)
    if errors != MALFORMED:
        problems.append(
            f'model_request_errors_total{{endpoint="{ENDPOINT}"}} grew by {errors:g}; the '
            f"grader sent {MALFORMED} malformed request (answered with a 4xx)"
        )
    observed = grew("model_request_duration_seconds", "_count", endpoint=ENDPOINT)
    spent = grew("model_request_duration_seconds", "_sum", endpoint=ENDPOINT)
    if not VALID <= observed <= VALID + MALFORMED:
        problems.append(
            f"model_request_duration_seconds observed {observed:g} requests to {ENDPOINT}; the "
            f"grader sent {VALID + MALFORMED}"
        )
    elif not 0 < spent <= seconds + SLACK_SECONDS:
        problems.append(
            f"model_request_duration_seconds_sum grew by {spent:g} while the grader's "
            f"{VALID + MALFORMED} requests took {seconds:.3f} s from send to answer, one after "
            "another: the latency is not in seconds (time.perf_counter() differences are)"
        )
    return problems


def feature_problems(families: dict[str, Metric]) -> list[str]:
    """feature_drift_psi has exactly the four features."""
    features = {s.labels["feature"] for s in families["feature_drift_psi"].samples}
    if features != set(FEATURES):
        return [f"feature_drift_psi has features {sorted(features)}: expected {list(FEATURES)}"]
    return []
