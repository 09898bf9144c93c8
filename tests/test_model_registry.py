"""The model-registry lab's own pieces: how the grader reads what happened, and the Docker
pieces it needs (a service name on a network, a volume that outlives a container)."""

from __future__ import annotations

import time
import uuid

import docker
import pytest

from graders.catalogue import find_lab
from graders.containers.cleanup import labelled, remove_run_resources, run_labels
from graders.containers.running import ContainerSpec, run_network, start_container
from graders.containers.sandbox import SandboxResult, runner_image
from graders.containers.workspace import open_workspace
from graders.errors import LearnerFailure
from graders.labs.model_registry.audit import audit_events, expected_events, timestamp
from graders.labs.model_registry.scenario import Scenario, Step

LAB = find_lab("professional/01-model-registry")


def step(before: str | None, after: str | None, code: int = 0, version: str = "") -> Step:
    return Step(
        "promote",
        "dave",
        SandboxResult(code, "", "", 1.0),
        100.0,
        101.0,
        before,
        after,
        version or after,
    )


def test_expected_events_are_the_moves_and_refusals_the_grader_saw() -> None:
    scenario = Scenario("churn", {})
    scenario.steps = {
        "promote-baseline": step(None, "1"),
        "promote-worse": step("1", "1", code=1, version="2"),
        "promote-unapproved": step("1", "1", code=1, version="3"),
        "promote-better": step("1", "4"),
        "rollback": step("4", "1"),
    }
    assert [(a, f, t) for a, _, f, t in expected_events(scenario)] == [
        ("promote", None, "1"),
        ("refuse", "1", "2"),
        ("refuse", "1", "3"),
        ("promote", "1", "4"),
        ("rollback", "4", "1"),
    ]


def test_a_promotion_that_exits_0_without_moving_expects_no_event() -> None:
    scenario = Scenario("churn", {})
    scenario.steps = {key: step("1", "1") for key in (
        "promote-baseline", "promote-worse", "promote-unapproved", "promote-better", "rollback"
    )}  # fmt: skip
    assert expected_events(scenario) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-22T10:00:00+00:00", 1795341600.0),
        ("2026-11-22T10:00:00Z", 1795341600.0),
        ("2026-11-22T10:00:00", None),  # no time zone: not a moment
        ("yesterday", None),
    ],
)
def test_timestamp_needs_iso_8601_with_a_time_zone(value: str, expected: float | None) -> None:
    assert timestamp(value) == expected


def test_audit_is_read_as_json_lines_or_one_array() -> None:
    lines = step(None, "1")
    lines.result = SandboxResult(0, '{"action": "promote"}\n{"action": "refuse"}\n', "", 1.0)
    array = step(None, "1")
    array.result = SandboxResult(0, '[{"action": "promote"}, {"action": "refuse"}]', "", 1.0)
    assert (
        audit_events(lines)
        == audit_events(array)
        == [
            {"action": "promote"},
            {"action": "refuse"},
        ]
    )
    broken = step(None, "1")
    broken.result = SandboxResult(0, "promote 1\n", "", 1.0)
    with pytest.raises(LearnerFailure, match="not JSON lines"):
        audit_events(broken)


def test_starter_and_solution_share_the_cli_and_the_constraints() -> None:
    for path in ("server/constraints.txt", "requirements.txt", "registry/__init__.py"):
        assert (LAB.starter / path).read_text() == (LAB.solution / path).read_text(), path


READ_THROUGH_THE_SERVICE_NAME = """python - <<'EOF'
import time, urllib.request
for _ in range(50):
    try:
        print(urllib.request.urlopen("http://registry:5000/n").read().decode())
        break
    except OSError:
        time.sleep(0.2)
EOF"""


@pytest.mark.docker
def test_a_service_name_and_a_volume_outlive_a_replaced_container(
    docker_engine: docker.DockerClient,
) -> None:
    run_id = "test-" + uuid.uuid4().hex[:8]
    image = runner_image(docker_engine)
    try:
        volume = docker_engine.volumes.create(f"mlops-labs-{run_id}-v", labels=run_labels(run_id))
        with run_network(docker_engine, run_id, f"mlops-labs-{run_id}-n", internal=True) as net:
            spec = ContainerSpec(
                image=image, run_id=run_id, name_hint="svc", network=net.name,
                aliases=("registry",), volumes={volume.name: "/data"},
                command=["python", "-c", "import os, pathlib, http.server as h; "
                         "p = pathlib.Path('/data/n'); "
                         "p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1)); "
                         "os.chdir('/data'); "
                         "h.test(h.SimpleHTTPRequestHandler, port=5000, bind='0.0.0.0')"],
                user="0:0",
            )  # fmt: skip
            first = start_container(docker_engine, spec)
            for _ in range(100):  # until it has counted itself on the volume
                if first.exec_run(["cat", "/data/n"]).exit_code == 0:
                    break
                time.sleep(0.1)
            first.remove(force=True)
            start_container(docker_engine, spec)
            with open_workspace(
                docker_engine,
                image,
                run_id=run_id,
                mounts={},
                env={"HOME": "/tmp"},
                network=net.name,
            ) as workspace:
                done = workspace.run(READ_THROUGH_THE_SERVICE_NAME, cwd="/tmp")
            assert done.stdout.strip() == "2", done.stdout + done.stderr
    finally:
        remove_run_resources(docker_engine, run_id)
    assert not labelled(docker_engine, run_id)
