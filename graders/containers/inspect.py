"""Look inside a built image without running the learner's code: its files and its user."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator

import docker
import docker.errors

from graders.containers.cleanup import run_labels


class _StreamReader(io.RawIOBase):
    """A file object over the byte chunks of a docker export stream."""

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


def image_paths(client: docker.DockerClient, image: str, run_id: str) -> list[str]:
    """Every path in the image's filesystem, from ``docker export`` of a never-started container."""
    container = client.containers.create(
        image, labels=run_labels(run_id), entrypoint=["/"], network_mode="none"
    )
    try:
        reader = io.BufferedReader(_StreamReader(iter(container.export(chunk_size=1 << 20))))
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            return ["/" + member.name.lstrip("./") for member in archive]
    finally:
        container.remove(force=True)


def configured_user(client: docker.DockerClient, image: str) -> str:
    """The image's configured ``USER`` ('' means root)."""
    return str(client.images.get(image).attrs["Config"].get("User") or "")
