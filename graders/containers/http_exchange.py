"""One HTTP exchange with a learner's service: a deadline for the whole of it, a cap on its size.

``requests``' ``timeout`` bounds each read, not the exchange: a service that answers one byte
every few seconds never trips it, and ``requests`` reads a whole body into memory. Here the
request, the status line, the headers and the body share ONE deadline (a watchdog shuts the socket
down when it passes, so even a header trickled byte by byte ends on time), and the body is read in
chunks that stop at :data:`MAX_ANSWER_BYTES`. A failure is an :class:`ExchangeFailed`, a
``LearnerFailure`` whose message says what happened ("no complete answer within 10 s",
"answered more than 1 MB"): it fails the check that asked, never the grading.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from graders.errors import LearnerFailure

MAX_ANSWER_BYTES = 1_000_000  # plenty for every lab's answers
DEADLINE = 10.0  # seconds for a whole exchange, unless a caller says otherwise
_CHUNK = 64 * 1024


class ExchangeFailed(LearnerFailure):
    """The learner's service gave no complete, bounded answer; ``reason`` is the short why."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    """A complete answer: its status, headers (lower-case names) and body (at most the cap)."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not JSON)."""
        return json.loads(self.content)


def exchange(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    deadline: float = DEADLINE,
    cap: int = MAX_ANSWER_BYTES,
    read_body: bool = True,
    connection: http.client.HTTPConnection | None = None,
) -> Answer:
    """``method`` ``url`` and its complete answer within ``deadline`` seconds, body ≤ ``cap``.

    ``json_body`` is sent as JSON, else ``data`` as is. ``read_body=False`` returns after the
    headers (a readiness probe). ``connection`` (to ``url``'s host) is reused when given, as a
    client in a load test does; it is closed after any failure. Raises :class:`ExchangeFailed`.
    """
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    what = f"{method} {parts.path or '/'}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    started = time.monotonic()
    conn = connection or http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=deadline
    )
    watchdog = _Watchdog(conn, deadline)
    try:
        response = _send(conn, method, path, data, headers or {}, deadline, watchdog.fired)
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            raise _TooBig
        content = bytearray()
        while read_body:
            remaining = deadline - (time.monotonic() - started)
            if remaining <= 0:
                raise TimeoutError
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            content += chunk
            if len(content) > cap:
                raise _TooBig
            if response.length == 0:
                response.read()  # b"": marks the response done, so the connection can be reused
                break
        if watchdog.fired.is_set():
            raise TimeoutError  # the watchdog cut the body short
        if read_body and response.length:
            raise http.client.IncompleteRead(bytes(content), response.length)  # closed early
        answer = Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, bytes(content)
        )
    except _TooBig:
        conn.close()
        raise ExchangeFailed(
            f"{what} answered more than {_size(cap)}: an answer is capped at {_size(cap)}",
            f"answered more than {_size(cap)}",
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        if isinstance(exc, ConnectionRefusedError):
            raise ExchangeFailed(
                f"{what} got no answer: the connection was refused (the service has stopped?)",
                "connection refused",
            ) from None
        timed_out = isinstance(exc, TimeoutError) or watchdog.fired.is_set()
        if timed_out or time.monotonic() - started >= deadline * 0.99:
            raise ExchangeFailed(
                f"{what} got no complete answer within {deadline:g} s: the service hangs, "
                "answers too slowly or has stopped",
                f"no complete answer within {deadline:g} s",
            ) from None
        raise ExchangeFailed(
            f"{what} got no valid HTTP answer ({type(exc).__name__}): the service closed the "
            "connection or has stopped",
            type(exc).__name__,
        ) from None
    finally:
        watchdog.cancel()
    if connection is None or not read_body:
        conn.close()
    return answer


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    data: bytes | None,
    headers: dict[str, str],
    deadline: float,
    cut: threading.Event,
) -> http.client.HTTPResponse:
    """Send the request and read the status line and headers. A kept-alive connection the
    service closed meanwhile (idle) is opened again, once, as any HTTP client does."""
    reused = conn.sock is not None
    if reused:
        conn.sock.settimeout(deadline)  # not what was left of the previous exchange's deadline
    try:
        conn.request(method, path, body=data, headers=headers)
        return conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        if not reused or cut.is_set():
            raise
    conn.close()
    conn.request(method, path, body=data, headers=headers)
    return conn.getresponse()


class _TooBig(Exception):
    """The answer is over the cap."""


class _Watchdog:
    """Shuts ``connection``'s socket down when ``seconds`` pass: a blocked read returns at once."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection = connection
        self.fired = threading.Event()
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        self.fired.set()
        sock = self.connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        """Stop the timer (the exchange ended)."""
        self.timer.cancel()


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 1_000_000 else f"{count} bytes"
