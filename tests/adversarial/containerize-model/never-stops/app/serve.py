"""Entry point: ``python -m app.serve``.

ATTACK (a container that never stops): SIGTERM and SIGINT are ignored, by the server and by a
detached child that sleeps forever, so `docker stop` can only kill it after its timeout, and the
grader must remove the container itself.

Listens on 0.0.0.0:$PORT (default 8080). The port is read here, in Python, because an exec-form
``CMD`` in the Dockerfile does not expand environment variables. On SIGTERM uvicorn stops accepting
connections, lets in-flight requests finish (for at most GRACEFUL_SHUTDOWN_SECONDS) and exits.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import uvicorn

from app.main import app

GRACEFUL_SHUTDOWN_SECONDS = 8  # below Docker's default 10 s stop timeout, after which it SIGKILLs


def never_stop() -> None:
    """Ignore the signals that ask a process to stop, here and in a detached grandchild."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(3600)
        os._exit(0)
    os.wait()


def main() -> None:
    never_stop()
    port = int(os.environ.get("PORT", "8080"))
    # served from another thread: uvicorn installs its SIGTERM handler only in the main thread
    server = threading.Thread(
        target=uvicorn.run,
        args=(app,),
        kwargs={
            "host": "0.0.0.0",
            "port": port,
            "access_log": False,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        },
    )
    server.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
