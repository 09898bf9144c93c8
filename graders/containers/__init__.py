"""The Docker layer: engine detection, images, containers with limits, the sandbox, cleanup."""
