"""Fixtures for the simulator's tests: a simulator serving on a loopback port on a manual
clock (time passes only when a test calls `clock.advance`), an httpx client that keeps one
connection alive to it, and helpers to reach each provider.

Any test can build its own the same way, sharing one clock with whatever else it drives:

    clock = ManualClock()
    with Simulator(clock=clock) as sim: ...
"""

import socket
from collections.abc import Iterator

import httpx
import pytest

from opwatch.simulator import ManualClock, Simulator

OAUTH = {"Authorization": "OAuth sim-toloka-token"}
KEY = {"API-Key": "sim-wesog-key"}
LOGIN = {"u": "admin", "p": "sim-password"}


def op_id(ref: str) -> str:
    """The ID part of a REF."""
    return ref.partition(":")[2]


def raw_connection(sim: Simulator) -> socket.socket:
    """A bare TCP connection to the simulator, for what an HTTP client would not send."""
    host, port = sim.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def read_reply(connection: socket.socket) -> tuple[bytes, bytes]:
    """One whole reply with a Content-Length from a kept connection: (head, body)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection before a whole head"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.startswith(b"content-length")))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection before a whole body"
        body += chunk
    assert len(body) == length, "more than one reply arrived"
    return head, body


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    """An empty simulator at speed 1 on the manual clock."""
    with Simulator(clock=clock) as simulator:
        yield simulator


@pytest.fixture
def http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        yield client


@pytest.fixture
def to_http(http: httpx.Client) -> httpx.Client:
    """The client, logged in to Traffic Ops (cookies kept)."""
    assert http.post("/api/5.0/user/login", json=LOGIN).status_code == 200
    return http
