"""Adversarial submissions, graded for real: the sandbox holds and the grading stays honest.

Each folder of ``tests/adversarial/<lab>/`` is one submission: the lab's solution with one attack,
as a patch (``attack.patch``, applied like a mutant's), and an ``attack.toml``: what it does, the
most it may score, the checks it must not pass, and the harm that must not happen. Every grading
must end with a final report, within the lab's time limit, with no labelled Docker object left,
while the host stays responsive. All traffic goes to listeners these tests start themselves (see
TECH_NOTES, "Network rules for our own tests").

Then the staged copy (protected files, links that leave the submission), the engine-side log cap,
and infrastructure faults: an engine that stops answering mid-grading is an error with a fix, and
parallel gradings cannot collide on a host port or a container name.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from graders.catalogue import Lab, find_lab, load_lab
from graders.checks import declared_checks
from graders.containers.cleanup import labelled, remove_run_resources, run_labels
from graders.containers.images import STAND_IN_BASE, build_image, ensure_image, infra_image
from graders.containers.running import (
    ContainerSpec,
    Limits,
    create_run_network,
    host_port,
    start_container,
)
from graders.emitters import FORMATS
from graders.intake import copy_file
from graders.reference import has_steps, make_submission
from graders.staging import stage_submission
from tests.adversarial.hostile_submissions import INTAKE, Hostile, nest, odd_names, remove_deep
from tests.conftest import FIXTURES, run_cli
from tests.support.labs import patched_copy

ADVERSARIAL = Path(__file__).resolve().parent / "adversarial"
LABS = {
    "containerize-model": "foundation/01-containerize-model",
    "data-versioning": "foundation/02-data-versioning",
}
LISTENER_PORT = 9999
# Listens, and prints one line per connection with what it received.
LISTENER = """
import socket
server = socket.socket()
server.bind(("0.0.0.0", 9999))
server.listen(64)
print("listening", flush=True)
while True:
    connection, peer = server.accept()
    connection.settimeout(2)
    try:
        data = connection.recv(4096)
    except OSError:
        data = b""
    print("CONNECTION", peer[0], data[:100], flush=True)
    connection.close()
