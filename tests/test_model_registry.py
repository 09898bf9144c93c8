"""The model-registry lab's own pieces: how the grader reads what happened, and the Docker
pieces it needs (a service name on a network, a volume that outlives a container)."""

from __future__ import annotations

import re
import time
import uuid
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from graders.catalogue import find_lab
from graders.containers.cleanup import labelled, remove_run_resources, run_labels
from graders.containers.running import ContainerSpec, run_network, start_container
from graders.containers.sandbox import SandboxResult, runner_image
from graders.containers.workspace import open_workspace
from graders.errors import LearnerFailure
from graders.labs.model_registry import checks, server
from graders.labs.model_registry.audit import (
    audit_events,
    expected_events,
    rollback_targets,
    timestamp,
)
from graders.labs.model_registry.scenario import (
    PROMOTIONS,
    ROLLBACKS,
    STEPS_READ,
    Scenario,
    Step,
    steps_read,
)

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


def scenario_of(**steps: Step) -> Scenario:
    """A scenario whose steps are ``steps`` (keyword names with ``_`` for ``-``), in order."""
    scenario = Scenario("churn", {})
    scenario.steps = {key.replace("_", "-"): value for key, value in steps.items()}
    return scenario


def played(rollbacks: list[tuple[str, str, int]]) -> Scenario:
    """The README's scenario as a correct gate plays it, then ``rollbacks`` as (before, after,
    exit code), the first two before the audit."""
    keys = ("rollback", "rollback_again", "rollback_nothing_left")
    moves = {key: step(b, a, code=c) for key, (b, a, c) in zip(keys, rollbacks, strict=True)}
    return scenario_of(
        promote_baseline=step(None, "1"),
        promote_worse=step("1", "1", code=1, version="2"),
        promote_unapproved=step("1", "1", code=1, version="3"),
        promote_blank_approval=step("1", "1", code=1, version="3"),
        promote_better=step("1", "4"),
        promote_reviewed=step("4", "3"),
        rollback=moves["rollback"],
        rollback_again=moves["rollback_again"],
        audit=step("1", "1"),
        rollback_nothing_left=moves["rollback_nothing_left"],
    )


def test_expected_events_are_the_moves_and_refusals_the_grader_saw_before_the_audit() -> None:
    scenario = played([("3", "4", 0), ("4", "1", 0), ("1", "1", 1)])
    assert [(a, f, t) for a, _, f, t in expected_events(scenario)] == [
        ("promote", None, "1"),
        ("refuse", "1", "2"),
        ("refuse", "1", "3"),
        ("refuse", "1", "3"),  # the same version, its approval left blank
        ("promote", "1", "4"),
        ("promote", "4", "3"),
        ("rollback", "3", "4"),
        ("rollback", "4", "1"),
    ]


def test_a_promotion_that_exits_0_without_moving_expects_no_event() -> None:
    scenario = scenario_of(**{key: step("1", "1") for key in (
        "promote_baseline", "promote_worse", "promote_unapproved", "promote_better", "rollback"
    )})  # fmt: skip
    assert expected_events(scenario) == []


def test_rollbacks_restore_the_champions_of_a_stack_then_refuse() -> None:
    scenario = played([("3", "4", 0), ("4", "1", 0), ("1", "1", 1)])
    assert [(target, history) for _, target, history in rollback_targets(scenario)] == [
        ("4", ["1", "4", "3"]),
        ("1", ["1", "4"]),
        (None, ["1"]),  # nothing left: must be refused
    ]


def test_rollback_targets_follow_the_moves_the_grader_saw() -> None:
    # a gate that let the worse model through and refused the better ones: the stack is 1, 2
    scenario = scenario_of(
        promote_baseline=step(None, "1"),
        promote_worse=step("1", "2"),
        promote_better=step("2", "2", code=1, version="4"),
        rollback=step("2", "1"),
        rollback_again=step("1", "1", code=1),
    )
    assert [target for _, target, _ in rollback_targets(scenario)] == ["1", None]


def test_a_partial_grading_plays_the_story_until_its_checks_steps_ran() -> None:
    refusals = steps_read(["test_promote_refuses_a_worse_or_unapproved_model"])
    assert refusals == {"promote-worse", "promote-unapproved", "promote-blank-approval"}
    both = steps_read([
        "test_promote_refuses_a_worse_or_unapproved_model",
        "test_audit_lists_every_move_and_refusal",
    ])  # fmt: skip
    assert both == {*PROMOTIONS, "rollback", "rollback-again", "audit"}


@pytest.mark.parametrize(
    "check",
    ["test_register_creates_a_version_with_every_lineage_tag", "a_check_added_later"],
)
def test_a_check_that_reads_the_registry_after_the_story_gets_the_whole_story(check: str) -> None:
    assert steps_read(["test_promote_moves_champion_and_serving_follows", check]) is None


