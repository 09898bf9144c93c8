"""Warm grading of the first lab vs the raw docker commands and HTTP probes it needs.

Usage: .venv/bin/python bench/grade_vs_raw.py [--repeat 3]
"Raw" does the same work by hand — docker build of a staged copy, hadolint, the reference model in
the runner image, docker run of the service (plus read-only, $PORT and SIGTERM containers), the
probes, docker save read layer by layer, the pip listing, the load test — with no harness around
it. Goal: ≤ 1.3 (docs/authoring.md, the time budget).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import requests
from _common import BIN, SOLUTION, describe, grade_reference_command, timed

from graders.containers.http_load import load_test
from graders.labs.containerize_model.fixtures import REFERENCE_SCRIPT

BAD = [
    b'{"instances": [[1.0]]}',
    b'{"instances": [["abc"]]}',
    b"",
    b"{not json",
    b'{"instances": []}',
]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def serve(image: str, *extra: str, port: int = 8080) -> tuple[str, str]:
    cid = docker(
        "run", "-d", "--cpus", "1", "--memory", "512m", "-p", f"127.0.0.1::{port}", *extra, image
    ).strip()
    host_port = docker("port", cid, f"{port}/tcp").split(":")[-1].strip()
    url = f"http://127.0.0.1:{host_port}"
    for _ in range(300):
        try:
            requests.get(url + "/health", timeout=1)
            return cid, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("service did not start")


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


def raw_once(runner: str) -> float:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temporary:
        context = Path(temporary) / "context"
        shutil.copytree(SOLUTION, context)
        for folder in ("data", ".git", "notebooks", "tests"):
            (context / folder).mkdir(exist_ok=True)
            (context / folder / "planted").write_bytes(b"x" * 1024)
        docker("build", "-q", "-t", "bench-raw:1", str(context))
        subprocess.run(
            [str(BIN / "hadolint"), str(context / "Dockerfile")], check=False, capture_output=True
        )
        reference = docker(
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{SOLUTION / 'train.py'}:/lab/train.py:ro",
            runner,
            "python",
            "-c",
            REFERENCE_SCRIPT,
            "7",
        )
        batch = __import__("json").loads(reference.strip().splitlines()[-1])["instances"]
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
            "run",
            "--rm",
            "--entrypoint",
            "python",
            "bench-raw:1",
            "-c",
            "import importlib.metadata as m; print(len(list(m.distributions())))",
        )
        docker("image", "inspect", "bench-raw:1", "python:3.11-slim")
        docker("rmi", "--no-prune", "bench-raw:1")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as out:
        harness = grade_reference_command(out)
        timed(harness)  # warm: build cache and runner image
        runner = docker("images", "mlops-labs/runner", "--format", "{{.Repository}}:{{.Tag}}")
        runner = runner.split()[0]
        raw_once(runner)
        raw_s, grade_s = [], []
        for _ in range(repeat):
            raw_s.append(raw_once(runner))
            grade_s.append(timed(harness))
    print(describe("raw docker + probes", raw_s))
    print(describe("mlops-labs grade", grade_s))
    ratio = statistics.median(grade_s) / statistics.median(raw_s)
    print(f"ratio (median grade / median raw): {ratio:.3f}  (goal ≤ 1.3)")


if __name__ == "__main__":
    main()