"""


@dataclass(frozen=True)
class Attack:
    """One committed adversarial submission and what its grading must show."""

    name: str
    lab_id: str
    path: Path
    description: str
    harm: str
    max_score: float
    fails: tuple[str, ...]
    note: str = ""
    time_limit: float | None = None  # the grading's --time-limit, when not the lab's own
    status: str = "complete"  # how the grading must end

    def __str__(self) -> str:
        return self.name


def attacks() -> list[Attack]:
    """Every ``attack.toml`` under ``tests/adversarial``."""
    found = []
    for toml in sorted(ADVERSARIAL.glob("*/*/attack.toml")):
        raw = tomllib.loads(toml.read_text())
        found.append(
            Attack(
                name=toml.parent.name,
                lab_id=LABS[toml.parent.parent.name],
                path=toml.parent,
                description=raw["description"],
                harm=raw["harm"],
                max_score=float(raw["max_score"]),
                fails=tuple(raw["fails"]),
                note=raw.get("note", ""),
                time_limit=raw.get("time_limit"),
                status=raw.get("status", "complete"),
            )
        )
    return found


@dataclass
class Graded:
    """A finished grading: the report, what the CLI printed, where it wrote, how long it took."""

    report: dict[str, Any]
    output: str
    out: Path
    seconds: float
    slowest_host_command: float
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self, check_id: str) -> dict[str, Any]:
        return next(c for c in self.report["checks"] if c["id"] == check_id)


class HostPulse:
    """Runs ``true`` on the host every half second and keeps the slowest start-to-exit time."""

    def __init__(self) -> None:
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(0.5):
            started = time.monotonic()
            subprocess.run(["true"], check=True, timeout=60)
            self.slowest = max(self.slowest, time.monotonic() - started)

    def __enter__(self) -> HostPulse:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def grade(lab: Lab, submission: Path, out: Path, time_limit: float | None = None) -> Graded:
    """``mlops-labs grade`` as a learner runs it, with the host's pulse taken meanwhile."""
    started = time.monotonic()
    limit = ["--time-limit", str(time_limit)] if time_limit else []
    with HostPulse() as pulse:
        done = run_cli(
            "grade",
            lab.id,
            str(submission),
            "--out",
            str(out),
            "--format",
            ",".join(FORMATS),
            *limit,
        )
    seconds = round(time.monotonic() - started, 1)
    report = json.loads((out / "report.json").read_text())
    graded = Graded(report, done.stdout + done.stderr, out, seconds, round(pulse.slowest, 2))
    graded.extra["exit_code"] = done.returncode
    graded.extra["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return graded


# --- what each attack needs before its grading, and the harm checked after it -----------------


@pytest.fixture
def test_run(docker_engine: docker.DockerClient) -> Iterator[str]:
    """A run id for the Docker objects the test itself starts (listeners, a network)."""
    run_id = "adversarial-" + uuid.uuid4().hex[:8]
    try:
        yield run_id
    finally:
        remove_run_resources(docker_engine, run_id)


def start_listener(client: docker.DockerClient, run_id: str, network: str) -> tuple[Any, str]:
    """A listener container on ``network``; it and its ``ip:port``, once it answers a control
    connection (so the test can fail: the listener works) from a peer on that network, or from
    the host on the engine's default bridge, whose containers are kept apart."""
    ensure_image(client, STAND_IN_BASE)
    spec = ContainerSpec(
        STAND_IN_BASE,
        run_id,
        "listener",
        network=network,
        command=["python", "-c", LISTENER],
        user="10001:10001",
        limits=Limits(cpus=0.5, memory="128m", pids=32),
    )
    container = start_container(client, spec)
    deadline = time.monotonic() + 30
    while b"listening" not in container.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    if network == "bridge":  # containers on it are kept apart (--icc=false): from the host
        socket.create_connection((address, LISTENER_PORT), timeout=5).sendall(b"control")
    else:
        control = (
            f"import socket; socket.create_connection(({address!r}, {LISTENER_PORT}), timeout=5)"
            ".sendall(b'control')"
        )
        client.containers.run(
            STAND_IN_BASE, ["python", "-c", control], network=network, remove=True, user="10001"
        )
    return container, f"{address}:{LISTENER_PORT}"


def received(listener: Any) -> list[str]:
    """What a listener received, besides the control connection."""
    lines = listener.logs().decode(errors="replace").splitlines()
    assert any("control" in line for line in lines), "the listener never worked: no control line"
    return [line for line in lines if line.startswith("CONNECTION") and "control" not in line]


def prepare(
    attack: Attack, client: docker.DockerClient, test_run: str, tmp_path: Path, folder: Path
) -> Callable[[Graded], None]:
    """Set up what ``attack`` needs in ``folder`` (its copy) and return the check of its harm."""
    if attack.harm == "exfiltration":
        network = create_run_network(client, test_run, f"mlops-labs-{test_run}-listeners").name
        on_bridge, bridge_address = start_listener(client, test_run, "bridge")
        on_network, network_address = start_listener(client, test_run, network)
        (folder / "exfil-target.txt").write_text(f"{bridge_address}\n{network_address}\n")

        def nothing_received(graded: Graded) -> None:
            assert received(on_bridge) == [] and received(on_network) == []
            message = graded.check("test_health_answers_within_20s")["message"]
            assert "unreachable" in message and "took the data" not in message, message

        return nothing_received
    if attack.harm == "symlink":
        token = "SECRET-" + secrets.token_hex(8)
        (tmp_path / "secret.txt").write_text(f"{token}\n")
        link = folder / "Dockerfile"
        secret = link.resolve()  # committed relative (../secret.txt); made absolute here, so that
        link.unlink()  # a copy of the folder anywhere else would still lead to the secret
        link.symlink_to(secret)
        assert link.read_text().strip() == token

        def secret_nowhere(graded: Graded) -> None:
            assert token.lower() not in graded.output.lower()
            for path in graded.out.rglob("*"):
                if path.is_file():
                    assert token.lower() not in path.read_text(errors="replace").lower(), path

        return secret_nowhere
    if attack.harm == "conftest":
        proof = tmp_path / "loaded.txt"
        (folder / "conftest-marker.txt").write_text(str(proof))

        def nothing_loaded(graded: Graded) -> None:
            assert not proof.exists(), proof.read_text()

        return nothing_loaded
    if attack.harm == "gigabytes-of-output":
        (folder / "cache-buster.txt").write_text(uuid.uuid4().hex)  # no step from the cache
        root = client.info()["DockerRootDir"]
        free_before = shutil.disk_usage(root).free if os.access(root, os.R_OK) else None

        def output_capped(graded: Graded) -> None:
            sizes = {p.name: p.stat().st_size for p in graded.out.rglob("*") if p.is_file()}
            assert sum(sizes.values()) < 5_000_000, sizes
            assert all(size < 2_000_000 for size in sizes.values()), sizes
            build = graded.check("test_image_builds")
            assert "printed more than 20 MB" in build["message"], build["message"][-500:]
            if free_before is not None:  # 5 GB printed; uncapped, the engine would log it all
                assert free_before - shutil.disk_usage(root).free < 2_000_000_000

        return output_capped
    if attack.harm == "fork-bomb":

        def bomb_stopped(graded: Graded) -> None:
            # a container limit stops it: the PID limit (the bomb says so), or, when the forked
            # processes fill 512 MB first (a busy machine), the memory limit (killed, code 137)
            message = graded.check("test_health_answers_within_20s")["message"]
            if "refused a fork with" in message:
                running = int(message.split("refused a fork with ")[1].split()[0])
                assert running <= 256  # the service's PID limit
            else:
                assert "exited at start with code 137" in message, message

        return bomb_stopped
    if attack.harm == "memory-bomb":

        def killed_at_its_limit(graded: Graded) -> None:
            message = graded.check("test_health_answers_within_20s")["message"]
            assert "exited at start with code 137" in message, message  # SIGKILL by the OOM killer

        return killed_at_its_limit
    if attack.harm == "infinite-loop":

        def failed_on_the_probe_limit(graded: Graded) -> None:
            message = graded.check("test_predict_matches_reference_model")["message"]
            assert "got no complete answer within 10 s" in message, message

        return failed_on_the_probe_limit
    if attack.harm == "trickle":

        def failed_on_the_exchange_deadline(graded: Graded) -> None:
            asked = [c for c in attack.fails if "sigterm" not in c]  # all but the SIGTERM check
            for check_id in asked:
                message = graded.check(check_id)["message"]
                assert "no complete answer within 10 s" in message, (check_id, message)
            assert graded.seconds < 300, "each exchange ends at its deadline, not at the lab's"

        return failed_on_the_exchange_deadline
    if attack.harm == "gigabyte-answer":

        def read_at_most_the_cap(graded: Graded) -> None:
            message = graded.check("test_predict_matches_reference_model")["message"]
            assert "answered more than 1 MB" in message, message
            # the largest of every process this test run has waited for, the grading's included
            assert graded.extra["peak_rss_mb"] < 1000, graded.extra

        return read_at_most_the_cap
    if attack.harm == "escape-sequences":

        def nothing_raw_anywhere(graded: Graded) -> None:
            message = graded.check("test_predict_matches_reference_model")["message"]
            assert "got clickRED" in message, message  # quoted, cleaned
            texts = {"terminal": graded.output}
            texts |= {p.name: p.read_text(errors="replace") for p in graded.out.rglob("*.*")}
            for name, text in texts.items():
                for raw in ("\x1b", "\x9b", "\x07", "\x00", "\ud800"):
                    assert raw not in text, f"{name} holds {raw!r}"

        return nothing_raw_anywhere
    if attack.harm == "time-limit":

        def scored_out_of_the_full_total(graded: Graded) -> None:
            lab = find_lab(attack.lab_id)
            declared = [c.id for c in declared_checks(lab.checks_module)]
            report = graded.report
            assert [c["id"] for c in report["checks"]] == declared
            assert report["max_score"] == 100
            assert graded.extra["exit_code"] == 3
            not_run = [c["id"] for c in report["checks"] if c["outcome"] == "not run"]
            assert len(not_run) >= len(declared) - 1, report["checks"]
            gradebook = (graded.out / "gradebook.csv").read_text()
            junit = (graded.out / "junit.xml").read_text()
            assert "not run" in gradebook and 'type="not run"' in junit
            assert ",100," in gradebook  # max_score: the lab's full total
            stalled = [
                c.id
                for c in client.containers.list(all=True)
                if "sleep 100000" in " ".join(c.attrs["Config"].get("Cmd") or [])
            ]
            assert stalled == [], "the stalled build step outlived the grading"

        return scored_out_of_the_full_total
    if attack.harm == "faked-metric":

        def the_real_metric_was_graded(graded: Graded) -> None:
            message = graded.check("test_metrics_declared_and_threshold_met")["message"]
            # metrics.json holds the model's figure minus 0.3: below the threshold, and not the
            # figure the grader gets when it scores the model itself; never the faked 0.99
            assert "0.99" not in message, message
            assert "below 0.78" in message or "(the grader's own figure)" in message, message

        return the_real_metric_was_graded
    if attack.harm == "never-stops":

        def ended_anyway(graded: Graded) -> None:
            message = graded.check("test_sigterm_exits_cleanly_finishing_inflight_request")[
                "message"
            ]
            assert "still running 10 s after SIGTERM" in message, message

        return ended_anyway
    if attack.harm in IMAGE_FACTS:
        return image_facts_harm(attack, client, test_run, tmp_path)
    raise AssertionError(f"{attack.path / 'attack.toml'}: unknown harm {attack.harm!r}")


# --- facts about an image come from the image; an image that cannot start is the learner's -----

IMAGE_FACTS = ("cannot-start", "fat-base", "planted-in-a-layer", "pip-shim")
SERVICE_CHECK = "test_health_answers_within_20s"


def image_facts_harm(
    attack: Attack, client: docker.DockerClient, test_run: str, tmp_path: Path
) -> Callable[[Graded], None]:
    """What an attack on the image's facts needs, and the check that the grader saw through it."""
    if attack.harm == "cannot-start":

        def failed_with_what_to_fix(graded: Graded) -> None:
            for check_id in attack.fails:
                check = graded.check(check_id)
                assert check["outcome"] == "failed", check  # the learner's, never an error
            message = graded.check(SERVICE_CHECK)["message"]
            assert "could not start: the engine refused it" in message, message
            assert "CMD or ENTRYPOINT" in message or "ENTRYPOINT or CMD" in message, message

        return failed_with_what_to_fix
    if attack.harm == "fat-base":
        # the name the attack hides in a RUN line: a local image far bigger than the real base
        fat = tmp_path / "fat-base"
        fat.mkdir()
        (fat / "Dockerfile").write_text(f"FROM {infra_image(client, 'runner')}\n")
        assert build_image(fat, "mlops-labs-attack/fat-base:1", run_labels(test_run)).ok
        slim = int(client.images.get(STAND_IN_BASE).attrs["Size"])
        assert int(client.images.get("mlops-labs-attack/fat-base:1").attrs["Size"]) > 3 * slim

        def weighed_on_its_real_base(graded: Graded) -> None:
            check = graded.check("test_image_weight_within_budget")
            assert check["data"]["base"] == STAND_IN_BASE, check
            assert check["data"]["added_mb"] > 330, check  # the kept pip cache, honestly weighed

        return weighed_on_its_real_base
    if attack.harm == "planted-in-a-layer":

        def found_in_its_layer(graded: Graded) -> None:
            message = graded.check("test_build_context_excludes_data_git_notebooks_tests")[
                "message"
            ]
            assert "/app/data/mlops-labs-planted-" in message, message

        return found_in_its_layer
    if attack.harm == "pip-shim":

        def read_from_the_files(graded: Graded) -> None:
            message = graded.check("test_dependencies_pinned_and_installed")["message"]
            assert "joblib==1.6.0 (installed: 1.5.3)" in message, message

        return read_from_the_files
    raise AssertionError(f"{attack.path / 'attack.toml'}: unknown harm {attack.harm!r}")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("attack", attacks(), ids=str)
def test_adversarial_submission_is_graded_without_harm_or_inflation(
    attack: Attack, docker_engine: docker.DockerClient, test_run: str, tmp_path: Path
) -> None:
    lab = find_lab(attack.lab_id)
    folder = tmp_path / "submission"
    patched_copy(lab.solution, attack.path / "attack.patch", folder)
    harmless = prepare(attack, docker_engine, test_run, tmp_path, folder)
    if has_steps(folder):  # a repository lab: the learner's repository, as its steps make it
        folder = make_submission(folder, tmp_path / "repository")
    graded = grade(lab, folder, tmp_path / "out", attack.time_limit)
    report = graded.report
    print(f"{attack.name}: {graded.seconds} s, {report['score']}/{report['max_score']}")
    outcomes = {c["id"]: f"{c['outcome']}: {c['message'][:300]}" for c in report["checks"]}
    assert report["status"] == attack.status, (report["errors"], outcomes)  # graded, not broken
    assert report["score"] <= attack.max_score, outcomes
    assert not [c for c in report["checks"] if c["id"] in attack.fails and c["points"]], outcomes
    assert attack.note in " ".join(report["notes"]), report["notes"]
    assert f"Score: {report['score']:g} / {report['max_score']:g}" in graded.output
    assert graded.seconds < lab.time_limit_seconds
    assert graded.slowest_host_command < 5, "the host stopped answering during the grading"
    assert labelled(docker_engine, report["environment"]["run_id"]) == []
    harmless(graded)


# --- the staged copy -----------------------------------------------------------------------------


def lab_with(tmp_path: Path, protected: list[str]) -> Lab:
    """The tiny file lab (tests/fixtures) with ``protected`` files, in a copy of its own."""
    folder = tmp_path / "labs" / "foundation" / "01-tiny-lab"
    shutil.copytree(FIXTURES / "labs" / "foundation" / "01-tiny-lab", folder)
    toml = folder / "lab.toml"
    toml.write_text(toml.read_text() + f"\n[submission]\nprotected = {json.dumps(protected)}\n")
    return load_lab(folder)


def test_staging_leaves_out_links_that_leave_the_submission_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    lab = lab_with(tmp_path, [])
    (tmp_path / "secret.txt").write_text("secret")
    learner = tmp_path / "learner"
    (learner / "app").mkdir(parents=True)
    (learner / "app" / "main.py").write_text("print('hi')\n")
    (learner / "up").symlink_to("../secret.txt")
    (learner / "absolute").symlink_to(tmp_path / "secret.txt")
    (learner / "etc").symlink_to("/etc")
    (learner / "app" / "through").symlink_to("../etc/hostname")
    (learner / "inside").symlink_to(learner / "app" / "main.py")  # absolute, but inside
    (learner / "app" / "sibling").symlink_to("main.py")
    os.mkfifo(learner / "pipe")
    staged = stage_submission(lab, learner, tmp_path / "staged")
    names = sorted(p.name for p in staged.path.rglob("*"))
    assert names == ["app", "inside", "main.py", "sibling"]
    assert (staged.path / "inside").read_text() == "print('hi')\n"
    assert not os.readlink(staged.path / "inside").startswith("/")  # it points into the copy
    assert sorted(staged.outside_links) == ["absolute", "app/through", "etc", "up"]
    assert staged.special_files == ["pipe"]
    assert "symbolic links that lead outside your folder" in staged.notes()[0]


def test_a_virtual_environment_in_the_folder_is_left_out_without_a_note(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, [])
    learner = tmp_path / "learner"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(learner / ".venv")], check=True
    )
    (learner / "app.py").write_text("print('hi')\n")
    (learner / "notes").mkdir()
    (learner / "notes" / "pyvenv.cfg.txt").write_text("not a marker\n")
    staged = stage_submission(lab, learner, tmp_path / "staged")
    assert sorted(p.name for p in staged.path.iterdir()) == ["app.py", "notes"]
    assert staged.outside_links == [] and staged.notes() == []


