"""Grader of foundation/01-containerize-model: its acceptance criteria, in order, one check each."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import requests

from graders.checks import PartialCredit, check
from graders.containers.dockerfile import base_images, hadolint_findings, is_pinned
from graders.containers.http_exchange import Answer
from graders.containers.http_load import InFlightRequest, load_test
from graders.containers.images import STAND_IN_BASE, BuildResult
from graders.containers.inspect import configured_user
from graders.containers.layers import ImageContents, added_bytes, base_of
from graders.containers.neighbours import neighbours_held_back
from graders.containers.running import answers_http
from graders.containers.services import NotReady, wait_until
from graders.errors import LearnerFailure
from graders.labs.containerize_model.fixtures import (
    PLANTED_DIRS,
    RunningService,
    post,
    service_running,
)
from graders.requirements import read_pins
from graders.timing import measured_alone

BUILDS = ["test_image_builds"]
# The reference solution adds 287 MB on top of its base; the budget leaves 15 % headroom (a
# kept pip cache, +66 MB, goes over it).
WEIGHT_BUDGET_MB = 330
FEATURES = 30
LOAD_BATCH_ROWS = 64  # the whole hidden batch


@check(
    1,
    points=10,
    hint="Run `docker build .` in your folder (Docker 23+ builds with BuildKit, as the grader "
    "does) and fix the step the message names: its first error line says what failed.",
)
def test_image_builds(lab_image_build: BuildResult, record_property: Any) -> None:
    """The image builds"""
    record_property("build_seconds", lab_image_build.seconds)
    print(lab_image_build.log)  # captured into the check's logs in the report
    record_property("message", f"built in {lab_image_build.seconds:.1f} s")
    assert lab_image_build.ok, lab_image_build.failure()


@check(
    2,
    points=8,
    requires=BUILDS,
    hint="Use `FROM python:3.11-slim` (an explicit tag, never "
    "latest) and run `hadolint Dockerfile` until it reports no error.",
)
def test_base_image_pinned_and_hadolint_clean(staged_submission: Path) -> None:
    """The base image is pinned and hadolint finds no error"""
    dockerfile = staged_submission / "Dockerfile"
    unpinned = [image for image in base_images(dockerfile.read_text()) if not is_pinned(image)]
    assert not unpinned, f"FROM without an explicit, non-latest tag: {', '.join(unpinned)}"
    errors = [
        f"line {f['line']}: {f['code']} {f['message']}"
        for f in hadolint_findings(dockerfile)
        if f.get("level") == "error"
    ]
    assert not errors, "hadolint reports errors:\n" + "\n".join(errors)


@check(
    3,
    points=8,
    requires=BUILDS,
    hint="Serve `GET /health` returning 200 as soon as the model "
    "is loaded; load the model once at start, not per request.",
)
def test_health_answers_within_20s(lab_service: RunningService, record_property: Any) -> None:
    """The container answers GET /health within 20 s"""
    remaining = 20.0 - (time.monotonic() - lab_service.started_at)
    try:
        wait_until(
            answers_http(lab_service.url + "/health", lambda status: status == 200),
            timeout=max(remaining, 0.5),
            pause=0.1,
        )
    except NotReady:
        raise LearnerFailure(
            "GET /health did not answer 200 within 20 s of the container start"
        ) from None
    startup = round(time.monotonic() - lab_service.started_at, 2)
    record_property("startup_seconds", startup)
    record_property("message", f"/health answered 200 {startup:.1f} s after the start")


@check(
    4,
    points=12,
    requires=BUILDS,
    hint="Return `model.predict(instances)` as JSON integers, in input order, and "
    "`model_version` from model/metadata.json; train with the provided train.py and the pinned "
    "scikit-learn version.",
)
def test_predict_matches_reference_model(
    lab_service: RunningService, reference_batch: dict[str, list[Any]]
) -> None:
    """/predict returns the reference model's predictions"""
    answer = lab_service.predict(reference_batch["instances"])
    assert answer.status_code == 200, (
        f"POST /predict answered {answer.status_code}: {answer.text[:300]}"
    )
    body = _json(answer)
    got, expected = body.get("predictions"), reference_batch["predictions"]
    assert isinstance(got, list) and len(got) == len(expected), (
        f"expected {len(expected)} predictions, got {str(got)[:200]}"
    )
    not_labels = [g for g in got if type(g) is not int]  # 1.0 == 1 and True == 1 in Python
    assert not not_labels, (
        f"predictions must be integer class labels (0 or 1): got {json.dumps(not_labels[0])[:40]}"
        f" (JSON {_json_kind(not_labels[0])}), as in {str(got)[:60]}"
    )
    wrong = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert not wrong, (
        f"{len(wrong)} of {len(expected)} predictions differ from the reference model "
        f"(row {wrong[0]}: got {got[wrong[0]]!r}, expected {expected[wrong[0]]!r})"
    )
    version, expected_version = body.get("model_version"), reference_batch["model_version"]
    assert version == expected_version and isinstance(version, str), (
        f"model_version is '{str(version)[:80]}'; model/metadata.json's model_version, which "
        f"train.py writes, is '{expected_version}'"
    )


