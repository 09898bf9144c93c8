"""Probes that exercise a running service from the outside: HTTP load and in-flight requests."""
