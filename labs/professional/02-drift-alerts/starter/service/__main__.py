"""Entry point: ``python -m service`` listens on 0.0.0.0:$PORT (default 8000)."""

from __future__ import annotations

import os

import uvicorn

from service.app import app

if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), access_log=False)