def _not_finite(token: bytes) -> bytes:
    """A one-row body with ``token`` (``NaN``, ``Infinity``) first: Python's json module reads
    these, JSON has no such numbers."""
    return b'{"instances": [[' + token + b", 1.0" * (FEATURES - 1) + b"]]}"


BAD_INPUTS: dict[str, dict[str, Any]] = {
    "too few features": {"json": {"instances": [[1.0] * (FEATURES - 1)]}},
    "too many features": {"json": {"instances": [[1.0] * (FEATURES + 1)]}},
    "a short row after a valid one": {
        "json": {"instances": [[1.0] * FEATURES, [1.0] * (FEATURES - 1)]}
    },
    "non-numeric values": {"json": {"instances": [["abc"] * FEATURES]}},
    "numbers as strings": {"json": {"instances": [["1.5"] * FEATURES]}},
    "booleans": {"json": {"instances": [[True] * FEATURES]}},
    "NaN": {"data": _not_finite(b"NaN"), "headers": {"Content-Type": "application/json"}},
    "Infinity": {
        "data": _not_finite(b"Infinity"),
        "headers": {"Content-Type": "application/json"},
    },
    "-Infinity": {
        "data": _not_finite(b"-Infinity"),
        "headers": {"Content-Type": "application/json"},
    },
    "empty body": {"data": b"", "headers": {"Content-Type": "application/json"}},
    "non-JSON body": {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
    "empty instances": {"json": {"instances": []}},
}


@check(
    5,
    points=10,
    requires=BUILDS,
    hint="Validate the request body before calling the model: a list of rows of exactly 30 "
    "finite JSON numbers (no strings, no booleans: pydantic's strict floats with "
    "allow_inf_nan=False), and answer a 4xx whose JSON body says what is wrong.",
)
def test_bad_input_gets_4xx_never_5xx(
    lab_service: RunningService, reference_batch: dict[str, list[Any]]
) -> None:
    """Bad input gets a 4xx with a message, never a 5xx"""
    problems = []
    for case, request in BAD_INPUTS.items():
        answer = post(lab_service.url + "/predict", **request)
        if not 400 <= answer.status_code < 500:
            problems.append(f"{case}: HTTP {answer.status_code} (expected 4xx)")
        elif not _says_something(answer):
            problems.append(
                f"{case}: HTTP {answer.status_code} without a JSON body that says what is wrong "
                f"(got {answer.headers.get('content-type', 'no content type')!r}: "
                f"{answer.text[:80]!r})"
            )
    valid = lab_service.predict(reference_batch["instances"][:1])
    if valid.status_code != 200:
        problems.append(f"after the bad requests a valid one answered HTTP {valid.status_code}")
    assert not problems, "\n".join(problems)


@check(
    6,
    points=10,
    requires=BUILDS,
    hint="Add a non-root USER (a fixed UID) and write nothing "
    "outside /tmp: try `docker run --read-only --tmpfs /tmp` yourself.",
)
def test_runs_as_non_root_with_read_only_root_fs(
    docker_client: docker.DockerClient,
    lab_image: str,
    run_id: str,
    reference_batch: dict[str, list[Any]],
) -> None:
    """Runs as non-root with a read-only root filesystem"""
    user = configured_user(docker_client, lab_image)
    assert user.split(":")[0] not in ("", "root", "0"), "the image runs as root (no non-root USER)"
    try:
        with service_running(
            docker_client, lab_image, run_id, name="read-only", read_only=True
        ) as service:
            uids = {row[1] for row in service.container.top(ps_args="-o pid,uid")["Processes"]}
            answer = service.predict(reference_batch["instances"][:2])
    except LearnerFailure as exc:
        raise LearnerFailure(
            f"with a read-only root filesystem (only /tmp writable), {exc}"
        ) from None
    assert "0" not in uids, "a process in the container runs as root (UID 0)"
    assert answer.status_code == 200, (
        f"with a read-only root filesystem POST /predict answered {answer.status_code}"
    )


@check(
    7,
    points=6,
    requires=BUILDS,
    hint="Read the port from the PORT environment variable "
    "(default 8080) in Python; exec-form CMD does not expand variables.",
)
def test_respects_port_variable(
    docker_client: docker.DockerClient,
    lab_image: str,
    run_id: str,
    reference_batch: dict[str, list[Any]],
) -> None:
    """Respects $PORT"""
    port = 9137
    env = {"PORT": str(port)}
    with service_running(docker_client, lab_image, run_id, name="port", env=env, port=port) as svc:
        answer = svc.predict(reference_batch["instances"][:1])
    assert answer.status_code == 200, (
        f"with PORT={port}, POST /predict answered {answer.status_code}"
    )


@check(
    8,
    points=6,
    requires=BUILDS,
    hint="Add a .dockerignore listing .git, data/, notebooks/, "
    "tests/ (and anything else the service does not need).",
)
def test_build_context_excludes_data_git_notebooks_tests(
    lab_image_contents: ImageContents, run_id: str
) -> None:
    """The build context leaves data, .git, notebooks and tests out"""
    planted = f"mlops-labs-planted-{run_id}"
    # every layer counts: a file a later layer deletes still ships in the layer that added it
    leaked = sorted(path for path in lab_image_contents.shipped if planted in path)
    assert not leaked, (
        f"files planted under {', '.join(PLANTED_DIRS)} ended up in the image's layers "
        "(deleting them in a later layer still ships them):\n" + "\n".join(leaked)
    )


@check(
    9,
    points=8,
    requires=BUILDS,
    hint="Use exec-form CMD (a JSON list) so that your server is "
    "PID 1 and gets SIGTERM; uvicorn then finishes in-flight requests and exits.",
)
def test_sigterm_exits_cleanly_finishing_inflight_request(
    docker_client: docker.DockerClient,
    lab_image: str,
    run_id: str,
    reference_batch: dict[str, list[Any]],
    record_property: Any,
) -> None:
    """SIGTERM stops it cleanly within 10 s, finishing in-flight requests"""
    with service_running(docker_client, lab_image, run_id, name="sigterm") as service:
        port = int(service.url.rsplit(":", 1)[1])
        in_flight = InFlightRequest(
            port, "/predict", {"instances": reference_batch["instances"][:4]}
        )
        time.sleep(0.3)  # the request's headers are in: the server is handling it
        service.container.kill(signal="SIGTERM")
        signalled = time.monotonic()
        time.sleep(0.5)
        status = in_flight.finish()
        try:
            exit_code: int | None = int(service.container.wait(timeout=10)["StatusCode"])
        except requests.exceptions.RequestException:
            exit_code = None
        stopped_after = round(time.monotonic() - signalled, 2)
    record_property("stop_seconds", stopped_after)
    record_property("message", f"exited {stopped_after:.1f} s after SIGTERM, code {exit_code}")
    got = status or "no complete answer (of at most 1 MB, within 15 s)"
    assert status == 200, f"the request in flight at SIGTERM got {got}"
    assert exit_code is not None, "the container was still running 10 s after SIGTERM"
    assert exit_code in (0, 143), f"after SIGTERM the container exited with code {exit_code}"


@check(
    10,
    points=8,
    requires=BUILDS,
    hint="Pin every line of requirements.txt as name==version "
    "and install exactly that file (`pip install --no-cache-dir -r requirements.txt`).",
)
def test_dependencies_pinned_and_installed(
    lab_image_contents: ImageContents, staged_submission: Path
) -> None:
    """Dependencies are pinned and installed at the pinned versions"""
    requirements = staged_submission / "requirements.txt"
    assert requirements.is_file(), "there is no requirements.txt"
    pins, unpinned = read_pins(requirements.read_text())
    assert not unpinned, "not pinned as name==version: " + ", ".join(unpinned)
    assert pins, "requirements.txt lists no dependency"
    # read from the image's files by the grader, never by running a program of the image
    installed = lab_image_contents.distributions
    wrong = [
        f"{pin} (installed: {' and '.join(sorted(installed.get(name, ['missing'])))})"
        for name, pin in pins.items()
        if not installed.get(name) or not all(pin.matches(v) for v in installed[name])
    ]
    assert not wrong, "installed versions differ from the pins: " + ", ".join(wrong)


@check(
    11,
    points=6,
    requires=BUILDS,
    hint="Install with --no-cache-dir, copy only what the "
    "service needs, and add no build tools to the final image.",
)
def test_image_weight_within_budget(
    docker_client: docker.DockerClient,
    lab_image: str,
    staged_submission: Path,
    record_property: Any,
) -> None:
    """The image adds no more than the weight budget on top of its base"""
    named = base_images((staged_submission / "Dockerfile").read_text(errors="replace"))
    # the base is the image whose layers start the built image's, whatever the FROM lines say
    base = base_of(docker_client, lab_image, [*named, STAND_IN_BASE])
    on_top_of = base.name or "nothing (no local image is its base: every byte counts)"
    added_mb = round(added_bytes(docker_client, lab_image, base) / 1e6, 1)
    record_property("added_mb", added_mb)
    record_property("base", base.name)
    record_property("budget_mb", WEIGHT_BUDGET_MB)
    record_property("message", f"adds {added_mb} MB to {on_top_of} (budget {WEIGHT_BUDGET_MB} MB)")
    assert added_mb <= WEIGHT_BUDGET_MB, (
        f"the image adds {added_mb} MB on top of {on_top_of}; the budget is {WEIGHT_BUDGET_MB} MB"
    )


@check(
    12,
    points=8,
    requires=BUILDS,
    hint="Keep /predict free of per-request work beyond the "
    "prediction: load the model once, no sleeps, no per-request file I/O.",
)
def test_latency_under_load(
    lab_service: RunningService,
    docker_client: docker.DockerClient,
    run_id: str,
    reference_batch: dict[str, list[Any]],
    record_property: Any,
    progress: Callable[[str], None],
) -> None:
    """Under 1 CPU and 512 MB, 200 requests from 10 clients: no errors, p95 ≤ 100 ms"""
    # a batch of rows, as clients send them: one model call a request and one a row differ here
    payload = {"instances": reference_batch["instances"][:LOAD_BATCH_ROWS]}
    lab_service.predict(payload["instances"])  # a service that hangs fails here, not in 220 waits
    progress("a load test: 200 requests from 10 clients")
    with measured_alone(), neighbours_held_back(docker_client, run_id):
        load_test(lab_service.url + "/predict", payload, total=20, concurrency=2)  # warm-up
        result = load_test(lab_service.url + "/predict", payload, total=200, concurrency=10)
    for name in ("p50", "p95", "throughput"):
        record_property(name, round(getattr(result, name), 2))
    record_property("message", result.summary())
    assert not result.errors, f"{len(result.errors)} requests failed: {result.summary()}"
    assert result.p95 <= 200, f"p95 is over 200 ms: {result.summary()}"
    if result.p95 > 100:
        raise PartialCredit(0.5, f"p95 over 100 ms (half credit up to 200 ms): {result.summary()}")


def _json_kind(value: Any) -> str:
    """What JSON calls ``value``: ``1.0`` is a number with a fraction part, not an integer."""
    kinds = {bool: "boolean", float: "number with a fraction part", str: "string"}
    return kinds.get(type(value), type(value).__name__)


def _says_something(answer: Answer) -> bool:
    """True when ``answer``'s body is JSON holding a message: a non-empty string, or an object
    or list with some non-empty value (FastAPI's ``{"detail": [...]}`` is one)."""
    try:
        body = answer.json()
    except ValueError:
        return False
    if isinstance(body, dict):
        return any(value not in (None, "", [], {}) for value in body.values())
    return isinstance(body, (str, list)) and bool(body)


def _json(answer: Answer) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    assert isinstance(body, dict), f"the response is not a JSON object: {answer.text[:200]}"
    return body
