"""Entry point: ``python -m app.serve``.

Listens on 0.0.0.0:$PORT (default 8080). The port is read here, in Python, because an exec-form
``CMD`` in the Dockerfile does not expand environment variables. On SIGTERM uvicorn stops accepting
connections, lets in-flight requests finish (for at most GRACEFUL_SHUTDOWN_SECONDS) and exits.
"""

from __future__ import annotations

import os

import uvicorn

from app.main import app

GRACEFUL_SHUTDOWN_SECONDS = 8  # below Docker's default 10 s stop timeout, after which it SIGKILLs


def main() -> None:
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
