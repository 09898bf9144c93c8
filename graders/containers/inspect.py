"""Look inside a built image without running the learner's code: its files and its user."""

from __future__ import annotations

import io
from collections.abc import Iterator

import docker
import docker.errors


class ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks (a ``docker export`` or ``save`` stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def configured_user(client: docker.DockerClient, image: str) -> str:
    """The image's configured ``USER`` ('' means root)."""
    return str(client.images.get(image).attrs["Config"].get("User") or "")
