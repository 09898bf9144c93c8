"""The truthfulness contract, over every lab: graders are proven to bite.

The reference solution scores 100 %, the starter at most 20 %, and every committed mutant loses
exactly the checks its ``mutant.toml`` names (checks gated on those may be *blocked*), and no other.
Checks that need a Kubernetes cluster are *skipped* where none answers, saying how to get one: they
count as lost then (a skip is never a pass), and the rules hold for every other check; a mutant's
``fails_on_cluster`` are the checks it must lose where a cluster answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from graders.catalogue import Lab, discover_labs
from graders.containers.images import STAND_IN_BASE, ensure_image
from graders.reference import has_steps, make_submission
from tests.conftest import run_cli
from tests.support.labs import Mutant, declared_checks, mutants_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]
LABS = discover_labs()
MUTANTS = [(lab, mutant) for lab in LABS for mutant in mutants_of(lab)]
STARTER_MAX_PERCENT = 20


def grade(lab: Lab, what: str, out: Path) -> dict[str, Any]:
    """Grade a folder (or ``--reference``) through the CLI, as a learner would; the JSON report."""
    done = run_cli("grade", lab.id, what, "--out", str(out), "--format", "json")
    report = json.loads((out / "report.json").read_text())
    assert done.returncode in (0, 1), f"grading errored (exit {done.returncode}):\n{done.stdout}"
    assert report["status"] == "complete", report["errors"]
    return dict(report)


def skipped_for_want_of_a_cluster(check: dict[str, Any]) -> bool:
    """True when a check was skipped because no Kubernetes cluster answers (directly, or because
    its prerequisite was)."""
    return check["outcome"] == "skipped" and (
        "mlops-labs cluster up" in check["message"] or "did not pass (skipped)" in check["message"]
    )


def summary(report: dict[str, Any]) -> str:
    return "\n".join(
        f"{c['id']}: {c['outcome']} {c['points']}/{c['max_points']} {c['message'][:300]}"
        for c in report["checks"]
    )


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_reference_solution_scores_100_percent(
    lab: Lab, docker_engine: object, tmp_path: Path
) -> None:
    report = grade(lab, "--reference", tmp_path)
    assert len(report["checks"]) == len(declared_checks(lab))
    if lab.requires.kind and any(skipped_for_want_of_a_cluster(c) for c in report["checks"]):
        # here, every check that can run passes: 100 % of what ran
        assert all(
            c["outcome"] == "passed" or skipped_for_want_of_a_cluster(c) for c in report["checks"]
        ), summary(report)
    else:
        assert report["percent"] == 100, summary(report)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_starter_scores_at_most_20_percent(lab: Lab, docker_engine: object, tmp_path: Path) -> None:
    report = grade(lab, str(lab.starter), tmp_path)
    assert report["percent"] <= STARTER_MAX_PERCENT, summary(report)


@pytest.mark.parametrize(("lab", "mutant"), MUTANTS, ids=lambda v: getattr(v, "name", "") or v.id)
def test_mutant_loses_exactly_its_checks(
    lab: Lab, mutant: Mutant, docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    folder = mutant.materialize(lab.solution, tmp_path / "mutant")
    if has_steps(folder):  # a repository lab: the (patched) steps make the submission
        folder = make_submission(folder, tmp_path / "submission")
    with images_available(docker_engine, mutant.needs_images):
        report = grade(lab, str(folder), tmp_path / "out")
    requires = {c.id: set(c.spec.requires) for c in declared_checks(lab)}
    no_cluster = lab.requires.kind and any(
        skipped_for_want_of_a_cluster(c) for c in report["checks"]
    )
    fails = set(mutant.fails) | (set() if no_cluster else set(mutant.fails_on_cluster))
    lost = {c["id"] for c in report["checks"] if c["points"] < c["max_points"]}
    assert fails <= lost, f"{mutant.name} kept points it must lose:\n{summary(report)}"
    for check in report["checks"]:
        if check["id"] in fails:
            continue
        gated = check["outcome"] == "blocked" and requires[check["id"]] & fails
        unavailable = no_cluster and skipped_for_want_of_a_cluster(check)
        assert check["outcome"] == "passed" or gated or unavailable, (
            f"{mutant.name} also lost {check['id']}:\n{summary(report)}"
        )


@contextmanager
def images_available(client: docker.DockerClient, images: tuple[str, ...]) -> Iterator[None]:
    """Make the images a mutant names exist for its build.

    Where a registry answers they are pulled. Offline (our CI) an image such as ``python:latest``
    is a stand-in: the base stand-in tagged under that name for the test, and untagged afterwards.
    """
    tagged = []
    for image in images:
        try:
            ensure_image(client, image)
        except Exception:
            ensure_image(client, STAND_IN_BASE)
            repository, tag = image.rsplit(":", 1)
            client.images.get(STAND_IN_BASE).tag(repository, tag)
            tagged.append(image)
    try:
        yield
    finally:
        for image in tagged:
            try:
                client.images.remove(image, noprune=True)
            except docker.errors.APIError:
                pass
