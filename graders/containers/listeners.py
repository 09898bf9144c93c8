"""Which TCP ports a running container listens on, and on which addresses, read from its
network namespace's ``/proc/<pid>/net/tcp`` and ``tcp6`` on this machine.

A service that has settled (gone idle) while listening somewhere other than where it is asked
will not answer there however long the grader waits: :func:`misplaced` says so at once, with
where it does listen ("it listens on 127.0.0.1:8000, not on port 8000 of every interface").
Nothing is known where the engine's processes cannot be read here (a remote engine, Docker
Desktop's virtual machine, a grader in another PID namespace): then the wait goes on as before.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import requests.exceptions
from docker.models.containers import Container

_LISTEN = "0A"  # the state column of a listening socket in /proc/net/tcp
# Docker's embedded DNS server listens inside every container on a user-defined network.
_ENGINE_DNS = "127.0.0.11"


@dataclass(frozen=True)
class Listener:
    """One listening socket: its address (as text) and port."""

    address: str
    port: int

    @property
    def loopback_only(self) -> bool:
        """True when only the container itself can reach it (127.0.0.0/8, ::1)."""
        return ipaddress.ip_address(self.address).is_loopback

    def __str__(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{address}:{self.port}"


def _address(hexadecimal: str) -> str:
    """The address of a /proc/net/tcp{,6} column: 32-bit words in the kernel's (little-endian)
    byte order."""
    raw = bytes.fromhex(hexadecimal)
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(ordered))


def parse_listeners(table: str) -> set[Listener]:
    """The listening sockets of one /proc/net/tcp or tcp6 table."""
    found = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != _LISTEN or ":" not in fields[1]:
            continue
        address, port = fields[1].rsplit(":", 1)
        try:
            found.add(Listener(_address(address), int(port, 16)))
        except ValueError:
            continue
    return found


def listeners(container: Container) -> set[Listener] | None:
    """The TCP sockets ``container`` listens on (None where they cannot be read here, or the
    process found is not the container's)."""
    try:
        container.reload()
        pid = int(container.attrs["State"]["Pid"])
    except (docker.errors.APIError, requests.exceptions.RequestException, KeyError, TypeError):
        return None  # gone, or no PID in the engine's answer
    if pid <= 0:
        return None
    proc = Path(f"/proc/{pid}")
    try:  # the PID must be the container's own in this machine's PID namespace
        if container.id not in (proc / "cgroup").read_text():
            return None
        tables = [(proc / "net" / name).read_text() for name in ("tcp", "tcp6")]
    except OSError:
        return None
    found = parse_listeners(tables[0]) | parse_listeners(tables[1])
    return {one for one in found if one.address != _ENGINE_DNS}


def misplaced(found: set[Listener] | None, port: int) -> str:
    """Where a settled service listens, when that is not ``port`` on an address a published
    port reaches ("" when it is, when it listens nowhere yet, or when nothing is known)."""
    if not found:
        return ""
    if any(one.port == port and not one.loopback_only for one in found):
        return ""
    where = ", ".join(str(one) for one in sorted(found, key=lambda one: (one.port, one.address)))
    return f"it listens on {where}, not on port {port} of every interface"