def test_staging_grades_protected_files_as_the_starter_has_them(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, ["answer.txt"])
    learner = tmp_path / "learner"
    learner.mkdir()
    (learner / "answer.txt").write_text("42\n")  # the starter says 41
    staged = stage_submission(lab, learner, tmp_path / "staged")
    assert (staged.path / "answer.txt").read_text() == "41\n"
    assert staged.replaced == ["answer.txt"]
    (tmp_path / "as-is").mkdir()
    (tmp_path / "as-is" / "answer.txt").write_text("41\n")
    assert stage_submission(lab, tmp_path / "as-is", tmp_path / "staged-2").replaced == []
    (learner / "answer.txt").unlink()
    (learner / "answer.txt").symlink_to("/etc/hostname")
    staged = stage_submission(lab, learner, tmp_path / "staged-3")
    assert (staged.path / "answer.txt").read_text() == "41\n"
    assert staged.replaced == ["answer.txt"] and staged.outside_links == ["answer.txt"]


def test_a_changed_protected_file_is_graded_as_the_labs_and_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = lab_with(tmp_path, ["answer.txt"])
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(tmp_path / "labs"))
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES / "graders"))
    learner = tmp_path / "learner"
    learner.mkdir()
    (learner / "answer.txt").write_text("42\n")
    done = run_cli("grade", lab.id, str(learner), "--out", str(tmp_path / "out"))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["submission"] == str(learner)
    assert report["checks"][1]["outcome"] == "failed"  # graded with the starter's 41
    assert any("lab's own copy of answer.txt" in note for note in report["notes"])
    assert "Note: graded with the lab's own copy of answer.txt" in done.stdout
    assert (learner / "answer.txt").read_text() == "42\n"  # the learner's folder is untouched


