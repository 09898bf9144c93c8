"""The sandbox workspace and lab steps on a real engine: shared steps, limits, export, failures."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from graders.containers import probe_cli
from graders.containers.cleanup import labelled, remove_run_resources
from graders.containers.sandbox import runner_image
from graders.containers.workspace import (
    VERSION_CONTROL_ENV,
    VERSION_CONTROL_SETUP,
    Workspace,
    leaving_out,
    open_workspace,
    stage_readable,
)
from graders.errors import GraderError
from graders.fixtures.scenario import PROBE_CLI_NAME
from graders.reference import make_submission

pytestmark = pytest.mark.docker
# a probe as the labs write them: functions served by probe_cli
TINY_PROBE = """
from pathlib import Path


def ok() -> dict:
    return {"ok": 1}


def fail() -> None:
    raise SystemExit(1)


def add(first: int, *rest: float, scale: float = 1.0, negate: bool = False) -> dict:
    total = (first + sum(rest)) * scale
    return {"total": -total if negate else total, "cwd": str(Path.cwd())}


if __name__ == "__main__":
    from probe_cli import serve

    serve({"ok": ok, "fail": fail, "add": add})
"""


@pytest.fixture(scope="module")
def runner(docker_engine: docker.DockerClient) -> str:
    return runner_image(docker_engine)


@pytest.fixture
def workspace(
    docker_engine: docker.DockerClient, runner: str, tmp_path: Path
) -> Iterator[Workspace]:
    run_id = "test-" + uuid.uuid4().hex[:8]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "hello.txt").write_text("hello\n")
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader" / "probe.py").write_text(TINY_PROBE)
    (tmp_path / "grader" / PROBE_CLI_NAME).write_bytes(Path(probe_cli.__file__).read_bytes())
    grader = stage_readable(tmp_path / "grader", tmp_path / "mounted")
    try:
        with open_workspace(
            docker_engine,
            runner,
            run_id=run_id,
            mounts={tmp_path / "in": "/in", grader: "/grader"},
            env=VERSION_CONTROL_ENV,
            setup=VERSION_CONTROL_SETUP,
        ) as opened:
            yield opened
        assert not labelled(docker_engine, run_id), "the workspace container outlived its block"
    finally:
        remove_run_resources(docker_engine, run_id)


def test_workspace_steps_share_work_but_not_the_root_filesystem(workspace: Workspace) -> None:
    assert workspace.run("cp /in/hello.txt /work/kept.txt").ok
    later = workspace.run("cat /work/kept.txt; id -u; touch /etc/x 2>/dev/null || echo read-only")
    assert later.stdout.split() == ["hello", "10001", "read-only"]


def test_workspace_mounts_are_read_only(workspace: Workspace) -> None:
    assert not workspace.run("echo changed > /in/hello.txt").ok


def test_workspace_has_no_network(workspace: Workspace) -> None:
    connect = "import socket; socket.create_connection(('1.1.1.1', 53), 3)"
    done = workspace.run(f'python -c "{connect}"')
    assert not done.ok and "Network is unreachable" in done.stderr


def test_workspace_step_past_its_time_limit_is_stopped(workspace: Workspace) -> None:
    done = workspace.run("sleep 30", timeout=2)
    assert done.timed_out and done.seconds < 10


def test_workspace_keeps_only_the_tail_of_a_flood_of_output(workspace: Workspace) -> None:
    done = workspace.run("yes 0123456789 | head -c 5000000; echo END")
    assert done.ok and len(done.stdout) <= 1_000_000 and done.stdout.endswith("END\n")


def test_workspace_export_copies_a_folder_out(workspace: Workspace, tmp_path: Path) -> None:
    assert workspace.run("mkdir -p /work/out/sub && echo data > /work/out/sub/file.txt").ok
    copied = workspace.export("/work/out", tmp_path / "copied")
    assert (copied / "sub" / "file.txt").read_text() == "data\n"


def test_workspace_export_leaves_out_links_that_lead_out_of_the_copy(
    workspace: Workspace, tmp_path: Path
) -> None:
    # DVC's cache.type symlink links outputs to the cache by absolute paths
    script = (
        "mkdir -p /work/linked/.dvc/cache /work/linked/models && echo model > "
        "/work/linked/.dvc/cache/ab && ln -s /work/linked/.dvc/cache/ab /work/linked/models/m "
        "&& ln -s ../.dvc/cache/ab /work/linked/models/relative"
    )
    assert workspace.run(script).ok
    copied = workspace.export("/work/linked", tmp_path / "linked")
    assert (copied / ".dvc" / "cache" / "ab").read_text() == "model\n"
    assert not (copied / "models" / "m").is_symlink()
    assert (copied / "models" / "relative").read_text() == "model\n"


def test_stage_readable_opens_private_files_and_keeps_symlinks(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "secret.txt").write_text("x")
    (source / "secret.txt").chmod(0o600)
    (source / "link").symlink_to("/etc/passwd")
    staged = stage_readable(source, tmp_path / "staged")
    assert (staged / "secret.txt").stat().st_mode & 0o004
    assert (staged / "link").is_symlink() and str((staged / "link").readlink()) == "/etc/passwd"


def folder_with_steps(tmp_path: Path, steps: str) -> Path:
    """A solution folder with one file and a STEPS.sh."""
    folder = tmp_path / "solution"
    folder.mkdir()
    (folder / "notes.txt").write_text("versioned\n")
    (folder / "STEPS.sh").write_text(steps)
    return folder


def test_make_submission_runs_steps_and_returns_the_repository(
    docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    commit = (
        "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm 1"
    )
    made = make_submission(folder_with_steps(tmp_path, commit), tmp_path / "made")
    assert (made / ".git").is_dir() and (made / "notes.txt").read_text() == "versioned\n"
    assert not (made / "STEPS.sh").exists()


def test_make_submission_with_failing_steps_is_a_grader_error(
    docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    folder = folder_with_steps(tmp_path, "echo about to fail\nexit 3\n")
    with pytest.raises(GraderError, match="exit 3") as raised:
        make_submission(folder, tmp_path / "made")
    assert "about to fail" in raised.value.message


def test_workspace_on_an_internal_network_reaches_its_peer_and_nothing_else(
    docker_engine: docker.DockerClient, runner: str, tmp_path: Path
) -> None:
    from graders.containers.running import ContainerSpec, run_network, start_container

    run_id = "test-" + uuid.uuid4().hex[:8]
    peer = f"mlops-labs-peer-{run_id}"
    serve = ["python", "-m", "http.server", "8000", "--directory", "/tmp"]
    try:
        with run_network(docker_engine, run_id, f"mlops-labs-{run_id}", internal=True) as network:
            start_container(
                docker_engine,
                ContainerSpec(
                    runner, run_id, "peer", name=peer, network=network.name, command=serve
                ),
            )
            with open_workspace(
                docker_engine, runner, run_id=run_id, mounts={}, env={}, network=network.name
            ) as workspace:
                fetch = f"import urllib.request as u; u.urlopen('http://{peer}:8000/', timeout=3)"
                reached = workspace.run(
                    f'for i in $(seq 30); do python -c "{fetch}" && break; sleep 0.3; done'
                )
                assert reached.ok, reached.stderr
                outside = "import socket; socket.create_connection(('1.1.1.1', 53), 3)"
                assert not workspace.run(f'python -c "{outside}"').ok
                docker_engine.containers.get(peer).remove(force=True)
    finally:
        remove_run_resources(docker_engine, run_id)


def test_a_stopped_tracking_server_is_an_environment_problem(
    docker_engine: docker.DockerClient, runner: str
) -> None:
    from graders.containers.cleanup import run_labels
    from graders.errors import EnvironmentProblem
    from graders.fixtures.mlflow import TrackingServer

    run_id = "test-" + uuid.uuid4().hex[:8]
    try:
        stopped = docker_engine.containers.run(
            runner, ["true"], detach=True, labels=run_labels(run_id)
        )
        stopped.wait()
        with pytest.raises(EnvironmentProblem, match="stopped during the grading"):
            TrackingServer(stopped, "none", "http://nowhere:5000", 0.0).still_running()
    finally:
        remove_run_resources(docker_engine, run_id)


def test_workspace_probe_failure_is_the_learners_only_when_it_says_so(
    workspace: Workspace,
) -> None:
    from graders.errors import LearnerFailure

    assert workspace.probe("ok") == {"ok": 1}
    with pytest.raises(LearnerFailure, match="your project is broken"):
        workspace.probe("fail", failure="your project is broken")
    with pytest.raises(GraderError, match="the probe /grader/probe.py fail failed"):
        workspace.probe("fail")


def test_workspace_probe_runs_the_grader_probe_with_typed_arguments_in_cwd(
    workspace: Workspace,
) -> None:
    answer = workspace.probe("add", "2", "0.5", "--scale=2", "--negate", cwd="/tmp")
    assert answer == {"total": -5.0, "cwd": "/tmp"}
    with pytest.raises(GraderError, match="usage: probe.py"):
        workspace.probe("no-such-command")


def test_grader_commands_never_see_what_a_learner_step_left_in_home(
    workspace: Workspace,
) -> None:
    plant = (
        "mkdir -p $HOME/.local/lib/python3.11/site-packages "
        "&& echo 'import os; os._exit(7)' > $HOME/.local/lib/python3.11/site-packages/zz.pth "
        "&& git config --global user.name Planted"
    )
    assert workspace.run(plant, cwd="/tmp").ok
    assert workspace.run("python -c pass").exit_code == 7  # a learner's step loads it
    assert workspace.run("git config --global user.name").stdout.strip() == "Planted"
    assert workspace.probe("ok") == {"ok": 1}  # python -I, a fresh HOME: not loaded
    assert workspace.measure("python -c pass").ok
    assert workspace.measure("git config --global user.name").stdout.strip() == ""
    assert workspace.measure("git config --global safe.directory").stdout.strip() == "*"


def test_a_process_a_learner_step_left_running_cannot_change_what_the_grader_measures(
    workspace: Workspace,
) -> None:
    rewrite = "while true; do echo faked > /work/metric; sleep 0.05; done"
    left = f"echo real > /work/metric && setsid nohup bash -c {rewrite!r} >/dev/null 2>&1 &"
    assert workspace.run(left).ok
    time.sleep(0.5)
    assert workspace.run("cat /work/metric").stdout.strip() == "faked"  # it runs on after its step
    measured = workspace.measure("echo real > /work/metric && sleep 0.5 && cat /work/metric")
    assert measured.stdout.strip() == "real"
    assert workspace.run("echo still usable").stdout.strip() == "still usable"


def test_a_measurement_can_leave_the_learner_commands_the_grader_started_running(
    workspace: Workspace,
) -> None:
    assert workspace.run("setsid nohup sleep 30 >/dev/null 2>&1 &").ok
    processes = "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"
    assert "sleep 30" in workspace.measure(processes, settle=False).stdout
    assert "sleep 30" not in workspace.measure(processes).stdout


def test_leaving_out_drops_environments_caches_and_the_names_given() -> None:
    ignore = leaving_out(".git")
    names = [".venv", "__pycache__", "node_modules", ".git", "src", "data", ".gitignore"]
    assert ignore("any/folder", names) == {".venv", "__pycache__", "node_modules", ".git"}
    assert leaving_out()("any/folder", names) == {".venv", "__pycache__", "node_modules"}
