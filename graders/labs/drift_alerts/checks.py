"""Grader of professional/02-drift-alerts: its acceptance criteria, in order, one check each.

The learner's drift module runs in the sandbox on hidden datasets; their service runs from their
image, scraped by a real Prometheus that loads their rules; promtool runs their tests and the
grader's hidden ones (see ``drift_alerts_fixtures`` and ``drift_alerts_promtool``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from graders.checks import PartialCredit, check
from graders.containers.workspace import GRADER, SUBMISSION, Workspace
from graders.errors import LearnerFailure
from graders.fixtures.prometheus import promtool
from graders.fixtures.scenario import temporary_folder
from graders.labs.drift_alerts import exposition, grafana, statistics, templating
from graders.labs.drift_alerts.data import DATASETS_JSON, TRAFFIC_JSON
from graders.labs.drift_alerts.fixtures import (
    BOUND_SECONDS,
    EVERY,
    SERVICE_URL,
    SHORT_FOR,
    LiveRun,
)
from graders.labs.drift_alerts.probe import MetricsPage, QueryAnswer, Statistics
from graders.labs.drift_alerts.promtool import (
    DRIFT_ALERT,
    LATENCY_ALERT,
    SCENARIOS,
    alert_intervals,
    alerting_rules,
    load_rules,
    results,
    run_script,
    tested_alerts,
)

# family (as Prometheus' parser names it) -> type, label names every series must carry
MIN_PANELS = 4
LIVE_RUN = (
    f"for this run the grader evaluated every rule group every {EVERY} "
    f"and set every `for` to {SHORT_FOR}"
)
COVERED = {
    "the latency histogram": "model_request_duration_seconds",
    "the error counter": "model_request_errors",
    "the PSI gauges": "feature_drift_psi",
}


@check(
    1,
    points=20,
    hint="Follow the README's binning exactly: quantile edges of the reference, "
    "bins closed on the left, proportions below 0.0001 raised to 0.0001; sort before the ECDFs.",
)
def test_psi_and_ks_match_an_independent_implementation(workspace: Workspace) -> None:
    """`psi` and `ks` agree with an independent implementation on hidden datasets"""
    answer: Statistics = workspace.probe(
        "statistics",
        f"{SUBMISSION}/service/drift.py",
        f"{GRADER}/{DATASETS_JSON}",
        timeout=120,
        failure="service/drift.py could not be run",
    )
    if "import_error" in answer:
        raise LearnerFailure(f"service/drift.py does not import: {answer['import_error']}")
    wrong = []
    datasets = statistics.hidden_datasets()
    for name, data in datasets.items():
        for function in ("psi", "ks"):
            expected = getattr(statistics, function)(data["reference"], data["current"])
            got = answer["results"][name][function]
            if not statistics.agrees(expected, got):
                wrong.append(f"{function} on {name}: expected {expected:.6f}, got {got}")
    pairs = 2 * len(datasets)
    if wrong:
        reason = f"{len(wrong)} of {pairs} results differ:\n" + "\n".join(wrong[:4])
        if len(wrong) == pairs:
            raise AssertionError(reason)
        raise PartialCredit((pairs - len(wrong)) / pairs, reason)


@check(
    2,
    points=15,
    hint="Use prometheus_client's Counter, Histogram and Gauge with exactly the "
    "names and labels of the README's table; label requests with the route and the status code.",
)
def test_metrics_endpoint_exposes_named_metrics(
    scoring_service: Container, workspace: Workspace, record_property: Any
) -> None:
    """`/metrics` exposes the named metrics with the right types and labels"""
    answer: MetricsPage = workspace.probe("metrics", SERVICE_URL, f"{GRADER}/{TRAFFIC_JSON}")
    assert answer["status"] == 200, f"GET /metrics answered {answer['status'] or 'nothing'}"
    families = exposition.read_families(answer["text"])
    problems = exposition.shape_problems(families)
    assert not problems, "\n".join(problems)
    statuses = sorted({s.labels["status"] for s in families["model_requests"].samples})
    record_property("message", f"statuses {statuses}")
    before = exposition.read_families(answer["before"]) if answer["before"] else {}
    problems = exposition.value_problems(before, families, answer["seconds"])
    problems += exposition.feature_problems(families)
    assert not problems, "\n".join(problems)


@check(
    3,
    points=15,
    hint="Run `promtool check rules monitoring/rules.yml` and `promtool test "
    "rules monitoring/rules_test.yml`; test both alerts with alert_rule_test.",
)
def test_rules_valid_and_own_tests_pass(
    monitoring_copy: Path, docker_client: docker.DockerClient, prometheus_image: str, run_id: str
) -> None:
    """The rules pass `promtool check rules` and your own `promtool` tests pass"""
    try:
        alerts = {
            rule["alert"] for rule in alerting_rules(load_rules(monitoring_copy / "rules.yml"))
        }
    except ValueError as problem:
        raise AssertionError(str(problem)) from None
    assert {DRIFT_ALERT, LATENCY_ALERT} <= alerts, (
        f"the rules define the alerts {sorted(alerts)}: expected {DRIFT_ALERT} and {LATENCY_ALERT}"
    )
    checked = promtool(
        docker_client,
        prometheus_image,
        "promtool check rules /m/rules.yml",
        run_id=run_id,
        mounts={monitoring_copy: "/m"},
    )
    assert checked.ok, f"promtool check rules failed:\n{(checked.stdout + checked.stderr)[-1500:]}"
    tested = tested_alerts(monitoring_copy / "rules_test.yml")
    assert {DRIFT_ALERT, LATENCY_ALERT} <= tested, (
        f"rules_test.yml has alert_rule_test cases for {sorted(tested) or 'no alert'}: "
        f"expected {DRIFT_ALERT} and {LATENCY_ALERT}"
    )
    ran = promtool(
        docker_client,
        prometheus_image,
        "promtool test rules /m/rules_test.yml",
        run_id=run_id,
        mounts={monitoring_copy: "/m"},
    )
    assert ran.ok, f"your promtool tests fail:\n{(ran.stdout + ran.stderr).strip()[-1500:]}"


@check(
    4,
    points=20,
    hint="FeatureDrift: a feature's feature_drift_psi above 0.2 for 5m. "
    "HighLatencyP95: histogram_quantile(0.95, ...) of the /predict buckets above 0.5 for 5m.",
)
def test_hidden_promtool_tests_pass(
    monitoring_copy: Path, docker_client: docker.DockerClient, prometheus_image: str, run_id: str
) -> None:
    """The grader's hidden `promtool` tests pass against your rules"""
    try:
        intervals = alert_intervals(load_rules(monitoring_copy / "rules.yml"))
    except ValueError:
        intervals = {}  # promtool says what is wrong with them
    files = {scenario.name: scenario.test_files(intervals) for scenario in SCENARIOS}
    with temporary_folder(run_id, "hidden") as folder:
        if (monitoring_copy / "rules.yml").is_file():
            shutil.copyfile(monitoring_copy / "rules.yml", folder / "rules.yml")
        for texts in files.values():
            for name, text in texts.items():
                (folder / name).write_text(text)
        for path in folder.iterdir():
            path.chmod(0o644)
        folder.chmod(0o755)
        ran = promtool(
            docker_client,
            prometheus_image,
            run_script([name for texts in files.values() for name in texts], "/t"),
            run_id=run_id,
            mounts={folder: "/t"},
        )
    outcome = results(ran.stdout)
    failing = {
        scenario: next((n for n in texts if outcome.get(n, (1, ""))[0] != 0), None)
        for scenario, texts in files.items()
    }
    passed = {s.name for s in SCENARIOS if failing[s.name] is None}
    failed = [s for s in SCENARIOS if s.name not in passed]
    free = {
        s.name: [name for name in s.counts_with if name not in passed]
        for s in SCENARIOS
        if s.name in passed and not set(s.counts_with) <= passed
    }
    if failed:
        reason = "\n".join(f"{s.name} fails: {s.proves}" for s in failed)
        reason += "".join(
            f"\n{name} passes but does not count while {' and '.join(missing)} "
            f"{'fails' if len(missing) == 1 else 'fail'}"
            for name, missing in free.items()
        )
        first = str(failing[failed[0].name])
        reason += f"\npromtool on {first}:\n{outcome.get(first, (1, ran.stderr))[1][-1200:]}"
        credited = len(SCENARIOS) - len(failed) - len(free)
        if not credited:
            raise AssertionError(reason)
        raise PartialCredit(credited / len(SCENARIOS), reason)


