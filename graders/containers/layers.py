"""Facts about a built image read from the image itself, never from what the learner's files claim.

- Its base is the local image whose layers start its own (``RootFS.Layers``), not what a ``FROM``
  line says: a ``FROM`` hidden in a continued ``RUN`` line names nothing the image is built on.
- What it ships is every path of every layer (``docker save``), a path a later layer deletes
  (a ``.wh.`` whiteout) included: the deleted bytes are still in the image.
- The Python packages installed in it are read from the ``*.dist-info/METADATA`` files of its
  final filesystem (its layers applied as the engine applies them) by the grader's own Python;
  nothing of the image ever runs. One ``docker save`` serves both (``read_image``).
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import HeaderParser
from typing import IO

import docker
import docker.errors
from packaging.utils import canonicalize_name

from graders.containers.inspect import ChunkReader
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


@dataclass
class Layer:
    """What one layer of a ``docker save`` holds: its paths, what it deletes from the layers
    below (whiteouts, and folders made opaque), and the distributions' METADATA it writes."""

    paths: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)
    metadata: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class ImageContents:
    """An image read once: every path any layer ships, and the Python distributions its final
    filesystem holds (canonical name -> the versions found)."""

    shipped: set[str]
    distributions: dict[str, set[str]]


def _is_metadata(path: str) -> bool:
    parts = path.split("/")
    return (
        len(parts) >= 3
        and parts[-1] == "METADATA"
        and parts[-2].endswith(".dist-info")
        and bool({"site-packages", "dist-packages"} & set(parts[:-2]))
    )


def _read_layer(blob: IO[bytes]) -> Layer | None:
    """One layer tar (gzip too), or None for a blob that is not a layer (an OCI index, a
    config)."""
    layer = Layer()
    try:
        with tarfile.open(fileobj=blob, mode="r|*") as files:
            for entry in files:
                path = "/" + entry.name.removeprefix("./").lstrip("/").rstrip("/")
                folder, _, name = path.rpartition("/")
                if name == WHITEOUT + WHITEOUT + ".opq":
                    layer.opaque.add(folder)
                elif name.startswith(WHITEOUT):
                    layer.deleted.add(f"{folder}/{name.removeprefix(WHITEOUT)}")
                else:
                    layer.paths.add(path)
                    if entry.isfile() and _is_metadata(path):
                        content = files.extractfile(entry)
                        text = content.read(METADATA_BYTES) if content is not None else b""
                        headers = HeaderParser().parsestr(text.decode("utf-8", "replace"))
                        name_, version = headers.get("Name"), headers.get("Version")
                        if name_ and version:
                            layer.metadata[path] = (str(name_), str(version).strip())
    except tarfile.ReadError:
        return None
    return layer


def _under(path: str, folders: set[str]) -> bool:
    return any(path == folder or path.startswith(folder + "/") for folder in folders)


@heavy_phase()  # the engine writes out every layer, this process reads them all
def read_image(client: docker.DockerClient, image: str) -> ImageContents:
    """Every path of every layer of ``image`` (``docker save``), deleted later or not, and the
    distributions of its final filesystem: the layers applied bottom first as the engine does
    (a whiteout deletes a path and what is under it, an opaque folder hides the layers below).

    A whiteout (``.wh.NAME``) stands for a deletion, not for bytes: it is no shipped path, and
    what it deletes stays listed from the layer that added it. One read serves both facts.
    """
    chunks = iter(client.images.get(image).save(chunk_size=1 << 20))
    layers: dict[str, Layer] = {}
    aliases: dict[str, str] = {}  # the legacy format links a repeated layer to its first copy
    order: list[str] = []
    reader = io.BufferedReader(ChunkReader(chunks), buffer_size=1 << 20)
    with tarfile.open(fileobj=reader, mode="r|") as saved:
        for member in saved:
            if member.name == "manifest.json":
                content = saved.extractfile(member)
                manifest = json.loads(content.read()) if content is not None else []
                order = [str(name) for name in (manifest[0].get("Layers") or [])]
                continue
            if member.issym():
                aliases[member.name] = posixpath.normpath(
                    posixpath.join(posixpath.dirname(member.name), member.linkname)
                )
            if not member.isfile() or member.name.endswith((".json", "repositories")):
                continue
            blob = saved.extractfile(member)
            layer = _read_layer(blob) if blob is not None else None
            if layer is not None:
                layers[member.name] = layer
    alive: dict[str, tuple[str, str]] = {}
    for name in order or list(layers):
        layer = layers.get(aliases.get(name, name), Layer())
        alive = {
            path: found
            for path, found in alive.items()
            if not _under(path, layer.deleted)
            and not any(path.startswith(folder + "/") for folder in layer.opaque)
        }
        alive.update(layer.metadata)
    distributions: dict[str, set[str]] = {}
    for dist_name, version in alive.values():
        distributions.setdefault(canonicalize_name(dist_name), set()).add(version)
    shipped = set().union(*(layer.paths for layer in layers.values())) if layers else set()
    return ImageContents(shipped, distributions)