def test_the_steps_a_check_reads_are_steps_of_the_story_and_the_check_reads_it() -> None:
    story = {*PROMOTIONS, *ROLLBACKS, "audit"}
    for name, keys in STEPS_READ.items():
        assert "scenario" in getattr(checks, name).__code__.co_varnames, name
        assert set(keys) <= story, name


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


class FakeServer:
    """What the grader reads of a container: its health states in turn, its processes (UID,
    command) and the owner of /data."""

    def __init__(
        self,
        *states: dict[str, Any],
        processes: tuple[tuple[str, str], ...] = (("10001", "mlflow server"),),
        owner: str = "10001",
    ) -> None:
        self.states, self.processes, self.owner = list(states), processes, owner
        self.attrs: dict[str, Any] = {}

    def reload(self) -> None:
        self.attrs = {"State": self.states.pop(0) if len(self.states) > 1 else self.states[0]}

    def exec_run(self, command: list[str]) -> SimpleNamespace:
        if command[0] == "sh":  # the process list, as /proc gives it
            text = "".join(f"{uid} {args}\n" for uid, args in self.processes)
        else:  # stat -c %u /data
            text = f"{self.owner}\n"
        return SimpleNamespace(exit_code=0, output=text.encode())


def health(status: str, code: int = 0, output: str = "") -> dict[str, Any]:
    log = [{"ExitCode": code, "Output": output}] if status != "starting" else []
    return {"Running": True, "Health": {"Status": status, "Log": log}}


def test_health_waits_for_docker_to_say_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "HEALTH_PAUSE", 0)
    fake = FakeServer(health("starting"), health("starting"), health("healthy"))
    assert server.health_problem(fake, time.monotonic()) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "ready_before", "says"),
    [
        ({"Running": True}, 0, "no HEALTHCHECK"),
        (health("unhealthy", 1, "Connection refused"), 0, "unhealthy.*Connection refused"),
        (health("starting"), 61, "still 'starting' 60 s after"),
    ],
)
def test_health_says_why_it_never_became_healthy(
    state: dict[str, Any], ready_before: float, says: str
) -> None:
    problem = server.health_problem(FakeServer(state), time.monotonic() - ready_before)  # type: ignore[arg-type]
    assert problem is not None and re.search(says, problem), problem


@pytest.mark.parametrize(
    ("processes", "owner", "says"),
    [
        ((("10001", "mlflow server"), ("10001", "gunicorn")), "10001", None),
        ((("0", "mlflow server"),), "0", "runs as root"),
        ((("10001", "mlflow server"),), "0", "owned by UID 0"),
    ],
)
def test_the_server_user_is_read_from_its_processes(
    processes: tuple[tuple[str, str], ...], owner: str, says: str | None
) -> None:
    problems = server.user_problems(FakeServer({}, processes=processes, owner=owner))  # type: ignore[arg-type]
    assert (problems == []) if says is None else says in problems[0], problems


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


@pytest.mark.docker
def test_process_users_are_read_inside_the_container(docker_engine: docker.DockerClient) -> None:
    run_id = "test-" + uuid.uuid4().hex[:8]
    image = runner_image(docker_engine)
    try:
        spec = ContainerSpec(
            image=image, run_id=run_id, name_hint="uid", user="4321:4321",
            command=["python", "-c", "import time; time.sleep(60)"],
        )  # fmt: skip
        container = start_container(docker_engine, spec)
        users = server.process_users(container)
        assert users and {uid for uid, _ in users} == {"4321"}, users
        assert any("time.sleep(60)" in command for _, command in users), users
        assert server.data_owner(container) is None  # no /data in this image
    finally:
        remove_run_resources(docker_engine, run_id)
    assert not labelled(docker_engine, run_id)


@pytest.mark.parametrize(
    ("line", "write"),
    [
        (
            'INFO:     192.168.0.2:52 - "POST /api/2.0/mlflow/registered-models/alias HTTP/1.1" '
            "200 OK",
            "POST /api/2.0/mlflow/registered-models/alias",
        ),
        (
            'INFO:     192.168.0.2:52 - "DELETE /api/2.0/mlflow/registered-models/alias?name=c'
            '&alias=champion HTTP/1.1" 200 OK',
            "DELETE /api/2.0/mlflow/registered-models/alias",
        ),
        (
            'INFO:     192.168.0.2:52 - "GET /api/2.0/mlflow/registered-models/alias?name=c'
            '&alias=champion HTTP/1.1" 200 OK',
            None,  # a read moves nothing
        ),
        (
            'INFO:     192.168.0.2:52 - "POST /api/2.0/mlflow/registered-models/aliases-of-x '
            'HTTP/1.1" 404 Not Found',
            None,
        ),
    ],
)
def test_an_alias_write_is_read_from_the_server_s_access_log(line: str, write: str | None) -> None:
    found = server.ALIAS_WRITE.search(line)
    assert (f"{found.group(1)} {found.group(2)}" if found else None) == write
