"""The grader's hidden ``promtool`` tests of lab professional/02-drift-alerts, and reading rules.

Each scenario is one test file written next to a copy of the learner's ``rules.yml``. The tests
never compare alert labels or annotations (those are the learner's to choose): they ask whether
*any* alert of a name is firing, through the ``ALERTS`` series promtool keeps while it evaluates
the rules, at chosen minutes of series shaped like the ones the service exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DRIFT_ALERT = "FeatureDrift"
LATENCY_ALERT = "HighLatencyP95"
FEATURES = ("age", "income", "loan_amount", "credit_score")
SCRAPED = 'job="drift-service", instance="model:8000"'
# prometheus_client's default latency buckets, as it writes them
BUCKETS = (
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.075",
    "0.1",
    "0.25",
    "0.5",
    "0.75",
    "1.0",
    "2.5",
    "5.0",
    "7.5",
    "10.0",
    "+Inf",
)
DEFAULT_INTERVAL = "1m"  # how often the hidden tests evaluate a group without an interval
MIN_INTERVAL_SECONDS = 10  # finer evaluation changes nothing on series that move every minute
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
FAST, SLOW = 0.04, 1.5  # seconds a fast and a slow request take
PER_MINUTE = 600  # requests per minute in every latency scenario


@dataclass(frozen=True)
class Scenario:
    """One hidden test file: what it proves, its series, and its expectations (minute, alert,
    firing)."""

    name: str
    proves: str
    series: dict[str, str]
    expect: tuple[tuple[int, str, bool], ...]
    # scenarios that must pass for this one to count: an alert that never fires is quiet for free
    counts_with: tuple[str, ...] = ()

    def test_file(self, evaluation: str = DEFAULT_INTERVAL, alerts: set[str] | None = None) -> str:
        """The promtool test file (YAML) of this scenario, its rules evaluated every
        ``evaluation``, asking only about ``alerts`` (None: every alert it names)."""
        checks = [
            {
                "expr": f'(count(ALERTS{{alertname="{alert}", alertstate="firing"}}) > bool 0)'
                " or vector(0)",
                "eval_time": f"{minute}m",
                "exp_samples": [{"labels": "{}", "value": int(firing)}],
            }
            for minute, alert, firing in self.expect
            if alerts is None or alert in alerts
        ]
        test = {
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in self.series.items()],
            "promql_expr_test": checks,
        }
        document = {"rule_files": ["rules.yml"], "evaluation_interval": evaluation, "tests": [test]}
        return yaml.safe_dump(document, sort_keys=False, width=200)

    def test_files(self, intervals: dict[str, str]) -> dict[str, str]:
        """File name -> test file: one per evaluation interval of the groups defining the alerts
        it asks about (``intervals``: alert -> its group's interval; promtool evaluates every
        group at the file's ``evaluation_interval``, ignoring a group's own ``interval``)."""
        by_interval: dict[str, set[str]] = {}
        for _, alert, _ in self.expect:
            by_interval.setdefault(intervals.get(alert, DEFAULT_INTERVAL), set()).add(alert)
        if len(by_interval) == 1:
            ((evaluation, _),) = by_interval.items()
            return {f"{self.name}.yml": self.test_file(evaluation)}
        return {
            f"{self.name}@{evaluation}.yml": self.test_file(evaluation, alerts)
            for evaluation, alerts in by_interval.items()
        }


def psi_series(values: dict[str, list[float]], minutes: int) -> dict[str, str]:
    """``feature_drift_psi`` series: the listed features' values per minute, the others at 0.03."""
    return {
        f'feature_drift_psi{{{SCRAPED}, feature="{feature}"}}': " ".join(
            f"{v:g}" for v in values.get(feature, [0.03] * (minutes + 1))
        )
        for feature in FEATURES
    }