@check(
    5,
    points=20,
    hint="The grader waits for FeatureDrift to be `firing` on Prometheus' /api/v1/alerts, "
    "with every rule group evaluated every second and every `for` shortened to 5 s: update the "
    "PSI gauges after every /predict from the window of recent rows, and select them in "
    "FeatureDrift with the labels the service really exports.",
)
def test_drift_alert_fires_end_to_end(live_run: LiveRun, record_property: Any) -> None:
    """End to end: no drift alert on in-distribution traffic; FeatureDrift fires on shifted
    traffic"""
    seen = live_run.seen
    assert not live_run.rules_problem, f"your rules were not loaded: {live_run.rules_problem}"
    assert seen["target_up"], "Prometheus could not scrape http://model:8000/metrics"
    assert DRIFT_ALERT in seen["alerts_loaded"], f"no {DRIFT_ALERT} alert was loaded"
    assert "firing" not in seen["quiet_states"], (
        f"{DRIFT_ALERT} fired on in-distribution traffic (PSI at the end: {seen['psi_at_end']})"
    )
    assert seen["fired_after"] is not None, (
        f"the grader waited {BOUND_SECONDS} s of shifted traffic for {DRIFT_ALERT} to be firing "
        f"on /api/v1/alerts ({LIVE_RUN}); it was not (states seen: "
        f"{seen['shift_states'] or 'none'}; feature_drift_psi at the end: {seen['psi_at_end']})"
    )
    record_property(
        "message",
        f"quiet on in-distribution traffic; {DRIFT_ALERT} firing {seen['fired_after']} s after "
        f"shifted traffic began ({LIVE_RUN})",
    )


