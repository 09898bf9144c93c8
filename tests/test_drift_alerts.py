"""Lab professional/02-drift-alerts: the grader's own pieces, each on a case worked by hand.

Its statistics (the independent PSI and KS), its reading of Grafana dashboards and Prometheus
rules, its hidden promtool scenarios, and Prometheus itself in a container.
"""

from __future__ import annotations

import json
import math
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from graders.containers.cleanup import remove_run_resources
from graders.containers.images import infra_image
from graders.containers.running import run_network
from graders.errors import EnvironmentProblem
from graders.fixtures.prometheus import promtool, running_prometheus
from graders.labs.drift_alerts import exposition, grafana, statistics, templating
from graders.labs.drift_alerts.data import REFERENCE_ROWS, applications, write_reference
from graders.labs.drift_alerts.promtool import (
    BUCKETS,
    SCENARIOS,
    alert_intervals,
    for_live_run,
    latency_series,
    load_rules,
    results,
    run_script,
    seconds,
)

SOLUTION = Path(__file__).parents[1] / "labs/professional/02-drift-alerts/solution"


def test_quantile_interpolates_linearly_between_order_statistics() -> None:
    assert statistics.quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert statistics.quantile([0.0, 10.0], 0.25) == 2.5
    assert statistics.quantile([7.0], 0.9) == 7.0


def test_psi_of_identical_samples_is_zero() -> None:
    values = [float(x) for x in range(100)]
    assert statistics.psi(values, list(reversed(values))) == pytest.approx(0.0, abs=1e-12)


def test_psi_smooths_empty_bins_instead_of_giving_infinity() -> None:
    # reference 0..99 has one value in ten per bin; every current value is in the top bin
    reference = [float(x) for x in range(100)]
    current = [500.0] * 10
    expected = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + (1.0 - 0.1) * math.log(1.0 / 0.1)
    assert statistics.psi(reference, current) == pytest.approx(expected)


