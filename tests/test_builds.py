"""Builds as learners' Docker does them: BuildKit, its confinement, and a failed build's message."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from graders.containers import builder as builder_module
from graders.containers.build_log import failure_summary
from graders.containers.builder import Builder, builder, without_syntax_line
from graders.containers.builds import _cgroup_v1_pids
from graders.containers.cleanup import run_labels
from graders.containers.images import STAND_IN_BASE, build_image

BUILDKIT_RUN_FAILED = """\
#4 [internal] load metadata for docker.io/library/python:3.11-slim
#4 DONE 0.0s

#6 [2/3] RUN pip install -r requirements.txt
#6 sha256:18c3294ef5a14333dfa2e70f6678017f63c85192862a802b777a152a7c1298b9
#6 1.503 Collecting fastapi==0.110.0
#6 2.701 ERROR: Could not find a version that satisfies the requirement scikit-learn==9.9
#6 2.702 ERROR: No matching distribution found for scikit-learn==9.9
#6 2.950 [notice] A new release of pip is available: 24.0 -> 25.3
#6 ERROR: executor failed running [/bin/sh -c pip install -r requirements.txt]: exit code: 1
------
 > [2/3] RUN pip install -r requirements.txt:
------
executor failed running [/bin/sh -c pip install -r requirements.txt]: exit code: 1
"""
CLASSIC_COPY_FAILED = """\
DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            Install the buildx component to build images with BuildKit:
            https://docs.docker.com/go/buildx/

Sending build context to Docker daemon   7.68kB
Step 1/2 : FROM python:3.11-slim
 ---> 3fcea2bdceee
Step 2/2 : COPY missing.pkl /app/
COPY failed: file not found in build context or excluded by .dockerignore: stat missing.pkl: \
file does not exist
"""
BUILDKIT_PARSE_FAILED = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse \
error line 2: unknown instruction: RUNN
"""


def test_a_failed_buildkit_step_shows_the_step_then_the_learners_error_line_first() -> None:
    lines = failure_summary(BUILDKIT_RUN_FAILED).splitlines()
    assert lines[0] == "docker build failed at step [2/3] RUN pip install -r requirements.txt"
    assert lines[1] == "ERROR: No matching distribution found for scikit-learn==9.9"
    assert "    Collecting fastapi==0.110.0" in lines  # the step's own output follows
    assert lines[-1].startswith("the builder said: executor failed running")


def test_a_failed_classic_copy_names_the_step_and_the_missing_file_without_notices() -> None:
    summary = failure_summary(CLASSIC_COPY_FAILED)
    first, second = summary.splitlines()[:2]
    assert first == "docker build failed at step 2/2: COPY missing.pkl /app/"
    assert second.startswith("COPY failed: file not found in build context")
    assert "DEPRECATED" not in summary and "buildx" not in summary


def test_a_dockerfile_that_does_not_parse_says_so_in_its_second_line() -> None:
    summary = failure_summary(BUILDKIT_PARSE_FAILED)
    assert summary.splitlines()[1].endswith(
        "dockerfile parse error line 2: unknown instruction: RUNN"
    )


def test_builder_prefers_buildx_then_an_old_cli_with_its_own_buildkit_then_classic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(builder_module, "docker_cli", lambda: "/new/docker")
    monkeypatch.setattr(builder_module, "_docker_clis", lambda first: [first, "/usr/bin/docker"])
    versions = {"/new/docker": (28, 2, 2), "/usr/bin/docker": (20, 10, 24)}
    monkeypatch.setattr(builder_module, "_client_version", versions.get)
    monkeypatch.delenv(builder_module.BUILDER_VARIABLE, raising=False)

    def chosen(has_buildx: bool) -> Builder:
        monkeypatch.setattr(builder_module, "_succeeds", lambda command: has_buildx)
        builder.cache_clear()
        try:
            return builder()
        finally:
            builder.cache_clear()

    assert chosen(True) == Builder("/new/docker", True, chosen(True).name)
    old = chosen(False)
    assert (old.cli, old.buildkit, old.env) == ("/usr/bin/docker", True, {"DOCKER_BUILDKIT": "1"})
    versions["/usr/bin/docker"] = (24, 0, 7)
    classic = chosen(False)
    assert not classic.buildkit and "docker-buildx" in classic.name
    monkeypatch.setenv(builder_module.BUILDER_VARIABLE, "classic")
    assert not chosen(True).buildkit


def test_the_syntax_directive_becomes_an_empty_comment_and_instructions_keep_their_lines(
    tmp_path: Path,
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# syntax=docker/dockerfile:1\nFROM x\n# syntax=not-a-directive\n")
    with without_syntax_line(dockerfile) as copy:
        assert copy.read_text() == "#\nFROM x\n# syntax=not-a-directive\n"
    assert not copy.exists()


# --- on a real engine ---------------------------------------------------------------------------


def _needs_buildkit() -> None:
    if not builder().buildkit:
        pytest.fail(
            f"this machine builds with {builder().name}; scripts/setup.sh installs docker.io"
        )


@pytest.mark.docker
def test_buildkit_only_syntax_builds_offline_even_with_a_syntax_directive(
    service_run: str, tmp_path: Path
) -> None:
    _needs_buildkit()
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\n"
        f"FROM {STAND_IN_BASE}\n"
        "COPY --chmod=0755 run.sh /run.sh\n"
        "RUN --mount=type=cache,target=/root/.cache/pip /run.sh && test -x /run.sh\n"
    )
    built = build_image(tmp_path, f"mlops-labs/buildkit:{service_run}", run_labels(service_run))
    assert built.ok, built.failure()
    assert built.builder.startswith("BuildKit")


@pytest.mark.docker
def test_a_failed_real_build_names_its_step_and_error_line(
    service_run: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {STAND_IN_BASE}\nRUN echo working && echo 'ERROR: the real cause' && exit 3\n"
    )
    built = build_image(tmp_path, f"mlops-labs/failing:{service_run}", run_labels(service_run))
    assert not built.ok
    step, cause = built.failure().splitlines()[:2]
    assert "RUN echo working" in step and cause == "ERROR: the real cause", built.failure()


@pytest.mark.docker
def test_a_fork_bomb_in_a_buildkit_run_step_stops_at_the_build_pid_cap(
    service_run: str, tmp_path: Path
) -> None:
    _needs_buildkit()
    if _cgroup_v1_pids() is None:
        pytest.skip("the engine is not local with cgroup v1 and cgroupfs: no PID cap (sandbox.md)")
    (tmp_path / "bomb.py").write_text(
        f"# {service_run}: never from the build cache\nimport os, time\nn = 0\n"
        "while True:\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        print('REFUSED AT', n, flush=True)\n        break\n"
        "    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    n += 1\n"
    )
    (tmp_path / "Dockerfile").write_text(
        f"FROM {STAND_IN_BASE}\nCOPY bomb.py /bomb.py\nRUN python /bomb.py\n"
    )
    built = build_image(tmp_path, f"mlops-labs/bomb:{service_run}", run_labels(service_run))
    refused = [line for line in built.log.splitlines() if "REFUSED AT" in line]
    assert refused, built.log_tail()
    assert int(refused[0].split("REFUSED AT")[1]) < 1024


@pytest.mark.docker
def test_doctor_names_the_builder_and_whether_build_steps_can_reach_containers(
    docker_engine: docker.DockerClient,
) -> None:
    from tests.conftest import run_cli

    done = run_cli("doctor")
    assert f"image builder: {builder().name}" in " ".join(done.stdout.split())
    assert "build steps' network:" in done.stdout
