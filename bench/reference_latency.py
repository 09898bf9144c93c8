"""Reference solution latency: p50/p95/throughput on 1 CPU at a given concurrency.

Usage: .venv/bin/python bench/reference_latency.py [--clients 20] [--requests 2000]
Builds the first lab's reference image, runs it under --cpus 1 --memory 512m, warms it up, then
sends a bounded number of POST /predict requests from loopback. Goal at 20 clients: p95 ≤ 10 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import time

import requests
from _common import SOLUTION

from graders.containers.http_load import load_test

ROW = [
    17.99,
    10.38,
    122.8,
    1001.0,
    0.1184,
    0.2776,
    0.3001,
    0.1471,
    0.2419,
    0.07871,
    1.095,
    0.9053,
    8.589,
    153.4,
    0.006399,
    0.04904,
    0.05373,
    0.01587,
    0.03003,
    0.006193,
    25.38,
    17.33,
    184.6,
    2019.0,
    0.1622,
    0.6656,
    0.7119,
    0.2654,
    0.4601,
    0.1189,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    subprocess.run(
        ["docker", "build", "-q", "-t", "bench-latency:1", str(SOLUTION)],
        check=True,
        capture_output=True,
    )
    cid = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--cpus",
            "1",
            "--memory",
            "512m",
            "-p",
            "127.0.0.1::8080",
            "bench-latency:1",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        port = (
            subprocess.run(
                ["docker", "port", cid, "8080/tcp"], check=True, capture_output=True, text=True
            )
            .stdout.split(":")[-1]
            .strip()
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                requests.get(url + "/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        payload = {"instances": [ROW]}
        load_test(url + "/predict", payload, total=200, concurrency=args.clients)
        result = load_test(url + "/predict", payload, total=args.requests, concurrency=args.clients)
        print(f"{args.clients} clients, {args.requests} requests, 1 CPU: {result.summary()}")
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        subprocess.run(
            ["docker", "rmi", "--no-prune", "bench-latency:1"], capture_output=True, check=False
        )


if __name__ == "__main__":
    main()
