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
from graders.labs.drift_alerts import grafana, statistics
from graders.labs.drift_alerts.data import REFERENCE_ROWS, applications, write_reference
from graders.labs.drift_alerts.promtool import (
    BUCKETS,
    SCENARIOS,
    latency_series,
    load_rules,
    results,
    run_script,
    with_for_shortened,
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


def test_runnable_fills_grafana_and_template_variables() -> None:
    expr = 'rate(x{feature=~"$feature"}[$__rate_interval]) + y[${__range}] offset [[__interval]]'
    assert grafana.runnable(expr, DASHBOARD) == 'rate(x{feature=~".*"}[1m]) + y[5m] offset 15s'


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


def test_live_run_shortens_every_for_and_keeps_the_rest() -> None:
    rules = load_rules(SOLUTION / "monitoring/rules.yml")
    shortened = yaml.safe_load(with_for_shortened(rules, "5s"))
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
    files = {f"{s.name}.yml": s.test_file() for s in SCENARIOS}
    silent = "groups: [{name: g, rules: [{alert: FeatureDrift, expr: vector(0) > 1}]}]\n"
    for rules, fails in (
        ((SOLUTION / "monitoring/rules.yml").read_text(), set()),
        (silent, {"drift-fires-after-its-for.yml", "latency-fires-on-a-slow-tail.yml"}),
    ):
        with _folder({**files, "rules.yml": rules}) as folder:
            done = promtool(
                docker_engine, image, run_script(sorted(files), "/t"),
                run_id=run_id, mounts={Path(folder): "/t"},
            )  # fmt: skip
        outcome = results(done.stdout)
        assert set(outcome) == set(files)
        assert {name for name, (code, _) in outcome.items() if code} == fails


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
