"""Look inside a built image without running the learner's code: its files and its user."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from typing import IO

import docker
import docker.errors

from graders.containers.cleanup import run_labels


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


def exported_members(
    client: docker.DockerClient, image: str, run_id: str
) -> Iterator[tuple[str, Callable[[int], bytes]]]:
    """Every regular file of the image's final filesystem, from ``docker export`` of a
    never-started container, as ``(path, read)``: ``read(n)`` gives up to ``n`` of its first
    bytes, while the stream is at that file (nothing of the image runs)."""
    container = client.containers.create(
        image, labels=run_labels(run_id), entrypoint=["/"], network_mode="none"
    )
    try:
        reader = io.BufferedReader(ChunkReader(iter(container.export(chunk_size=1 << 20))))
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                content = archive.extractfile(member)

                def read(limit: int, content: IO[bytes] | None = content) -> bytes:
                    return content.read(limit) if content is not None else b""

                yield "/" + member.name.removeprefix("./").lstrip("/"), read
    finally:
        container.remove(force=True)


def configured_user(client: docker.DockerClient, image: str) -> str:
    """The image's configured ``USER`` ('' means root)."""
    return str(client.images.get(image).attrs["Config"].get("User") or "")
