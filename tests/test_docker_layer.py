"""The Docker layer on a real engine: sandbox limits, labels and cleanup, engine-down errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from graders.containers.cleanup import labelled, remove_run_resources, run_labels
from graders.containers.images import (
    STAND_IN_ALIASES,
    STAND_IN_BASE,
    build_submission,
    ensure_image,
)
from graders.containers.running import ContainerSpec, Limits, is_running, start_container
from graders.containers.sandbox import SandboxResult, run_in_sandbox
from graders.containers.services import NotReady, running_service, wait_until
from graders.errors import EnvironmentProblem, LearnerFailure
from tests.conftest import run_cli, start_grading, wait_for_check

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def base(docker_engine: docker.DockerClient) -> str:
    ensure_image(docker_engine, STAND_IN_BASE)
    return STAND_IN_BASE


@pytest.fixture
def run_id(docker_engine: docker.DockerClient) -> Iterator[str]:
    import uuid

    rid = "test-" + uuid.uuid4().hex[:8]
    try:
        yield rid
    finally:
        remove_run_resources(docker_engine, rid)


def sandbox(
    client: docker.DockerClient, base: str, run_id: str, code: str, **options: Any
) -> SandboxResult:
    """Run Python ``code`` in the sandbox, from the base image."""
    return run_in_sandbox(client, base, ["python", "-c", code], run_id=run_id, **options)


def test_sandbox_runs_code_as_non_root_on_a_read_only_root(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    done = sandbox(
        docker_engine,
        base,
        run_id,
        (
            "import os\n"
            "print(os.getuid())\n"
            "try:\n    open('/etc/x', 'w')\nexcept OSError as e:\n    print('readonly', e.errno)\n"
            "open('/tmp/ok', 'w').write('fine')\n"
        ),
    )
    assert done.ok, done.stderr
    assert done.stdout.split() == ["10001", "readonly", "30"]


def test_sandbox_has_no_network_to_reach_a_listener_on_a_test_network(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    network = docker_engine.networks.create(f"mlops-labs-{run_id}", labels=run_labels(run_id))
    network.reload()
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    listener = socket.socket()
    listener.bind((gateway, 0))
    listener.listen(5)
    threading.Thread(target=lambda: listener.accept(), daemon=True).start()
    port = listener.getsockname()[1]
    probe = (
        f"import socket\ntry:\n    socket.create_connection(({gateway!r}, {port}), timeout=3)\n"
        "    print('reached')\nexcept OSError as e:\n    print('blocked')\n"
    )
    try:
        isolated = sandbox(docker_engine, base, run_id, probe)
        allowed = sandbox(docker_engine, base, run_id, probe, network=network.name)
    finally:
        listener.close()
    assert isolated.stdout.strip() == "blocked"
    assert allowed.stdout.strip() == "reached"  # the probe itself can succeed: the test can fail


def test_sandbox_kills_code_that_runs_past_its_time_limit(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    done = sandbox(docker_engine, base, run_id, "while True: pass", timeout=3)
    assert done.timed_out and not done.ok
    assert done.seconds < 10


def test_sandbox_memory_limit_kills_a_memory_bomb(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    done = sandbox(
        docker_engine,
        base,
        run_id,
        "x = bytearray(600 * 1024 * 1024)\nprint(len(x))",
        limits=Limits(memory="128m"),
    )
    assert done.oom_killed and done.exit_code == 137


def test_sandbox_pid_limit_stops_a_fork_bomb(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    done = sandbox(
        docker_engine,
        base,
        run_id,
        (
            "import os, sys\nn = 0\n"
            "try:\n    while True:\n        if os.fork() == 0:\n"
            "            import time; time.sleep(30); os._exit(0)\n"
            "        n += 1\nexcept OSError:\n    print('stopped at', n); sys.exit(0)\n"
        ),
        limits=Limits(pids=32),
        timeout=60,
    )
    assert done.ok, done.stderr
    assert done.stdout.startswith("stopped at") and int(done.stdout.split()[-1]) < 32


def test_sandbox_mounts_are_read_only(
    docker_engine: docker.DockerClient, base: str, run_id: str, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text("hello")
    tmp_path.chmod(0o755)  # the sandbox user (UID 10001) must be able to read what is mounted
    done = sandbox(
        docker_engine,
        base,
        run_id,
        (
            "print(open('/in/in.txt').read())\n"
            "try:\n    open('/in/in.txt', 'w')\nexcept OSError:\n    print('refused')\n"
        ),
        mounts={tmp_path: "/in"},
    )
    assert done.stdout.split() == ["hello", "refused"]
    assert (tmp_path / "in.txt").read_text() == "hello"


def test_remove_run_resources_removes_labelled_containers_networks_images(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    labels = run_labels(run_id)
    docker_engine.networks.create(f"mlops-labs-{run_id}", labels=labels)
    docker_engine.containers.create(base, ["true"], labels=labels)
    source = docker_engine.containers.create(base, ["true"])
    image = source.commit(conf={"Labels": labels})
    source.remove()
    assert len(labelled(docker_engine, run_id)) == 3
    remove_run_resources(docker_engine, run_id)
    assert labelled(docker_engine, run_id) == []
    assert image.id not in {i.id for i in docker_engine.images.list()}


def test_ctrl_c_during_a_docker_grading_leaves_no_labelled_object(
    docker_engine: docker.DockerClient,
    base: str,
    tiny_labs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINY_GRADER_SLEEP", "300")
    lab = "foundation/02-tiny-docker-lab"
    learner = start_grading(lab, tmp_path)
    partial = wait_for_check(
        tmp_path / "report.json", "test_docker_objects_can_be_created", timeout=180
    )
    created = next(c for c in partial["checks"] if c["id"] == "test_docker_objects_can_be_created")
    assert created["outcome"] == "passed", created["message"]  # a failed build is not a Ctrl+C
    mid_run = labelled(docker_engine)
    assert any(item.startswith("container") for item in mid_run)  # objects existed: the test bites
    learner.send_signal(signal.SIGINT)
    learner.communicate(timeout=90)
    report = json.loads((tmp_path / "report.json").read_text())
    assert learner.returncode == 130 and report["status"] == "interrupted"
    assert labelled(docker_engine, report["environment"]["run_id"]) == []


def test_grading_a_docker_lab_with_the_engine_down_is_an_error_with_a_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    done = run_cli(
        "grade", "foundation/01-containerize-model", "--reference", "--out", str(tmp_path)
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert done.returncode == 3
    assert report["status"] == "error" and report["score"] == 0
    assert {c["outcome"] for c in report["checks"]} == {"error"}
    assert "no Docker engine answers" in report["checks"][0]["message"]
    assert "Fix: start a Docker engine" in done.stdout


def test_doctor_prepare_makes_base_runner_and_prometheus_images_available(
    docker_engine: docker.DockerClient, base: str
) -> None:
    done = run_cli("doctor", "--prepare")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"base image {STAND_IN_BASE}: present" in done.stdout
    assert "sandbox runner image: mlops-labs/runner:" in done.stdout
    assert "Prometheus image: mlops-labs/prometheus:" in done.stdout
    assert "ok" in done.stdout.split("Docker engine")[0]


def test_a_debian_image_that_cannot_be_pulled_is_the_bootstrapped_base_under_its_tag(
    docker_engine: docker.DockerClient, base: str
) -> None:
    how = ensure_image(docker_engine, STAND_IN_ALIASES[0])
    assert how in ("present", "pulled") or how.startswith(f"tagged from {STAND_IN_BASE}")
    if how.startswith("tagged"):
        tagged = docker_engine.images.get(STAND_IN_ALIASES[0])
        assert tagged.id == docker_engine.images.get(STAND_IN_BASE).id


def test_waiting_on_a_container_that_exits_ends_at_once_with_its_exit_code(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    spec = ContainerSpec(base, run_id, "exits", command=["sh", "-c", "exit 3"])
    container = start_container(docker_engine, spec)
    started = time.monotonic()
    with pytest.raises(NotReady) as stopped:
        wait_until(lambda: False, timeout=60, pause=0.1, while_running=container, what="it")
    assert time.monotonic() - started < 20
    assert stopped.value.exit is not None and stopped.value.exit.code == 3
    assert str(stopped.value) == "it did not hold: it exited with code 3"


def test_waiting_returns_the_seconds_once_ready_or_says_the_time_ran_out(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    spec = ContainerSpec(image=base, run_id=run_id, name_hint="sleeps", command=["sleep", "30"])
    container = start_container(docker_engine, spec)
    calls = iter([False, False, True])
    waited = wait_until(lambda: next(calls), timeout=60, pause=0.1, while_running=container)
    assert 0.2 <= waited < 20
    with pytest.raises(NotReady, match="^the port did not open within 1 s$") as late:
        wait_until(lambda: False, timeout=1, pause=0.1, what="the port", until="open")
    assert late.value.exit is None


def _service(base: str, run_id: str, script: str, **limits: Any) -> ContainerSpec:
    """A service of the base image that runs the shell ``script``."""
    return ContainerSpec(
        image=base, run_id=run_id, name_hint="service", command=["sh", "-c", script],
        limits=Limits(**limits),
    )  # fmt: skip


def _logged_ready(container: Any) -> bool:
    return b"ready" in container.logs()


def test_a_service_that_gets_ready_is_yielded_running_and_removed_afterwards(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    spec = _service(base, run_id, "sleep 0.5; echo ready; sleep 60")
    with running_service(
        docker_engine, spec, ready=_logged_ready, timeout=30, pause=0.1, blame=LearnerFailure
    ) as service:
        assert is_running(service.container)
        assert 0.3 <= service.seconds_to_ready < 20
        assert "ready" in service.logs()
    assert labelled(docker_engine, run_id) == []


def test_a_service_that_exits_at_start_is_the_learners_with_its_code_and_output(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    spec = _service(base, run_id, "echo 'bad config: port' >&2; exit 3")
    with pytest.raises(LearnerFailure) as failed:
        with running_service(
            docker_engine, spec, ready=_logged_ready, timeout=30, pause=0.1,
            blame=LearnerFailure, what="the service", until="answer /health",
        ):  # fmt: skip
            pytest.fail("a service that exited was yielded")
    message = str(failed.value)
    assert message.startswith("the service did not answer /health: it exited at start with code 3")
    assert "its last output:\n    bad config: port" in message
    assert "OOMKilled" not in message
    assert labelled(docker_engine, run_id) == []


def test_a_service_killed_for_memory_says_oomkilled_and_its_limit(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    hog = "python -c 'x = bytearray(600 * 1024 * 1024); import time; time.sleep(60)'"
    spec = _service(base, run_id, hog, memory="128m")
    with pytest.raises(LearnerFailure) as failed:
        with running_service(
            docker_engine, spec, ready=_logged_ready, timeout=60, pause=0.1, blame=LearnerFailure
        ):
            pytest.fail("a service killed for memory was yielded")
    assert "exited at start with code 137, killed for using more than its memory limit " in str(
        failed.value
    )
    assert "(OOMKilled, limit 128 MiB)" in str(failed.value)
    assert labelled(docker_engine, run_id) == []


def test_a_grader_service_not_ready_in_time_is_an_environment_problem_with_its_fix(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    spec = _service(base, run_id, "echo starting; sleep 60")
    with pytest.raises(EnvironmentProblem) as failed:
        with running_service(
            docker_engine, spec, ready=_logged_ready, timeout=1, pause=0.1,
            blame=EnvironmentProblem, what="Prometheus", until="start", fix="rebuild it",
        ):  # fmt: skip
            pytest.fail("a service that never got ready was yielded")
    expected = "Prometheus did not start within 1 s; its last output:\n    starting"
    assert failed.value.message == expected
    assert failed.value.fix == "rebuild it"
    assert labelled(docker_engine, run_id) == []


def test_a_service_is_removed_when_the_block_raises(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    spec = _service(base, run_id, "echo ready; sleep 60")
    with pytest.raises(RuntimeError, match="a check broke"):
        with running_service(
            docker_engine, spec, ready=_logged_ready, timeout=30, pause=0.1, blame=LearnerFailure
        ) as service:
            assert is_running(service.container)
            raise RuntimeError("a check broke")
    assert labelled(docker_engine, run_id) == []


def test_a_submission_without_its_dockerfile_is_a_failed_build_saying_where(
    docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    built = build_submission(
        docker_engine, tmp_path, "mlops-labs/x:1", "run", where="server/Dockerfile"
    )
    assert not built.ok and built.log == "no server/Dockerfile in the submission"


def test_a_measured_section_holds_other_runs_containers_to_a_quarter_cpu_then_restores_them(
    docker_engine: docker.DockerClient, base: str, run_id: str
) -> None:
    from graders.containers.neighbours import neighbours_held_back

    other = f"{run_id}-other"
    limited = docker_engine.containers.run(
        base, ["sleep", "60"], detach=True, labels=run_labels(other), nano_cpus=10**9
    )
    unlimited = docker_engine.containers.run(
        base, ["sleep", "60"], detach=True, labels=run_labels(other)
    )
    own = docker_engine.containers.run(
        base, ["sleep", "60"], detach=True, labels=run_labels(run_id), nano_cpus=10**9
    )

    def cpus(container: Container) -> int:
        container.reload()
        return int(container.attrs["HostConfig"]["NanoCpus"] or 0)

    try:
        with neighbours_held_back(docker_engine, run_id) as held:
            assert {limited.name, unlimited.name} <= set(held) and own.name not in held
            assert cpus(limited) == cpus(unlimited) == 250_000_000
            assert cpus(own) == 10**9
        assert cpus(limited) == 10**9 and cpus(own) == 10**9
        assert cpus(unlimited) == (os.cpu_count() or 1) * 10**9
    finally:
        remove_run_resources(docker_engine, other)
        remove_run_resources(docker_engine, run_id)