def test_psi_puts_a_value_equal_to_an_edge_in_the_upper_bin() -> None:
    reference = [1.0] * 5 + [2.0] * 5  # edges 1, 1, 1, 1, 1.5, 2, 2, 2, 2
    just_below = statistics.psi(reference, [1.4999] * 10)  # with the 1s: half the reference
    on_the_edge = statistics.psi(reference, [1.5] * 10)  # in the empty bin above 1.5
    low = (1 - 1e-4) * math.log(1e4)
    half = (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert just_below == pytest.approx(0.5 * math.log(2) + half)
    assert on_the_edge == pytest.approx(low + 2 * half)


def test_ks_is_the_largest_gap_between_the_empirical_distributions() -> None:
    assert statistics.ks([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == 1.0
    assert statistics.ks([3.0, 1.0, 2.0, 4.0], [2.0, 1.0]) == 0.5
    assert statistics.ks([1.0, 2.0], [2.0, 1.0]) == 0.0


@pytest.mark.parametrize("got", [math.inf, math.nan, True, "0.1", None])
def test_agrees_refuses_what_is_not_a_finite_number(got: Any) -> None:
    assert not statistics.agrees(0.1, got)


def test_agrees_within_the_tolerance_only() -> None:
    assert statistics.agrees(0.5, 0.5 + 5e-7)
    assert not statistics.agrees(0.5, 0.5 + 5e-6)
    assert statistics.agrees(8000.0, 8000.004)  # relative above 1


def test_hidden_datasets_are_the_same_on_every_call() -> None:
    assert statistics.hidden_datasets() == statistics.hidden_datasets()


def test_shipped_reference_window_is_regenerated_byte_for_byte(tmp_path: Path) -> None:
    write_reference(tmp_path / "reference.csv")
    shipped = (SOLUTION / "data/reference.csv").read_bytes()
    assert (tmp_path / "reference.csv").read_bytes() == shipped
    assert shipped.count(b"\n") == REFERENCE_ROWS + 1


def test_shifted_traffic_drifts_on_income_and_calm_traffic_does_not() -> None:
    reference = list(applications(8001, 2_000))
    calm, shifted = list(applications(8002, 500)), list(applications(8003, 500, shifted=True))

    def psi(rows: list[dict[str, float]], feature: str) -> float:
        return statistics.psi([r[feature] for r in reference], [r[feature] for r in rows])

    assert max(psi(calm, f) for f in ("age", "income", "loan_amount", "credit_score")) < 0.1
    assert psi(shifted, "income") > 1.0 and psi(shifted, "credit_score") > 1.0


DASHBOARD = {
    "templating": {"list": [{"name": "feature", "current": {"value": "$__all"}}]},
    "panels": [
        {"type": "row", "title": "r", "panels": [
            {"type": "timeseries", "title": "nested", "targets": [{"expr": "up"}]},
        ]},
        {"type": "text", "title": "notes"},
        {"type": "stat", "title": "hidden target", "targets": [
            {"expr": "a", "hide": True}, {"expr": "b"},
        ]},
        {"type": "gauge", "title": "no query", "targets": []},
    ],
}  # fmt: skip


def test_panels_include_nested_ones_and_skip_rows_text_and_hidden_targets() -> None:
    found = grafana.panels(DASHBOARD)
    assert [(p.title, p.exprs) for p in found] == [
        ("nested", ("up",)),
        ("hidden target", ("b",)),
        ("no query", ()),
    ]


def test_fill_puts_in_grafana_and_template_variables() -> None:
    expr = 'rate(x{feature=~"$feature"}[$__rate_interval]) + y[${__range}] offset [[__interval]]'
    filled = templating.fill(expr, templating.read(DASHBOARD))
    assert filled == 'rate(x{feature=~".*"}[1m]) + y[5m] offset 15s'


def _variables(*variables: dict[str, Any]) -> dict[str, templating.Variable]:
    return templating.read({"templating": {"list": list(variables)}})


def test_variables_without_current_take_what_grafana_selects_on_load() -> None:
    found = _variables(
        {"name": "job", "type": "constant", "query": "drift-service"},
        {"name": "first", "type": "custom", "query": "income : inc, age"},
        {"name": "box", "type": "textbox", "query": "income"},
        {"name": "step", "type": "interval", "query": "2m,10m"},
        {"name": "every", "type": "custom", "query": "income,age", "includeAll": True},
        {"name": "saved", "type": "query", "query": "x", "options": [{"value": "age"}]},
    )
    expr = '{job="$job", a="$first", b="${box}", c=~"[[every]]", d="$saved"}[$step]'
    assert templating.fill(expr, found) == (
        '{job="drift-service", a="inc", b="income", c=~"(income|age)", d="age"}[2m]'
    )


def test_multi_values_all_and_formats_follow_the_prometheus_data_source() -> None:
    found = _variables(
        {"name": "f", "multi": True, "current": {"value": ["income", "a.b"]}},
        {"name": "one", "multi": True, "current": {"value": ["income"]}},
        {"name": "any", "includeAll": True, "allValue": ".+", "current": {"value": "$__all"}},
        {"name": "plain", "current": {"text": "x", "value": "x"}},
    )
    assert templating.fill('=~"$f" =~"$one" =~"$any" ="$plain"', found) == (
        '=~"(income|a\\\\.b)" =~"income" =~".+" ="x"'
    )
    assert templating.fill("${f:csv} ${f:pipe} ${f:regex} ${one:json} $nope", found) == (
        'income,a.b income|a.b (income|a\\.b) "income" $nope'
    )


def test_a_query_variable_without_options_is_looked_up_on_prometheus() -> None:
    found = _variables(
        {"name": "job", "type": "constant", "query": "drift-service"},
        {"name": "feature", "type": "query", "includeAll": True, "sort": 1,
         "query": {"query": 'label_values(feature_drift_psi{job="$job"}, feature)'}},
        {"name": "first", "type": "query", "query": "label_values(feature)", "regex": "/^(a.*)/"},
        {"name": "odd", "type": "query", "query": "label_names()"},
    )  # fmt: skip
    asked: list[list[str]] = []

    def ask(queries: list[str]) -> list[list[dict[str, Any]]]:
        asked.append(queries)
        return [[{"metric": {"feature": f}} for f in ("income", "age")] for _ in queries]

    templating.settle(found, ask)
    assert asked == [[
        'group by (feature) (feature_drift_psi{job="drift-service"})',
        'group by (feature) ({feature!=""})',
    ]]  # fmt: skip
    expr = 'x{feature=~"$feature"} y{feature="$first"} z{l=~"$odd"}'
    assert templating.fill(expr, found) == 'x{feature=~"(age|income)"} y{feature="age"} z{l=~".*"}'


def test_metric_names_and_why_a_query_returns_nothing() -> None:
    expr = 'sum by (le) (rate(a_bucket{job="b"}[1m] offset 5m)) / on(x) group_left c * 1e3'
    assert grafana.metric_names(expr) == ["a_bucket", "c"]
    assert "no series of a_bucket" in grafana.why_no_data(expr, {"c"})
    assert "label matcher or filter" in grafana.why_no_data(expr, {"a_bucket", "c"})


def test_names_metric_ignores_label_values_and_longer_names() -> None:
    assert grafana.names_metric("sum(rate(model_request_errors_total[1m]))", "model_request_errors")
    assert not grafana.names_metric('up{job="feature_drift_psi"}', "feature_drift_psi")
    assert not grafana.names_metric("feature_drift_psi_max", "feature_drift_psi")


def test_load_dashboard_unwraps_an_api_export_and_refuses_other_json(tmp_path: Path) -> None:
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps({"dashboard": {"panels": []}}))
    assert grafana.load_dashboard(path) == {"panels": []}
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="no list of panels"):
        grafana.load_dashboard(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        grafana.load_dashboard(path)


def test_load_rules_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="there is no rules.yml"):
        load_rules(tmp_path / "rules.yml")
    (tmp_path / "rules.yml").write_text("groups: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_rules(tmp_path / "rules.yml")
    (tmp_path / "rules.yml").write_text("alerts: []\n")
    with pytest.raises(ValueError, match="no list of rule groups"):
        load_rules(tmp_path / "rules.yml")


def test_live_run_shortens_every_for_and_group_interval_and_keeps_the_rest() -> None:
    rules = load_rules(SOLUTION / "monitoring/rules.yml")
    rules["groups"][0]["interval"] = "30s"
    shortened = yaml.safe_load(for_live_run(rules, "1s", "5s"))
    assert [g.get("interval") for g in shortened["groups"]] == ["1s", None]
    alerts = [r for g in shortened["groups"] for r in g["rules"]]
    assert [r["for"] for r in alerts] == ["5s", "5s"]
    assert [r["alert"] for r in alerts] == ["FeatureDrift", "HighLatencyP95"]
    assert "0.2" in alerts[0]["expr"] and alerts[0]["labels"] == {"severity": "warning"}


def test_slow_tail_series_has_a_high_p95_but_a_low_mean() -> None:
    series = latency_series([0.1] * 3)
    count = series[next(k for k in series if "_count" in k)].split()
    total = series[next(k for k in series if "_sum" in k)].split()
    assert count == ["0", "600", "1200", "1800"]
    assert float(total[-1]) / float(count[-1]) == pytest.approx(0.186)
    below_one = series[next(k for k in series if 'le="1.0"' in k)].split()
    assert float(below_one[-1]) / float(count[-1]) == pytest.approx(0.9)  # 10 % above 1 s
    assert len([k for k in series if "_bucket" in k]) == len(BUCKETS)


def test_hidden_tests_evaluate_each_alert_at_its_groups_interval() -> None:
    assert [seconds(d) for d in ("30s", "1m30s", "100ms", "0", "soon")] == [30, 90, 0.1, None, None]
    rules = load_rules(SOLUTION / "monitoring/rules.yml")
    rules["groups"][0]["interval"] = "30s"
    rules["groups"][1]["interval"] = "1s"
    intervals = alert_intervals(rules)
    assert intervals == {"FeatureDrift": "30s", "HighLatencyP95": "10s"}
    noise = next(s for s in SCENARIOS if s.name == "no-alert-on-noise").test_files(intervals)
    assert sorted(noise) == ["no-alert-on-noise@10s.yml", "no-alert-on-noise@30s.yml"]
    document = yaml.safe_load(noise["no-alert-on-noise@30s.yml"])
    assert document["evaluation_interval"] == "30s"
    assert all("FeatureDrift" in c["expr"] for c in document["tests"][0]["promql_expr_test"])
    assert list(SCENARIOS[0].test_files({})) == [f"{SCENARIOS[0].name}.yml"]


def test_every_scenario_file_loads_the_learners_rules_and_asks_about_alerts() -> None:
    for scenario in SCENARIOS:
        document = yaml.safe_load(scenario.test_file())
        assert document["rule_files"] == ["rules.yml"]
        checks = document["tests"][0]["promql_expr_test"]
        assert len(checks) == len(scenario.expect) and all("ALERTS" in c["expr"] for c in checks)


def test_results_reads_each_files_exit_and_output() -> None:
    output = (
        "== a.yml start\nSUCCESS\n\n== a.yml exit 0\n== b.yml start\nFAILED: x\n== b.yml exit 1\n"
    )
    assert results(output) == {"a.yml": (0, "SUCCESS"), "b.yml": (1, "FAILED: x")}


def _folder(files: dict[str, str]) -> tempfile.TemporaryDirectory[str]:
    temporary = tempfile.TemporaryDirectory()
    for name, text in files.items():
        (Path(temporary.name) / name).write_text(text)
        (Path(temporary.name) / name).chmod(0o644)
    Path(temporary.name).chmod(0o755)
    return temporary


@pytest.fixture
def prometheus_run(docker_engine: docker.DockerClient) -> Iterator[tuple[str, str, str]]:
    """The Prometheus image, a run id and an internal network of that run (removed after)."""
    image = infra_image(docker_engine, "prometheus")
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    try:
        with run_network(docker_engine, run_id, f"mlops-labs-{run_id}", internal=True) as network:
            yield image, run_id, str(network.name)
    finally:
        remove_run_resources(docker_engine, run_id)


@pytest.mark.docker
def test_hidden_scenarios_pass_on_the_reference_rules_and_a_silent_rule_fails_them(
    docker_engine: docker.DockerClient, prometheus_run: tuple[str, str, str]
) -> None:
    image, run_id, _ = prometheus_run
    reference = (SOLUTION / "monitoring/rules.yml").read_text()
    silent = "groups: [{name: g, rules: [{alert: FeatureDrift, expr: vector(0) > 1}]}]\n"
    summed = reference.replace(
        'max by (feature) (feature_drift_psi{job="drift-service"})',
        'sum(feature_drift_psi{job="drift-service"})',
    )
    income_only = reference.replace('{job="drift-service"}) > 0.2', '{feature="income"}) > 0.2')

    def every(interval: str) -> str:  # the drift group evaluated every ``interval``
        return reference.replace(
            "name: model-drift\n", f"name: model-drift\n    interval: {interval}\n"
        )

    fires = {"drift-fires-after-its-for", "latency-fires-on-a-slow-tail"}
    for rules, fails in (
        (reference, set()),
        (every("30s"), set()),
        (every("15m"), {"drift-fires-after-its-for", "drift-judged-per-feature"}),
        (silent, fires | {"drift-judged-per-feature"}),
        (summed, {"drift-judged-per-feature"}),
        (income_only, {"drift-judged-per-feature"}),
    ):
        assert rules != reference or not fails
        intervals = alert_intervals(yaml.safe_load(rules))
        files = {n: t for s in SCENARIOS for n, t in s.test_files(intervals).items()}
        with _folder({**files, "rules.yml": rules}) as folder:
            done = promtool(
                docker_engine, image, run_script(sorted(files), "/t"),
                run_id=run_id, mounts={Path(folder): "/t"},
            )  # fmt: skip
        outcome = results(done.stdout)
        assert set(outcome) == set(files)
        failed = {
            name.split("@")[0].removesuffix(".yml") for name, (code, _) in outcome.items() if code
        }
        assert failed == fails, rules


@pytest.mark.docker
def test_prometheus_starts_on_its_network_and_a_bad_config_is_an_environment_problem(
    docker_engine: docker.DockerClient, prometheus_run: tuple[str, str, str]
) -> None:
    image, run_id, network = prometheus_run
    config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [
        {"job_name": "self", "static_configs": [{"targets": ["localhost:9090"]}]},
    ]}  # fmt: skip
    with _folder({"prometheus.yml": yaml.safe_dump(config)}) as folder:
        with running_prometheus(
            docker_engine, image, run_id=run_id, network=network,
            alias="prometheus-test", config_dir=Path(folder),
        ) as server:  # fmt: skip
            assert server.url == "http://prometheus-test:9090"
            assert "Server is ready" in server.logs(50)
    with _folder({"prometheus.yml": "scrape_configs: [{job_name: 1, nonsense: true}]\n"}) as bad:
        with pytest.raises(EnvironmentProblem, match="did not start"):
            with running_prometheus(
                docker_engine, image, run_id=run_id, network=network,
                alias="prometheus-bad", config_dir=Path(bad),
            ):  # fmt: skip
                pass


def page(
    ok: int, bad: int, errors: int, count: int, seconds: float, endpoint: str = "/predict"
) -> str:
    """A /metrics page of the README's table after ``ok`` and ``bad`` requests."""
    e = f'endpoint="{endpoint}"'
    lines = [
        "# TYPE model_requests_total counter",
        f'model_requests_total{{{e},status="200"}} {ok}',
        f'model_requests_total{{{e},status="422"}} {bad}',
        "# TYPE model_request_errors_total counter",
        f"model_request_errors_total{{{e}}} {errors}",
        "# TYPE model_request_duration_seconds histogram",
        *(
            f'model_request_duration_seconds_bucket{{{e},le="{le}"}} 0'
            for le in (
                0.005,
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.25,
                0.5,
                0.75,
                1.0,
                2.5,
                5.0,
                7.5,
                10.0,
            )
        ),
        f'model_request_duration_seconds_bucket{{{e},le="+Inf"}} {count}',
        f"model_request_duration_seconds_count{{{e}}} {count}",
        f"model_request_duration_seconds_sum{{{e}}} {seconds}",
        "# TYPE model_prediction_score histogram",
        *(f'model_prediction_score_bucket{{le="{n / 10:g}"}} 0' for n in range(1, 11)),
        'model_prediction_score_bucket{le="+Inf"} 1',
        "model_prediction_score_count 1",
        "model_prediction_score_sum 0.5",
        "# TYPE feature_drift_psi gauge",
        *(
            f'feature_drift_psi{{feature="{f}"}} 0.01'
            for f in ("age", "income", "loan_amount", "credit_score")
        ),
        "# TYPE feature_drift_ks gauge",
        'feature_drift_ks{feature="age"} 0.01',
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("after", "said"),
    [
        (page(9, 1, 1, 10, 0.08), None),
        (page(9, 1, 1, 9, 0.08), None),  # the malformed request refused before it was timed
        (page(9, 1, 1, 10, 80.0), "the latency is not in seconds"),  # milliseconds
        (page(9, 1, 1, 10, 0.08, endpoint="predict"), 'no series with endpoint="/predict"'),
        (page(10, 0, 0, 10, 0.08), "grew by 10 with status"),
        (page(9, 1, 0, 10, 0.08), "model_request_errors_total"),
        (page(18, 2, 2, 20, 0.16), "grew by 18"),  # each request counted twice
    ],
)
def test_the_ten_requests_are_recomputed_from_the_metrics_page(
    after: str, said: str | None
) -> None:
    families = exposition.read_families(after)
    assert exposition.shape_problems(families) == []
    problems = exposition.value_problems({}, families, seconds=0.2)
    assert (said is None and problems == []) or (said and said in problems[0]), problems


def test_what_the_page_held_before_the_requests_is_taken_off() -> None:
    before = exposition.read_families(page(90, 10, 10, 100, 5.0))
    after = exposition.read_families(page(99, 11, 11, 110, 5.1))
    assert exposition.value_problems(before, after, seconds=0.2) == []


def test_a_histogram_with_other_buckets_than_the_table_is_named() -> None:
    text = page(9, 1, 1, 10, 0.08).replace('model_prediction_score_bucket{le="0.1"} 0\n', "")
    (problem,) = exposition.shape_problems(exposition.read_families(text))
    assert problem.startswith("model_prediction_score has the buckets 0.2, 0.3")
