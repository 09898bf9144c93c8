"""The exchange with a learner's service: a deadline for the whole of it and a size cap, against
a local ``http.server`` on 127.0.0.1 (a slow trickle, a huge body, a normal answer, a refusal)."""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from graders.containers import probe_cli
from graders.containers.http_exchange import MAX_ANSWER_BYTES, ExchangeFailed, exchange
from graders.containers.http_load import InFlightRequest, load_test
from graders.labs.ha_inference_on_kind import probe as traffic


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/trickle":  # headers at once, then a byte every 0.3 s
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.3)
        elif self.path == "/trickled-headers":  # the status line itself, a byte at a time
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/huge":  # 50 MB without a Content-Length (read to the close)
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b" " * 1_000_000)
        elif self.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * MAX_ANSWER_BYTES))
            self.end_headers()
        else:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, *args: object) -> None:  # a client that stopped reading: expected
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_normal_answer_is_returned_whole(server: str) -> None:
    answer = exchange("POST", server + "/predict", json_body={"instances": [[1.0]]})
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert answer.headers["content-length"] == "12"


@pytest.mark.parametrize("path", ["/trickle", "/trickled-headers"])
def test_a_trickle_ends_at_the_deadline_of_the_whole_exchange(server: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExchangeFailed, match=r"no complete answer within 1\.5 s") as failed:
        exchange("GET", server + path, deadline=1.5)
    assert 1.4 < time.monotonic() - started < 2.5  # not 30 s: each byte came well within 1.5 s
    assert failed.value.reason == "no complete answer within 1.5 s"


@pytest.mark.parametrize("path", ["/huge", "/declared-huge"])
def test_a_huge_answer_stops_at_the_cap(server: str, path: str) -> None:
    with pytest.raises(ExchangeFailed, match="answered more than 1 MB"):
        exchange("GET", server + path, deadline=10)


def test_a_refused_connection_is_the_learners_failure(server: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ExchangeFailed, match="connection was refused"):
        exchange("GET", f"http://127.0.0.1:{port}/health", deadline=2)


def test_a_reused_connection_serves_many_exchanges(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    for _ in range(3):
        assert exchange("GET", server + "/", connection=connection).status_code == 200
    connection.close()


def test_a_load_test_against_a_trickle_ends_on_its_own_deadline(server: str) -> None:
    started = time.monotonic()
    result = load_test(server + "/trickle", {}, total=50, concurrency=2, timeout=1, deadline=2.5)
    assert time.monotonic() - started < 4.5
    assert not result.latencies_ms and len(result.errors) == 50
    assert "no complete answer within 1 s" in result.errors


# --- the same rule in the probes' standard-library helper (probe_cli.exchange) --------------------


def test_the_probes_helper_returns_a_normal_answer(server: str) -> None:
    status, body = probe_cli.exchange("POST", server + "/predict", b"{}", deadline=5)
    assert (status, body) == (200, b'{"ok": true}')


@pytest.mark.parametrize("path", ["/trickle", "/trickled-headers"])
def test_the_probes_helper_ends_a_trickle_at_its_deadline(server: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no complete answer within 1\.5 s"):
        probe_cli.exchange("GET", server + path, deadline=1.5)
    assert time.monotonic() - started < 2.5


def test_the_probes_helper_stops_at_the_cap(server: str) -> None:
    with pytest.raises(probe_cli.AnswerTooLarge, match="answered more than 1 MB"):
        probe_cli.exchange("GET", server + "/huge", deadline=10)


def test_the_probes_helper_reports_a_refusal_as_an_os_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        probe_cli.exchange("GET", f"http://127.0.0.1:{port}/", deadline=2)


def test_the_kind_traffic_probe_bounds_each_request(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traffic, "TIMEOUT", 1.0)
    assert traffic.post(server + "/predict", b"{}") == ""
    started = time.monotonic()
    assert traffic.post(server + "/trickled-headers", b"{}") == "no complete answer within 1 s"
    assert time.monotonic() - started < 2
    assert traffic.post(server + "/huge", b"{}") == "answered more than 1000000 bytes"


def test_a_request_in_flight_needs_its_whole_answer_within_the_deadline(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    assert InFlightRequest(port, "/predict", {"instances": []}).finish(deadline=5) == 200
    started = time.monotonic()
    assert InFlightRequest(port, "/trickle", {}).finish(deadline=1.5) is None  # status line only
    assert time.monotonic() - started < 2.5
