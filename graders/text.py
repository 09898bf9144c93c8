"""Learner text is data: every string that comes from a submission is cleaned once, where a
check's result (or a run's note or error) is recorded, before any report or terminal sees it.

Cleaning removes terminal escape sequences (CSI, OSC, and the other ``ESC`` forms) and control
characters except newline and tab, replaces invalid Unicode (lone surrogates, as undecodable bytes
become with ``surrogateescape``) with U+FFFD, and bounds the length, keeping the head and the tail
(the end of a log is where the error usually is). A file name is cleaned the same way and shows
its newlines and tabs escaped, so that one name is always one line.
"""

from __future__ import annotations

import re
from typing import Any

#: The longest message a check keeps (a log tail quoted in a message fits with room to spare).
MESSAGE_LIMIT = 8_000
#: The longest log a check keeps.
LOG_LIMIT = 64_000
#: The longest value a check's recorded data keeps per string.
VALUE_LIMIT = 2_000

_ESCAPE_SEQUENCE = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?     # OSC ... BEL or ST (window titles, hyperlinks)
    | \x1b[P^_X][^\x1b]*(?:\x1b\\)?        # DCS, PM, APC, SOS ... ST
    | \x1b\[[0-?]*[ -/]*[@-~]?             # CSI: colours, cursor moves, screen clears
    | \x1b[ -/]*[0-~]?                     # any other ESC sequence (or a lone ESC)
    | \x9b[0-?]*[ -/]*[@-~]?               # the 8-bit CSI
    """,
    re.VERBOSE,
)
# C0 controls but tab and newline, DEL, and the C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` made safe to show anywhere: no escape sequences, no control characters but
    newline and tab (a carriage return becomes a newline), valid Unicode, at most ``limit``
    characters (head and tail kept, with a marker saying how much was cut)."""
    value = text if isinstance(text, str) else str(text)
    value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", value))
    if len(value) <= limit:
        return value
    marker = f"\n… ({len(value) - limit} characters cut) …\n"
    keep = max(limit - len(marker), 0)
    head = keep // 3
    return value[:head] + marker + value[len(value) - (keep - head) :]


def clean_name(name: object, limit: int = 300) -> str:
    """A file name from a submission, cleaned, on one line: newline and tab shown as ``\\n`` and
    ``\\t``."""
    return clean(name, limit).replace("\n", "\\n").replace("\t", "\\t")


def clean_data(value: Any, limit: int = VALUE_LIMIT) -> Any:
    """Every string inside ``value`` (a check's recorded data: dicts, lists, numbers) cleaned;
    dict keys too. Other values are kept as they are."""
    if isinstance(value, str):
        return clean(value, limit)
    if isinstance(value, dict):
        return {clean(k, 200): clean_data(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v, limit) for v in value]
    return value