@check(
    6,
    points=10,
    hint="Test every panel's query in Prometheus' own query page; use the "
    "metric names of the README's table.",
)
def test_dashboard_queries_return_data(
    live_run: LiveRun, workspace: Workspace, submission_dir: Path, record_property: Any
) -> None:
    """Every dashboard panel's query runs on the live Prometheus and returns data"""
    try:
        dashboard = grafana.load_dashboard(submission_dir / "monitoring/dashboard.json")
    except ValueError as problem:
        raise AssertionError(str(problem)) from None
    found = grafana.panels(dashboard)
    queried = [panel for panel in found if panel.exprs]
    assert len(queried) >= MIN_PANELS, f"{len(queried)} panels with a query: expected {MIN_PANELS}"

    def ask(exprs: list[str]) -> list[QueryAnswer]:
        answers: list[QueryAnswer] = workspace.probe(
            "queries", live_run.prometheus.url, json.dumps(exprs)
        )
        return answers

    variables = templating.read(dashboard)
    templating.settle(
        variables, lambda exprs: [a["rows"] if a["status"] == "success" else [] for a in ask(exprs)]
    )
    exprs = [templating.fill(e, variables) for panel in queried for e in panel.exprs]
    names = sorted({name for e in exprs for name in grafana.metric_names(e)})[:50]
    known = f'group by (__name__) ({{__name__=~"{"|".join(names)}"}})' if names else "vector(0)"
    *answers, existing = ask([*exprs, known])
    exported = {row["metric"].get("__name__", "") for row in existing["rows"]}
    problems, position = [], 0
    for panel in found:
        title = repr(panel.title[:80])
        if not panel.exprs:
            problems.append(f"panel {title} ({panel.kind[:40]}) has no query")
        for _ in panel.exprs:
            expr, answer = exprs[position], answers[position]
            position += 1
            shown = " ".join(expr.split())[:300]
            if answer["status"] != "success":
                problems.append(f"panel {title}: {shown} fails: {answer['error']}")
            elif answer["series"] == 0:
                why = grafana.why_no_data(expr, exported)
                problems.append(f"panel {title}: {shown} returns no data ({why})")
    missing = [f"{what} ({metric})" for what, metric in COVERED.items()
               if not any(grafana.names_metric(e, metric) for e in exprs)]  # fmt: skip
    if missing:
        problems.append(f"no panel shows {', '.join(missing)}")
    assert not problems, "\n".join(problems)
    record_property("message", f"{len(exprs)} queries of {len(queried)} panels return data")
