"""Traffic probe of lab professional/03-ha-inference-on-kind, run in a pod of the grader's runner
image on the kind cluster (standard library only; the grader mounts it from a ConfigMap).

    TARGET=http://SERVICE.NAMESPACE.svc:PORT/predict DURATION=40 RATE=20 STOP_FILE=/tmp/stop \\
        python traffic.py

POSTs one valid instance to ``TARGET`` about ``RATE`` times a second, each on a new connection (so
kube-proxy spreads them over the pods), until ``DURATION`` seconds pass or ``STOP_FILE`` appears.
A failure is any answer other than 200, a connection error or a time-out. Prints one JSON line:
``{"requests": N, "failures": N, "examples": ["12.3 s: HTTP 503", ...]}``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
import urllib.parse

# the first row of scikit-learn's load_breast_cancer(): a valid /predict instance
INSTANCE = [17.99, 10.38, 122.8, 1001.0, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871,
            1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003,
            0.006193, 25.38, 17.33, 184.6, 2019.0, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601,
            0.1189]  # fmt: skip
TIMEOUT = 5.0  # seconds for one request, all of it
MAX_ANSWER_BYTES = 1_000_000
EXAMPLES = 5


def post(url: str, body: bytes) -> str:
    """One POST; "" when it answered 200, otherwise what went wrong. The whole exchange has
    TIMEOUT seconds (a watchdog cuts a trickled answer short) and at most MAX_ANSWER_BYTES."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT)
    watchdog = threading.Timer(TIMEOUT, _cut, [connection])
    watchdog.start()
    ends = time.monotonic() + TIMEOUT
    try:
        connection.request("POST", parts.path or "/", body, {"Content-Type": "application/json"})
        answer, read = connection.getresponse(), 0
        while chunk := answer.read1(65536):
            read += len(chunk)
            if read > MAX_ANSWER_BYTES:
                return f"answered more than {MAX_ANSWER_BYTES} bytes"
        if answer.length or time.monotonic() >= ends:
            return f"no complete answer within {TIMEOUT:g} s"
        return "" if answer.status == 200 else f"HTTP {answer.status}"
    except Exception as error:  # refused, reset, DNS, time-out: all are failed requests
        if time.monotonic() >= ends:
            return f"no complete answer within {TIMEOUT:g} s"
        return f"{type(error).__name__}: {error}"
    finally:
        watchdog.cancel()
        connection.close()


def _cut(connection: http.client.HTTPConnection) -> None:
    """Shut the connection's socket down: a blocked read returns at once."""
    try:
        if connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def main() -> None:
    """Send the traffic and print the counts."""
    url, rate, stop = os.environ["TARGET"], float(os.environ["RATE"]), os.environ["STOP_FILE"]
    body = json.dumps({"instances": [INSTANCE]}).encode()
    requests, failures, examples = 0, 0, list[str]()
    start = time.monotonic()
    end = start + float(os.environ["DURATION"])
    while time.monotonic() < end and not os.path.exists(stop):
        sent = time.monotonic()
        requests += 1
        problem = post(url, body)
        if problem:
            failures += 1
            if len(examples) < EXAMPLES:
                examples.append(f"{sent - start:.1f} s: {problem}")
        time.sleep(max(0.0, sent + 1 / rate - time.monotonic()))
    print(json.dumps({"requests": requests, "failures": failures, "examples": examples}))


if __name__ == "__main__":
    main()
