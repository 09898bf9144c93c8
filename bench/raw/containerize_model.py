"""foundation/01 by hand: docker build of a staged copy, hadolint, the reference model in the
runner image, docker run of the service (plus read-only, $PORT and SIGTERM containers), the
probes, docker save read layer by layer, the pip listing, the load test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import requests

from graders.containers.http_load import load_test
from graders.labs.containerize_model.fixtures import REFERENCE_SCRIPT
from raw._kit import Raw, docker, published_url, wait_http

LAB = "foundation/01-containerize-model"
BAD = [
    b'{"instances": [[1.0]]}',
    b'{"instances": [["abc"]]}',
    b"",
    b"{not json",
    b'{"instances": []}',
]


def serve(image: str, *extra: str, port: int = 8080) -> tuple[str, str]:
    """Run ``image`` detached under the grader's limits; its container id and ready URL."""
    cid = docker(
        "run", "-d", "--cpus", "1", "--memory", "512m", "-p", f"127.0.0.1::{port}", *extra, image
    ).strip()
    url = published_url(cid, port)
    wait_http(url + "/health", deadline=30)
    return cid, url


def every_layers_members(image: str) -> int:
    """Stream ``docker save`` and list every layer's members: what checks 8 and 10 need (a file
    a later layer deletes is still shipped in its layer, so the final filesystem is not enough)."""
    saving = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    assert saving.stdout is not None
    count = 0
    with tarfile.open(fileobj=saving.stdout, mode="r|") as outer:
        for member in outer:
            inner = outer.extractfile(member) if member.isfile() else None
            if inner is None:
                continue
            try:  # a layer is a tar; the manifest and the config are not
                with tarfile.open(fileobj=inner, mode="r|") as layer:
                    count += sum(1 for _ in layer)
            except tarfile.ReadError:
                continue
    saving.wait()
    return count


def run(raw: Raw) -> None:
    """The first lab's grading, by hand."""
    context = raw.work / "context"
    shutil.copytree(raw.solution, context)
    for folder in ("data", ".git", "notebooks", "tests"):
        (context / folder).mkdir(exist_ok=True)
        (context / folder / "planted").write_bytes(b"x" * 1024)
    docker("build", "-q", "-t", "bench-raw:1", str(context))
    hadolint = Path(sys.executable).parent / "hadolint"
    subprocess.run([str(hadolint), str(context / "Dockerfile")], check=False, capture_output=True)
    reference = docker(
        "run", "--rm", "--network", "none",
        "-v", f"{raw.solution / 'train.py'}:/lab/train.py:ro",
        raw.runner, "python", "-c", REFERENCE_SCRIPT, "7",
    )  # fmt: skip
    batch = json.loads(reference.strip().splitlines()[-1])["instances"]
    cid, url = serve("bench-raw:1")
    requests.post(url + "/predict", json={"instances": batch}, timeout=10)
    for body in BAD:
        requests.post(url + "/predict", data=body, timeout=10)
    load_test(url + "/predict", {"instances": batch[:1]}, total=20, concurrency=2)
    load_test(url + "/predict", {"instances": batch[:1]}, total=200, concurrency=10)
    for extra in (["--read-only", "--tmpfs", "/tmp"], ["-e", "PORT=9137"]):
        port = 9137 if "PORT=9137" in extra else 8080
        other, other_url = serve("bench-raw:1", *extra, port=port)
        requests.post(other_url + "/predict", json={"instances": batch[:1]}, timeout=10)
        docker("rm", "-f", other)
    every_layers_members("bench-raw:1")
    term, _ = serve("bench-raw:1")
    docker("kill", "-s", "TERM", term)
    docker("wait", term)
    docker("rm", "-f", term, cid)
    docker(
        "run", "--rm", "--entrypoint", "python", "bench-raw:1",
        "-c", "import importlib.metadata as m; print(len(list(m.distributions())))",
    )  # fmt: skip
    docker("image", "inspect", "bench-raw:1", "python:3.11-slim")
    docker("rmi", "--no-prune", "bench-raw:1")
