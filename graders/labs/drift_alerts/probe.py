"""Probe of lab professional/02-drift-alerts, run inside the sandbox workspace (standard library).

    python probe.py statistics DRIFT_PY DATASETS_JSON   the learner's psi() and ks() on each dataset
    python probe.py health URL                          GET URL/health's status (0: no answer)
    python probe.py metrics URL TRAFFIC_JSON            a few requests, then the /metrics text
    python probe.py live URL PROMETHEUS TRAFFIC_JSON QUIET BOUND   the end-to-end drift run
    python probe.py queries PROMETHEUS EXPRS_JSON       each query's status and series count

Each prints one JSON line last.
"""

from __future__ import annotations

import importlib.util
import json
import time
import urllib.parse
from typing import Any, TypedDict

ROWS_PER_REQUEST = 10
PACE = 0.1  # seconds between requests
MALFORMED_EVERY = 20  # one request in this many carries a broken row
ALERT = "FeatureDrift"
MAX_ROWS = 100  # series of a query's answer returned to the grader


class Statistics(TypedDict, total=False):
    """What ``statistics`` returns: why the module does not import, or by dataset each
    function's result (a number, or the error it raised as text)."""

    import_error: str
    results: dict[str, dict[str, float | str]]


class Health(TypedDict):
    """What ``health`` returns: GET /health's status (0: no answer)."""

    status: int


class MetricsPage(TypedDict):
    """What ``metrics`` returns: GET /metrics's status and text, and unexpected answers."""

    status: int
    text: str
    unexpected: list[str]
    before: str  # the page before the ten requests
    seconds: (
        float  # the ten requests, sent one after the other, from the first send to the last answer
    )


class LiveSeen(TypedDict, total=False):
    """What ``live`` returns (every key when Prometheus scraped the service)."""

    ready: bool
    target_up: bool
    alerts_loaded: list[str]
    quiet_states: list[str]  # FeatureDrift's states during in-distribution traffic
    fired_after: float | None  # seconds of shifted traffic until it fired
    shift_states: list[str]
    psi_at_end: dict[str, str]  # feature_drift_psi by feature, at the end
    requests: int
    unexpected: list[str]


class QueryAnswer(TypedDict):
    """One answer of ``queries``: the query's status, error and number of series, and the first
    series (labels and value) for template variables looked up."""

    status: str | None
    error: str
    series: int
    rows: list[dict[str, Any]]


def call(method: str, url: str, body: Any = None, timeout: float = 5) -> tuple[int, str]:
    """One HTTP request; (status, text), status 0 when no complete answer of at most 1 MB came
    within ``timeout`` seconds in all (``probe_cli.exchange``)."""
    from probe_cli import exchange  # staged beside this probe in the sandbox

    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else None
    try:
        status, content = exchange(method, url, data, headers, deadline=timeout)
    except (OSError, ValueError):
        return 0, ""
    return status, content.decode("utf-8", "replace")


def statistics(drift_py: str, datasets_json: str) -> Statistics:
    """Import the learner's drift module by path and run psi() and ks() on every dataset."""
    spec = importlib.util.spec_from_file_location("learner_drift", drift_py)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the learner's module: any failure is theirs to see
        return Statistics(import_error=f"{type(error).__name__}: {error}")
    results: dict[str, Any] = {}
    for name, data in json.load(open(datasets_json)).items():
        row: dict[str, Any] = {}
        for function in ("psi", "ks"):
            try:
                row[function] = float(getattr(module, function)(data["reference"], data["current"]))
            except Exception as error:
                row[function] = f"{type(error).__name__}: {error}"[:300]
        results[name] = row
    return Statistics(results=results)


class Traffic:
    """Requests to /predict with rows of the grader's traffic file, one broken row now and then."""

    def __init__(self, url: str, rows: list[dict[str, float]]) -> None:
        self.url, self.rows, self.sent, self.position = url, rows, 0, 0
        self.unexpected: list[str] = []

    def send(self) -> None:
        """Send one request (the next rows, or a malformed one); note an unexpected status."""
        self.sent += 1
        if self.sent % MALFORMED_EVERY == 0:
            status, _ = call("POST", self.url + "/predict", {"instances": [{"age": "forty"}]})
            if not 400 <= status < 500:
                self.unexpected.append(f"a malformed request got {status}")
            return
        batch = [self.rows[(self.position + i) % len(self.rows)] for i in range(ROWS_PER_REQUEST)]
        self.position += ROWS_PER_REQUEST
        status, text = call("POST", self.url + "/predict", {"instances": batch})
        if status != 200:
            self.unexpected.append(f"a valid request got {status}: {text[:200]}")


def health(url: str) -> Health:
    """GET ``url``/health's status (0: no answer within 2 s)."""
    return Health(status=call("GET", url + "/health", timeout=2)[0])


