"""Fixtures for the simulator's tests: a started simulator on a loopback port and an httpx
client that keeps one connection alive to it, plus helpers to reach each provider."""

from collections.abc import Iterator

import httpx
import pytest

from opwatch.simulator import Simulator

OAUTH = {"Authorization": "OAuth sim-toloka-token"}
KEY = {"API-Key": "sim-wesog-key"}
LOGIN = {"u": "admin", "p": "sim-password"}


def op_id(ref: str) -> str:
    """The ID part of a REF."""
    return ref.partition(":")[2]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """An empty simulator at speed 20: a 10 s operation ends in half a second."""
    with Simulator(speed=20) as simulator:
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