def latency_series(slow_share: list[float]) -> dict[str, str]:
    """A /predict latency histogram (buckets, sum, count) with ``PER_MINUTE`` requests a minute,
    ``slow_share[m]`` of them slow in minute m."""
    cumulative = dict.fromkeys(BUCKETS, 0.0)
    total_sum, values = 0.0, {bucket: ["0"] for bucket in BUCKETS}
    sums, counts = ["0"], ["0"]
    for minute, share in enumerate(slow_share, start=1):
        slow = round(PER_MINUTE * share)
        for bucket in BUCKETS:
            bound = float("inf") if bucket == "+Inf" else float(bucket)
            cumulative[bucket] += (PER_MINUTE - slow) * (FAST <= bound) + slow * (SLOW <= bound)
            values[bucket].append(f"{cumulative[bucket]:g}")
        total_sum += (PER_MINUTE - slow) * FAST + slow * SLOW
        sums.append(f"{total_sum:g}")
        counts.append(f"{PER_MINUTE * minute}")
    name = "model_request_duration_seconds"
    labels = f'{SCRAPED}, endpoint="/predict"'
    series = {f'{name}_bucket{{{labels}, le="{b}"}}': " ".join(values[b]) for b in BUCKETS}
    series[f"{name}_sum{{{labels}}}"] = " ".join(sums)
    series[f"{name}_count{{{labels}}}"] = " ".join(counts)
    return series


def _drift_then_calm() -> dict[str, str]:
    income = [0.05] * 10 + [0.35] * 20 + [0.04] * 21  # drifts from minute 10 to minute 30
    return psi_series({"income": income}, 50)


def _several_a_little_then_one() -> dict[str, str]:
    little = {"age": 0.12, "income": 0.15, "loan_amount": 0.09, "credit_score": 0.11}  # sum 0.47
    values = {feature: [psi] * 36 for feature, psi in little.items()}
    values["credit_score"] = [0.11] * 21 + [0.3] * 15  # then credit_score alone, from minute 21
    return psi_series(values, 35)


def _noise() -> dict[str, str]:
    wobble = [0.08, 0.12, 0.19, 0.15, 0.1, 0.18, 0.09, 0.17]
    income = [wobble[m % len(wobble)] for m in range(41)]
    income[12:14] = [0.5, 0.5]  # a two-minute burst, shorter than the for
    shares = [(0.0, 0.02, 0.04, 0.01)[m % 4] for m in range(40)]
    shares[20] = 0.15  # one bad minute: 3 % of a 5-minute window
    return {**psi_series({"income": income}, 40), **latency_series(shares)}


SCENARIOS = (
    Scenario(
        "drift-fires-after-its-for",
        "FeatureDrift stays quiet for the first 5 minutes of a drift, then fires",
        _drift_then_calm(),
        (
            (9, DRIFT_ALERT, False),
            (12, DRIFT_ALERT, False),
            (14, DRIFT_ALERT, False),
            (20, DRIFT_ALERT, True),
            (29, DRIFT_ALERT, True),
        ),  # fmt: skip
    ),
    Scenario(
        "drift-clears-when-drift-ends",
        "FeatureDrift stops firing once the drift has ended",
        _drift_then_calm(),
        ((40, DRIFT_ALERT, False), (45, DRIFT_ALERT, False), (50, DRIFT_ALERT, False)),
        counts_with=("drift-fires-after-its-for",),
    ),
    Scenario(
        "drift-judged-per-feature",
        "FeatureDrift judges each feature alone: quiet while the four features drift a little "
        "(PSI 0.09 to 0.15, 0.47 together), firing once credit_score alone is at 0.3 for 5 minutes",
        _several_a_little_then_one(),
        (
            *((m, DRIFT_ALERT, False) for m in range(0, 21, 2)),
            (24, DRIFT_ALERT, False),
            (30, DRIFT_ALERT, True),
            (35, DRIFT_ALERT, True),
        ),
    ),
    Scenario(
        "latency-fires-on-a-slow-tail",
        "HighLatencyP95 fires when 10 % of requests take 1.5 s (p95 about 1.75 s, mean 0.19 s)",
        latency_series([0.1] * 30),
        ((3, LATENCY_ALERT, False), (15, LATENCY_ALERT, True), (25, LATENCY_ALERT, True)),
    ),
    Scenario(
        "latency-quiet-when-fast",
        "HighLatencyP95 stays quiet when every request takes 0.04 s",
        latency_series([0.0] * 30),
        tuple((minute, LATENCY_ALERT, False) for minute in (5, 10, 20, 30)),
        counts_with=("latency-fires-on-a-slow-tail",),
    ),
    Scenario(
        "no-alert-on-noise",
        "neither alert fires on PSI wobbling below 0.2 with a 2-minute burst, nor on rare slow "
        "requests",
        _noise(),
        tuple((m, alert, False) for m in range(0, 41, 2) for alert in (DRIFT_ALERT, LATENCY_ALERT)),
        counts_with=("drift-fires-after-its-for", "latency-fires-on-a-slow-tail"),
    ),
)


