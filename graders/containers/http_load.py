"""HTTP probes: a bounded load test with latency percentiles, and a request held in flight.

All traffic goes to loopback ports published by containers this run started; every request has a
deadline for the whole exchange and a cap on its answer (``http_exchange``).
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from graders.containers.http_exchange import MAX_ANSWER_BYTES, ExchangeFailed, exchange


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
    url: str,
    payload: Any,
    total: int,
    concurrency: int,
    timeout: float = 5.0,
    deadline: float = 120.0,
) -> LoadResult:
    """POST ``payload`` to ``url`` ``total`` times from ``concurrency`` clients (bounded).

    Each request is one :func:`exchange` (``timeout`` seconds for the whole of it, its answer
    capped); each client keeps its connection alive. The load test as a whole ends within about
    ``deadline`` + ``timeout`` seconds: requests not sent by ``deadline`` count as errors.
    """
    result = LoadResult()
    lock = threading.Lock()
    remaining = iter(range(total))
    body = json.dumps(payload).encode()
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json"}
    ends = time.monotonic() + deadline

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                    if time.monotonic() > ends:
                        result.errors.append(f"not sent: the load test's {deadline:g} s were up")
                        continue
                started = time.perf_counter()
                try:
                    answer = exchange(
                        "POST",
                        url,
                        data=body,
                        headers=headers,
                        deadline=timeout,
                        connection=connection,
                    )
                except ExchangeFailed as failed:
                    with lock:
                        result.errors.append(failed.reason)
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if answer.status_code == 200:
                        result.latencies_ms.append(elapsed)
                    else:
                        result.errors.append(f"HTTP {answer.status_code}")
        finally:
            connection.close()

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

    def finish(self, deadline: float = 15.0) -> int | None:
        """Send the rest of the body; return the status of the COMPLETE response (its body whole,
        as ``Content-Length`` or the chunked ending says), or None if it was dropped, cut short,
        or not complete within ``deadline`` seconds in all (however slowly it trickles)."""
        ends = time.monotonic() + deadline
        response = b""
        try:
            self.socket.sendall(self.body[len(self.body) // 2 :])
            while len(response) <= MAX_ANSWER_BYTES:  # asked with Connection: close: read to EOF
                remaining = ends - time.monotonic()
                if remaining <= 0:
                    return None
                self.socket.settimeout(remaining)
                chunk = self.socket.recv(65536)
                if not chunk:
                    break
                response += chunk
        except OSError:
            return None
        finally:
            self.socket.close()
        return _complete_status(response)


def _complete_status(response: bytes) -> int | None:
    """The status of a whole HTTP/1.1 response read to its end (None: malformed or cut short)."""
    head, separator, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not separator or len(status_line) < 2 or not status_line[1].isdigit():
        return None
    fields = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    }
    if fields.get(b"content-length", b"").isdigit():
        if len(body) < int(fields[b"content-length"]):
            return None
    elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        if not body.endswith(b"0\r\n\r\n"):
            return None
    return int(status_line[1])
