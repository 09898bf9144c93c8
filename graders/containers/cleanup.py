"""Labels on everything a run creates, and their removal — also after Ctrl-C or a timeout."""

from __future__ import annotations

import docker
import docker.errors

LABEL = "org.mlops-labs"
RUN_LABEL = "org.mlops-labs.run"


def run_labels(run_id: str) -> dict[str, str]:
    """The labels every container, image, network and volume of run ``run_id`` carries."""
    return {LABEL: "1", RUN_LABEL: run_id}


def labelled(client: docker.DockerClient, run_id: str | None = None) -> list[str]:
    """Descriptions of the labelled containers, images, networks and volumes left (of one run, or
    all)."""
    selector = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    filters = {"label": selector}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=filters)]
    found += [f"image {i.short_id}" for i in client.images.list(filters=filters)]
    found += [f"network {n.name}" for n in client.networks.list(filters=filters)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=filters)]
    return found


def remove_run_resources(client: docker.DockerClient, run_id: str) -> int:
    """Remove every container, network, image and volume of ``run_id``; return how many were
    removed.

    Images are removed without pruning their untagged parents, so the build cache survives and a
    second grading of the same submission is warm.
    """
    filters = {"label": f"{RUN_LABEL}={run_id}"}
    removed = 0
    for container in client.containers.list(all=True, filters=filters):
        removed += _quietly(lambda c=container: c.remove(force=True, v=True))
    for network in client.networks.list(filters=filters):
        removed += _quietly(network.remove)
    for image in client.images.list(filters=filters):
        removed += _quietly(lambda i=image: client.images.remove(i.id, force=True, noprune=True))
    for volume in client.volumes.list(filters=filters):
        removed += _quietly(lambda v=volume: v.remove(force=True))
    return removed


def _quietly(action: object) -> int:
    try:
        action()  # type: ignore[operator]
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError:
        return 0
    return 1
