"""HTTP probes: a bounded load test with latency percentiles, and a request held in flight.

All traffic goes to loopback ports published by containers this run started.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class LoadResult:
    """Latencies (ms), errors and throughput of one load test."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def p50(self) -> float:
        """Median latency in ms."""
        return percentile(self.latencies_ms, 50)

    @property
    def p95(self) -> float:
        """95th-percentile latency in ms."""
        return percentile(self.latencies_ms, 95)

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line with the figures, for a check's message."""
        return (
            f"{len(self.latencies_ms)} ok, {len(self.errors)} errors; p50 {self.p50:.1f} ms, "
            f"p95 {self.p95:.1f} ms, {self.throughput:.0f} req/s"
        )


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ranked = sorted(values)
    return ranked[max(0, math.ceil(pct / 100 * len(ranked)) - 1)]


def load_test(
    url: str, payload: Any, total: int, concurrency: int, timeout: float = 5.0
) -> LoadResult:
    """POST ``payload`` to ``url`` ``total`` times from ``concurrency`` clients (bounded)."""
    result = LoadResult()
    lock = threading.Lock()
    remaining = iter(range(total))
    body = json.dumps(payload)

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                started = time.perf_counter()
                try:
                    answer = session.post(
                        url,
                        data=body,
                        timeout=timeout,
                        headers={"Content-Type": "application/json"},
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        if answer.status_code == 200:
                            result.latencies_ms.append(elapsed)
                        else:
                            result.errors.append(f"HTTP {answer.status_code}")
                except requests.RequestException as exc:
                    with lock:
                        result.errors.append(type(exc).__name__)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


class InFlightRequest:
    """A POST whose body is sent in two halves, so that it is in flight for as long as we like."""

    def __init__(self, port: int, path: str, payload: Any, timeout: float = 15.0) -> None:
        self.body = json.dumps(payload).encode()
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        self.socket.sendall(head + self.body[: len(self.body) // 2])

    def finish(self) -> int | None:
        """Send the rest of the body; return the response's status code, or None if dropped."""
        try:
            self.socket.sendall(self.body[len(self.body) // 2 :])
            response = b""
            while b"\r\n" not in response:
                chunk = self.socket.recv(4096)
                if not chunk:
                    break
                response += chunk
        except OSError:
            return None
        finally:
            self.socket.close()
        status_line = response.split(b"\r\n", 1)[0].split()
        return int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else None
