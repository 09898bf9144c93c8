"""Where a container listens (``graders.containers.listeners``), and a service that settles
listening elsewhere than asked failing at once rather than at its timeout."""

from __future__ import annotations

import time

import docker
import pytest

from graders.containers.images import STAND_IN_BASE
from graders.containers.listeners import Listener, misplaced, parse_listeners
from graders.containers.running import ContainerSpec, run_network
from graders.containers.services import running_service
from graders.errors import LearnerFailure

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 1 1 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 2 1 0
   2: 0100007F:1F40 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000 10001 0 3 1 0
"""
TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 0 0 0 0
   1: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 0 0 0 0
"""


def test_listening_sockets_are_read_with_their_addresses_and_connections_are_not() -> None:
    assert parse_listeners(TCP) == {Listener("127.0.0.1", 8000), Listener("0.0.0.0", 8080)}
    assert parse_listeners(TCP6) == {Listener("::", 8000), Listener("::1", 9000)}


@pytest.mark.parametrize(
    ("found", "port", "expected"),
    [
        ({Listener("0.0.0.0", 8000)}, 8000, ""),
        ({Listener("::", 8000)}, 8000, ""),
        ({Listener("172.18.0.2", 8000)}, 8000, ""),  # the container's own address: reachable
        ({Listener("127.0.0.1", 8000), Listener("0.0.0.0", 8000)}, 8000, ""),
        (set(), 8000, ""),  # listens nowhere yet: nothing to say
        (None, 8000, ""),  # cannot be read here
        (
            {Listener("127.0.0.1", 8000)},
            8000,
            "it listens on 127.0.0.1:8000, not on port 8000 of every interface",
        ),
        (
            {Listener("::1", 8000), Listener("0.0.0.0", 8080)},
            8000,
            "it listens on [::1]:8000, 0.0.0.0:8080, not on port 8000 of every interface",
        ),
    ],
)
def test_a_service_is_misplaced_only_when_no_reachable_socket_has_its_port(
    found: set[Listener] | None, port: int, expected: str
) -> None:
    assert misplaced(found, port) == expected


def listening(run_id: str, address: str, port: int, family: str = "AF_INET") -> ContainerSpec:
    """A service that listens on ``address:port`` and then only waits."""
    code = (
        f"import socket, time; s = socket.socket(socket.{family}); "
        f"s.bind(({address!r}, {port})); s.listen(); time.sleep(120)"
    )
    return ContainerSpec(STAND_IN_BASE, run_id, "listens", command=["python", "-c", code])


@pytest.mark.docker
@pytest.mark.parametrize(
    ("address", "port", "where"),
    [("127.0.0.1", 8000, "127.0.0.1:8000"), ("0.0.0.0", 8080, "0.0.0.0:8080")],
)
def test_a_service_settled_on_another_address_fails_at_once_saying_where_it_listens(
    docker_engine: docker.DockerClient, service_run: str, address: str, port: int, where: str
) -> None:
    # on a user-defined network, where the engine's DNS server listens too: not the service's
    started = time.monotonic()
    with (
        pytest.raises(LearnerFailure) as failed,
        run_network(docker_engine, service_run, "n") as net,
    ):
        spec = listening(service_run, address, port)
        spec.network = net.name
        with running_service(
            docker_engine, spec, ready=lambda _: False, timeout=60, pause=0.1, port=8000,
            blame=LearnerFailure, what="the service", until="answer on port 8000",
        ):  # fmt: skip
            pytest.fail("a service that never answered was yielded")
    assert time.monotonic() - started < 30, "it waited for the timeout"
    assert str(failed.value).startswith(
        f"the service did not answer on port 8000: it listens on {where}, not on port 8000 of "
        "every interface"
    )


@pytest.mark.docker
@pytest.mark.parametrize(("address", "family"), [("0.0.0.0", "AF_INET"), ("::", "AF_INET6")])
def test_a_service_listening_on_its_port_is_awaited_until_its_timeout(
    docker_engine: docker.DockerClient, service_run: str, address: str, family: str
) -> None:
    with pytest.raises(LearnerFailure) as failed:
        with running_service(
            docker_engine, listening(service_run, address, 8000, family), ready=lambda _: False,
            timeout=8, pause=0.1, port=8000, blame=LearnerFailure, what="the service",
            until="answer on port 8000",
        ):  # fmt: skip
            pytest.fail("a service that never answered was yielded")
    assert str(failed.value).startswith("the service did not answer on port 8000 within 8 s")