def load_rules(path: Path) -> dict[str, Any]:
    """The learner's rules file as YAML data; ValueError saying what is wrong."""
    if not path.is_file():
        raise ValueError(f"there is no {path.name}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace")[:1_000_000])
    except yaml.YAMLError as problem:
        raise ValueError(f"{path.name} is not valid YAML: {str(problem).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError(f"{path.name} has no list of rule groups")
    return data


def alerting_rules(rules: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alerting rule (a mapping with ``alert``) of every group."""
    return [
        rule
        for group in rules["groups"]
        if isinstance(group, dict)
        for rule in group.get("rules") or []
        if isinstance(rule, dict) and "alert" in rule
    ]


def seconds(duration: Any) -> float | None:
    """A Prometheus duration (``30s``, ``1m30s``) in seconds; None when it is not one."""
    match = _DURATION.match(str(duration)) if str(duration) not in ("", "0") else None
    if not match or not any(match.groups()):
        return None
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS, strict=True) if n)


def alert_intervals(rules: dict[str, Any]) -> dict[str, str]:
    """Alert name -> the evaluation interval of the group defining it, for the hidden tests
    (``DEFAULT_INTERVAL`` for a group without one; at least ``MIN_INTERVAL_SECONDS``)."""
    intervals: dict[str, str] = {}
    for group in rules["groups"]:
        if not isinstance(group, dict):
            continue
        every = seconds(group.get("interval"))
        interval = DEFAULT_INTERVAL if every is None else f"{max(every, MIN_INTERVAL_SECONDS):g}s"
        for rule in group.get("rules") or []:
            if isinstance(rule, dict) and "alert" in rule:
                intervals.setdefault(str(rule["alert"]), interval)
    return intervals


def for_live_run(rules: dict[str, Any], every: str, to: str) -> str:
    """The rules as YAML for a live run: every group evaluated every ``every`` (the global
    evaluation interval), every alerting rule's ``for`` set to ``to``."""
    for group in rules["groups"]:
        if isinstance(group, dict) and "interval" in group:
            group["interval"] = every
    for rule in alerting_rules(rules):
        if rule.get("for"):
            rule["for"] = to
    return yaml.safe_dump(rules, sort_keys=False)


_SECTION = re.compile(r"^== (\S+) start$\n(.*?)^== \1 exit (\d+)$", re.M | re.S)


def run_script(files: list[str], folder: str) -> str:
    """A shell script that runs ``promtool test rules`` on each file, between markers that carry
    the file's name and promtool's exit status (its output is capped)."""
    return "; ".join(
        f'echo "== {name} start"; promtool test rules {folder}/{name} >/tmp/out 2>&1; code=$?; '
        f'head -c 20000 /tmp/out; echo; echo "== {name} exit $code"'
        for name in files
    )


def results(output: str) -> dict[str, tuple[int, str]]:
    """Each file's exit status and output, read from ``run_script``'s markers."""
    return {name: (int(code), text.strip()) for name, text, code in _SECTION.findall(output)}


def tested_alerts(path: Path) -> set[str]:
    """The alert names the learner's own test file has ``alert_rule_test`` cases for."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace")[:1_000_000])
    except (OSError, yaml.YAMLError):
        return set()
    tests = data.get("tests") if isinstance(data, dict) else None
    return {
        str(case.get("alertname"))
        for test in tests or []
        if isinstance(test, dict)
        for case in test.get("alert_rule_test") or []
        if isinstance(case, dict)
    }