def test_every_protected_file_is_the_same_in_starter_and_solution() -> None:
    from graders.catalogue import discover_labs
    from graders.staging import sha256

    for lab in discover_labs():
        for name in lab.protected:
            assert (lab.starter / name).is_file(), f"{lab.id}: starter/{name}"
            assert sha256(lab.starter / name) == sha256(lab.solution / name), f"{lab.id}: {name}"


# --- the engine's side: logs, ports, names, an engine that stops answering ----------------------


@pytest.mark.docker
def test_a_container_printing_tens_of_megabytes_keeps_one_megabyte_of_logs(
    docker_engine: docker.DockerClient, test_run: str
) -> None:
    ensure_image(docker_engine, STAND_IN_BASE)
    spec = ContainerSpec(
        STAND_IN_BASE,
        test_run,
        "flood",
        command=["sh", "-c", "yes 'a line of output' | head -c 20000000"],
        limits=Limits(cpus=1.0, memory="128m", pids=32),
    )
    container = start_container(docker_engine, spec)
    assert container.wait(timeout=120)["StatusCode"] == 0
    assert len(container.logs()) < 2_000_000


@pytest.mark.docker
def test_published_ports_are_chosen_by_the_engine_so_gradings_never_collide(
    docker_engine: docker.DockerClient, test_run: str
) -> None:
    ensure_image(docker_engine, STAND_IN_BASE)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))  # a port something else holds
    taken.listen(1)
    taken_port = taken.getsockname()[1]
    spec = ContainerSpec(
        STAND_IN_BASE,
        test_run,
        "same-name-hint",
        command=["python", "-m", "http.server", "8080"],
        publish=(8080,),
        user="10001:10001",
    )
    try:
        first, second = start_container(docker_engine, spec), start_container(docker_engine, spec)
        ports = {host_port(first, 8080), host_port(second, 8080)}
        bindings = first.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    finally:
        taken.close()
    assert first.name != second.name
    assert len(ports) == 2 and taken_port not in ports and None not in ports
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    assert first.attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert first.attrs["HostConfig"]["NetworkMode"] == f"mlops-labs-{test_run}-published"


