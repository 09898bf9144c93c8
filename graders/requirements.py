"""Python requirement files: which lines pin an exact version, read as pip reads them.

Each requirement is parsed by ``packaging`` (PEP 508), so ``pandas == 3.1.1`` is pinned like
``pandas==3.1.1``, ``===1.0`` is arbitrary equality to the text ``1.0``, extras and environment
markers are understood, and an installed version is compared as a PEP 440 version, not a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# pip's rule: `#` starts a comment at the start of a line or after whitespace (not inside a URL)
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class Pin:
    """One requirement pinned to an exact version, e.g. ``pandas == 3.1.1`` or ``numpy===2.4.6``."""

    name: str  # canonical (PEP 503) name
    version: str  # the pinned version as written
    specifier: SpecifierSet  # every specifier of the line (a pin may add others, e.g. ``<4``)

    def __str__(self) -> str:
        return f"{self.name}{self.specifier}"

    def matches(self, installed: str | None) -> bool:
        """Whether ``installed`` (a distribution's version, or None when absent) is the pinned
        version: PEP 440 equality for ``==`` (``1.9`` is ``1.9.0``), the same text for ``===``."""
        if installed is None:
            return False
        try:
            return self.specifier.contains(installed, prereleases=True)
        except InvalidVersion:  # a legacy version string: only the same text can match it
            return installed.strip().lower() == self.version.lower()


def read_pins(text: str) -> tuple[dict[str, Pin], list[str]]:
    """The pinned requirements of a requirements file by canonical name, and the requirement
    lines not pinned (open ranges, bare names, URLs, wildcards such as ``==1.*``, and lines that
    are not requirements at all).

    Comments, blank lines and option lines (``-r``, ``--index-url``, ``-e``) are neither; a
    requirement's own options (``--hash=...``, also on continuation lines) are left out.
    """
    pins: dict[str, Pin] = {}
    unpinned: list[str] = []
    for line in _logical_lines(text):
        requirement_text = _requirement_part(line)
        if not requirement_text:
            continue
        pin = _pin_of(requirement_text)
        if pin is None:
            unpinned.append(requirement_text)
        else:
            pins[pin.name] = pin
    return pins, unpinned


def _logical_lines(text: str) -> list[str]:
    """The lines of a requirements file without comments, continuation lines (``\\``) joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append((pending + line).strip())
        pending = ""
    if pending.strip():
        lines.append(pending.strip())
    return lines


def _requirement_part(line: str) -> str:
    """A line's requirement without its per-requirement options (``--hash=...``), as pip splits
    them; empty for an option line such as ``-r other.txt``."""
    words = []
    for word in line.split():
        if word.startswith("-"):
            break
        words.append(word)
    return " ".join(words)


def _pin_of(text: str) -> Pin | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    if requirement.url:
        return None
    exact = [spec for spec in requirement.specifier if _is_exact(spec)]
    if not exact:
        return None
    return Pin(canonicalize_name(requirement.name), exact[0].version, requirement.specifier)


def _is_exact(spec: Specifier) -> bool:
    if spec.operator == "===":
        return True
    if spec.operator != "==" or spec.version.endswith(".*"):
        return False
    try:
        Version(spec.version)
    except InvalidVersion:
        return False
    return True
