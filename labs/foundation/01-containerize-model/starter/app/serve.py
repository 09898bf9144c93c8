"""Entry point: ``python -m app.serve``.

TODO: start uvicorn with the app from app.main, listening on 0.0.0.0 and on the port given by the
PORT environment variable (default 8080). Read PORT here, in Python: an exec-form CMD in the
Dockerfile does not expand environment variables.
"""

from __future__ import annotations


def main() -> None:
    raise NotImplementedError("start uvicorn on 0.0.0.0:$PORT")


if __name__ == "__main__":
    main()
