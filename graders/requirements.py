"""Python requirement files: which lines pin an exact version, by canonical package name."""

from __future__ import annotations

import re

_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)")


def canonical_name(name: str) -> str:
    """The PEP 503 normalized form of a distribution name (``Scikit_Learn`` → ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(text: str) -> tuple[dict[str, str], list[str]]:
    """The ``name==version`` pins of a requirements file, and the requirement lines not pinned.

    Comments, blank lines and option lines (``-r``, ``--index-url``) are neither.
    """
    pins: dict[str, str] = {}
    unpinned: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _PINNED.match(line)
        if match:
            pins[canonical_name(match.group(1))] = match.group(3)
        else:
            unpinned.append(line)
    return pins, unpinned
