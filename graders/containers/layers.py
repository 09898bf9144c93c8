"""Facts about a built image read from the image itself, never from what the learner's files claim.

- Its base is the local image whose layers start its own (``RootFS.Layers``), not what a ``FROM``
  line says: a ``FROM`` hidden in a continued ``RUN`` line names nothing the image is built on.
- What it ships is every path of every layer (``docker save``), a path a later layer deletes
  (a ``.wh.`` whiteout) included: the deleted bytes are still in the image.
- The Python packages installed in it are read from the ``*.dist-info/METADATA`` files of its
  exported filesystem by the grader's own Python; nothing of the image ever runs.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import HeaderParser

import docker
import docker.errors
from packaging.utils import canonicalize_name

from graders.containers.inspect import ChunkReader, exported_members
from graders.timing import heavy_phase

METADATA_BYTES = 64 * 1024  # the headers of a METADATA file; its long description is not needed
WHITEOUT = ".wh."


@dataclass(frozen=True)
class Base:
    """The image a built image is built on: its name ('' for none) and its size in bytes."""

    name: str
    size: int


def layer_ids(client: docker.DockerClient, image: str) -> list[str]:
    """The digests of ``image``'s layers, bottom first (``RootFS.Layers``)."""
    return list(client.images.get(image).attrs.get("RootFS", {}).get("Layers") or [])


def base_of(client: docker.DockerClient, image: str, candidates: Iterable[str]) -> Base:
    """Of the local ``candidates``, the one whose layers are the longest prefix of ``image``'s.

    Candidates that are not local, or whose layers are not a prefix, are ignored; none at all
    means the image is built on nothing the grader knows (``Base("", 0)``: every byte counts).
    """
    layers = layer_ids(client, image)
    best, best_length = Base("", 0), 0
    for name in dict.fromkeys(candidates):
        try:
            found = client.images.get(name)
        except (docker.errors.ImageNotFound, docker.errors.InvalidArgument, docker.errors.APIError):
            continue
        theirs = list(found.attrs.get("RootFS", {}).get("Layers") or [])
        if theirs and layers[: len(theirs)] == theirs and len(theirs) > best_length:
            best, best_length = Base(name, int(found.attrs["Size"])), len(theirs)
    return best


def added_bytes(client: docker.DockerClient, image: str, base: Base) -> int:
    """How many bytes ``image`` adds on top of ``base`` (never negative: ``base`` is its prefix)."""
    return int(client.images.get(image).attrs["Size"]) - base.size


@heavy_phase()  # the engine writes out every layer, this process reads them all
def shipped_paths(client: docker.DockerClient, image: str) -> set[str]:
    """Every path that any layer of ``image`` holds (``docker save``), deleted later or not.

    A whiteout (``.wh.NAME``) stands for a deletion, not for bytes: it is left out, and what it
    deletes stays listed from the layer that added it.
    """
    chunks = iter(client.images.get(image).save(chunk_size=1 << 20))
    paths: set[str] = set()
    reader = io.BufferedReader(ChunkReader(chunks), buffer_size=1 << 20)
    with tarfile.open(fileobj=reader, mode="r|") as saved:
        for member in saved:
            if not member.isfile() or member.name.endswith((".json", "repositories")):
                continue
            layer = saved.extractfile(member)
            if layer is None:
                continue
            try:
                with tarfile.open(fileobj=layer, mode="r|*") as files:  # gzip too
                    for entry in files:
                        name = entry.name.removeprefix("./").lstrip("/")
                        if not name.rsplit("/", 1)[-1].startswith(WHITEOUT):
                            paths.add("/" + name)
            except tarfile.ReadError:  # a blob that is not a layer (an OCI index or config)
                continue
    return paths


@heavy_phase()  # the engine exports the whole filesystem, this process reads it
def installed_distributions(
    client: docker.DockerClient, image: str, run_id: str
) -> dict[str, set[str]]:
    """The Python distributions installed in ``image``: canonical name -> the versions found.

    Read from the ``*.dist-info/METADATA`` files under any ``site-packages`` or ``dist-packages``
    of the image's exported filesystem (a never-started container), by this process.
    """
    found: dict[str, set[str]] = {}
    for path, read in exported_members(client, image, run_id):
        parts = path.split("/")
        if (
            len(parts) < 3
            or parts[-1] != "METADATA"
            or not parts[-2].endswith(".dist-info")
            or not ({"site-packages", "dist-packages"} & set(parts[:-2]))
        ):
            continue
        headers = HeaderParser().parsestr(read(METADATA_BYTES).decode("utf-8", "replace"))
        name, version = headers.get("Name"), headers.get("Version")
        if name and version:
            found.setdefault(canonicalize_name(str(name)), set()).add(str(version).strip())
    return found