def metrics(url: str, traffic_json: str) -> MetricsPage:
    """Ten requests (one malformed), then GET /metrics."""
    traffic = Traffic(url, json.load(open(traffic_json))["quiet"])
    traffic.sent = MALFORMED_EVERY - 10
    _, before = call("GET", url + "/metrics")
    started = time.perf_counter()
    for _ in range(10):
        traffic.send()
    seconds = time.perf_counter() - started
    status, text = call("GET", url + "/metrics")
    return MetricsPage(
        status=status,
        text=text,
        unexpected=traffic.unexpected[:5],
        before=before,
        seconds=round(seconds, 4),
    )


def query(prometheus: str, expr: str) -> dict[str, Any]:
    """An instant query; its status, error and result."""
    status, text = call(
        "GET", f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    )
    try:
        body = json.loads(text)
    except ValueError:
        return {"status": "error", "error": f"HTTP {status}", "result": []}
    return {
        "status": body.get("status"),
        "error": body.get("error", ""),
        "result": (body.get("data") or {}).get("result") or [],
    }


def alert_states(prometheus: str) -> list[str]:
    """The states of every FeatureDrift alert Prometheus has now."""
    _, text = call("GET", prometheus + "/api/v1/alerts")
    try:
        alerts = json.loads(text)["data"]["alerts"]
    except (ValueError, KeyError, TypeError):
        return ["unreadable"]
    return [a.get("state", "") for a in alerts if a.get("labels", {}).get("alertname") == ALERT]


def wait_for(check: Any, seconds: float) -> bool:
    """Call ``check`` every 0.5 s until it is true or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def live(url: str, prometheus: str, traffic_json: str, quiet: str, bound: str) -> LiveSeen:
    """In-distribution traffic for ``quiet`` s (watching FeatureDrift), then shifted traffic until
    FeatureDrift fires or ``bound`` s pass."""
    rows = json.load(open(traffic_json))
    out = LiveSeen(ready=wait_for(lambda: call("GET", prometheus + "/-/ready")[0] == 200, 30))

    def target_up() -> bool:
        return any(
            s["value"][1] == "1" for s in query(prometheus, 'up{job="drift-service"}')["result"]
        )

    out["target_up"] = out["ready"] and wait_for(target_up, 10)
    if not out["target_up"]:  # nothing to watch: the traffic would prove nothing
        nothing = LiveSeen(quiet_states=[], fired_after=None, shift_states=[])
        return LiveSeen(**out, **nothing, alerts_loaded=[], psi_at_end={}, requests=0)
    _, text = call("GET", prometheus + "/api/v1/rules")
    try:
        groups = json.loads(text)["data"]["groups"]
        out["alerts_loaded"] = sorted(
            {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
        )
    except (ValueError, KeyError, TypeError):
        out["alerts_loaded"] = []
    traffic = Traffic(url, rows["quiet"])
    for _ in range(50):  # fill the service's window with in-distribution rows
        traffic.send()
    out["quiet_states"] = sorted(
        set(phase(traffic, prometheus, float(quiet), stop_when_firing=False))
    )
    traffic.rows, traffic.position = rows["shifted"], 0
    started = time.monotonic()
    states = phase(traffic, prometheus, float(bound), stop_when_firing=True)
    out["fired_after"] = round(time.monotonic() - started, 1) if "firing" in states else None
    out["shift_states"] = sorted(set(states))
    out["psi_at_end"] = {
        s["metric"].get("feature", "?"): s["value"][1]
        for s in query(prometheus, "feature_drift_psi")["result"]
    }
    out["requests"], out["unexpected"] = traffic.sent, traffic.unexpected[:5]
    return out


def phase(
    traffic: Traffic, prometheus: str, seconds: float, *, stop_when_firing: bool
) -> list[str]:
    """Send traffic at ``PACE`` for ``seconds``, reading FeatureDrift's states every second."""
    seen: list[str] = []
    started = last_look = time.monotonic()
    while time.monotonic() - started < seconds:
        traffic.send()
        if time.monotonic() - last_look >= 1:
            last_look = time.monotonic()
            seen += alert_states(prometheus)
            if stop_when_firing and "firing" in seen:
                break
        time.sleep(PACE)
    return seen


def queries(prometheus: str, exprs_json: str) -> list[QueryAnswer]:
    """Each query's status, error and number of series, with its first ``MAX_ROWS`` series."""
    answers = []
    for expr in json.loads(exprs_json):
        answer = query(prometheus, expr)
        rows = [
            {
                "metric": {str(k)[:100]: str(v)[:200] for k, v in list(s["metric"].items())[:20]},
                "value": [str(x)[:50] for x in s.get("value") or []],
            }
            for s in answer["result"][:MAX_ROWS]
            if isinstance(s, dict) and isinstance(s.get("metric"), dict)
        ]
        answers.append(
            QueryAnswer(
                status=answer["status"],
                error=str(answer["error"])[:500],
                series=len(answer["result"]),
                rows=rows,
            )
        )
    return answers


if __name__ == "__main__":
    from probe_cli import serve

    serve(
        {
            "statistics": statistics,
            "health": health,
            "metrics": metrics,
            "live": live,
            "queries": queries,
        }
    )