class EngineProxy:
    """A unix socket that forwards to the Docker engine's, until ``stop`` (the engine "stops")."""

    def __init__(self, engine: str, path: Path) -> None:
        self.engine, self.path = engine, path
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(64)
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.engine)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self.server.close()
        self.path.unlink()
        for connection in self.open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


ENGINE_GOES_GRADER = '''
"""Checks that meet an engine that stops answering after the grading started."""
import os, time
from pathlib import Path
from graders.checks import check
from graders.containers.cleanup import run_labels
from graders.containers.images import build_image
from graders.containers.running import ContainerSpec, start_container

GONE = Path(os.environ["ENGINE_GONE_FLAG"])

@check(1, points=1, hint="-")
def test_builds(docker_client, submission_dir, run_id):
    """It builds"""
    docker_client.ping()
    GONE.with_suffix(".connected").touch()
    while not GONE.exists():
        time.sleep(0.1)
    assert build_image(submission_dir, f"mlops-labs/gone:{run_id}", run_labels(run_id)).ok

@check(2, points=1, hint="-")
def test_runs(docker_client, run_id):
    """It runs"""
    start_container(docker_client, ContainerSpec("python:3.11-slim", run_id, "gone"))
'''


@pytest.mark.docker
def test_an_engine_that_stops_answering_mid_grading_is_an_error_with_a_fix_never_a_failure(
    docker_engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = "/var/run/docker.sock"
    if os.environ.get("DOCKER_HOST", f"unix://{engine}") != f"unix://{engine}":
        pytest.skip("the engine is not on the default unix socket")
    folder = tmp_path / "labs" / "foundation" / "02-tiny-docker-lab"
    shutil.copytree(FIXTURES / "labs" / "foundation" / "02-tiny-docker-lab", folder)
    toml = folder / "lab.toml"
    toml.write_text(toml.read_text().replace('"tiny_docker_grader"', '"engine_goes_grader"'))
    (tmp_path / "engine_goes_grader").mkdir()
    (tmp_path / "engine_goes_grader" / "__init__.py").touch()
    (tmp_path / "engine_goes_grader" / "checks.py").write_text(ENGINE_GOES_GRADER)
    flag = tmp_path / "engine-gone"
    proxy = EngineProxy(engine, tmp_path / "engine.sock")
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(tmp_path / "labs"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{proxy.path}")
    monkeypatch.setenv("ENGINE_GONE_FLAG", str(flag))
    learner = subprocess.Popen(
        [
            *run_cli_command(),
            "grade",
            "foundation/02-tiny-docker-lab",
            str(folder / "solution"),
            "--out",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not flag.with_suffix(".connected").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proxy.stop()
    flag.touch()
    output, _ = learner.communicate(timeout=180)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    remove_run_resources(docker_engine, report["environment"]["run_id"])
    assert learner.returncode == 3, output
    assert report["status"] == "error"
    assert [c["outcome"] for c in report["checks"]] == ["error", "error"], report["checks"]
    for check in report["checks"]:
        assert "Fix: start a Docker engine" in check["message"], check["message"]


def run_cli_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "graders.cli"]


# --- intake: hostile submissions built in tmp_path (tests/adversarial/hostile_submissions.py) ---

TINY_LAB = "foundation/01-tiny-lab"


def grade_tiny(learner: Path, out: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    """``mlops-labs grade`` of the tiny lab, with its temporary folders in ``scratch``."""
    scratch.mkdir()
    return run_cli(
        "grade",
        TINY_LAB,
        str(learner),
        "--out",
        str(out),
        "--format",
        "terminal,json",
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=300,
    )


@pytest.mark.parametrize("hostile", INTAKE, ids=str)
def test_a_hostile_submission_gets_a_report_that_names_the_limit_and_leaves_nothing(
    hostile: Hostile, tiny_labs: Path, tmp_path: Path
) -> None:
    learner = tmp_path / "learner"
    started = time.monotonic()
    try:
        hostile.build(learner)  # asserts that the attack is real
        done = grade_tiny(learner, tmp_path / "out", tmp_path / "scratch")
    finally:
        remove_deep(learner)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert done.returncode == 1, done.stdout + done.stderr  # the learner's doing, not an error
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert report["status"] == "complete" and report["max_score"] == 6, report  # the full total
    assert report["score"] <= hostile.max_score, report["checks"]
    assert hostile.says in " ".join(report["notes"]), report["notes"]
    assert f"Score: {report['score']:g} / 6" in done.stdout
    assert list((tmp_path / "scratch").iterdir()) == [], "a temporary folder was left behind"
    assert time.monotonic() - started < 120


def test_odd_file_names_are_graded_and_only_ever_shown_escaped(
    tiny_labs: Path, tmp_path: Path
) -> None:
    learner = tmp_path / "learner"
    odd_names(learner)
    assert any("\x1b" in name for name in os.listdir(learner)), "names with escape sequences"
    done = grade_tiny(learner, tmp_path / "out", tmp_path / "scratch")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert done.returncode == 0, done.stdout + done.stderr  # graded as any other: 6/6
    assert report["score"] == 6 and report["status"] == "complete"
    notes = " ".join(report["notes"])
    assert "symbolic links that lead outside your folder (out-" in notes, notes
    assert "not files or folders (pipe-" in notes, notes
    for text in (done.stdout, notes):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert list((tmp_path / "scratch").iterdir()) == []


@pytest.mark.docker
def test_a_real_lab_refuses_a_deep_submission_before_building_anything(
    docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    lab = find_lab("foundation/01-containerize-model")
    learner = tmp_path / "learner"
    shutil.copytree(lab.solution, learner)  # the honest part: the reference, 100 %
    try:
        nest(learner)
        graded = grade(lab, learner, tmp_path / "out")
    finally:
        remove_deep(learner)
    report = graded.report
    total = sum(check.spec.points for check in declared_checks(lab.checks_module))
    assert report["status"] == "complete", report["errors"]
    assert (report["score"], report["max_score"]) == (0, total)
    assert {check["outcome"] for check in report["checks"]} == {"not run"}
    assert "more than 64 nested folders" in " ".join(report["notes"])
    assert labelled(docker_engine, report["environment"]["run_id"]) == []
    assert graded.seconds < 60


def test_a_pipe_in_a_files_place_is_never_opened_by_the_copy(tmp_path: Path) -> None:
    pipe = tmp_path / "answer.txt"
    os.mkfifo(pipe)  # as if swapped in for the file between the listing and the copy
    copied: list[bool] = []
    copier = threading.Thread(
        target=lambda: copied.append(copy_file(pipe, tmp_path / "copy", 10)), daemon=True
    )
    copier.start()
    copier.join(5)
    if copier.is_alive():  # an open() that blocks: release it, then fail
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    assert copied == [False] and not (tmp_path / "copy").exists()


def test_no_room_on_the_disk_is_an_error_with_a_fix_and_a_report(
    tiny_labs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from graders import intake
    from graders.grading import grade as grade_in_process

    monkeypatch.syspath_prepend(str(FIXTURES / "graders"))
    learner = tmp_path / "learner"
    learner.mkdir()
    (learner / "answer.txt").write_text("42\n")
    full = shutil.disk_usage(tmp_path)._replace(free=100 << 20)
    monkeypatch.setattr(intake.shutil, "disk_usage", lambda path: full)
    report = grade_in_process(find_lab(TINY_LAB), learner, tmp_path / "out", Console(quiet=True))
    assert report.status == "error" and report.score == 0 and report.max_score == 6
    assert "not enough free disk" in report.errors[0] and "Fix: free some disk" in report.errors[0]
    assert (tmp_path / "out" / "report.json").is_file()
