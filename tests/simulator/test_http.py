"""The simulator's HTTP on bare sockets: what RFC 9112 lets a client send is understood, what
is malformed gets a 400 (or 431) and a close instead of a hang, and connections are kept alive
as HTTP/1.1 says."""

import subprocess
import sys

import httpx
import pytest

from opwatch.simulator import Simulator
from tests.simulator.conftest import (
    OAUTH,
    op_id,
    raw_connection,
    read_reply,
    read_until_closed,
)


def exchange(sim: Simulator, request: bytes) -> bytes:
    """Send `request` on a fresh connection and return all the server sends until it closes
    (every request here asks to close, or is refused)."""
    with raw_connection(sim) as raw:
        raw.sendall(request)
        return read_until_closed(raw)


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


@pytest.fixture
def toloka_ref(sim: Simulator) -> str:
    return sim.add_operation({"provider": "toloka", "age_s": 100})


def test_bare_lf_line_endings_are_understood(sim: Simulator, toloka_ref: str) -> None:
    request = (f"GET /api/v1/operations/{op_id(toloka_ref)} HTTP/1.1\nHost: x\n"
               "Authorization: OAuth sim-toloka-token\nConnection: close\n\n")  # fmt: skip
    reply = exchange(sim, request.encode())
    assert status_of(reply) == 200
    assert b'"status":"SUCCESS"' in reply


def test_an_obs_folded_header_is_unfolded(sim: Simulator, toloka_ref: str) -> None:
    # RFC 9112 5.2: a line starting with whitespace continues the header above it.
    reply = exchange(sim, f"GET /api/v1/operations/{op_id(toloka_ref)} HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: OAuth\r\n sim-toloka-token\r\nConnection: close\r\n\r\n"
                          .encode())  # fmt: skip
    assert status_of(reply) == 200


def test_an_oversized_head_gets_431_and_a_close(sim: Simulator) -> None:
    huge = "x" * 200_000
    reply = exchange(sim, f"GET /ops/1 HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in reply.lower()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /ops/1 HTTP/1.1\r\n\r\n",  # no Host
        b"GET /ops/1 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"POST /_sim/operations HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        b"POST /_sim/operations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /ops/1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    ],
    ids=["request line", "no host", "header line", "content-length", "chunk size", "two hosts"],
)
def test_malformed_requests_get_400_and_a_close(sim: Simulator, request_bytes: bytes) -> None:
    reply = exchange(sim, request_bytes)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close" in reply.lower()
    assert sim.stats()["requests"] == 0  # never reached a route


def test_the_server_goes_on_after_a_client_hangs_up_mid_request(
    sim: Simulator, http: httpx.Client
) -> None:
    with raw_connection(sim) as raw:
        raw.sendall(b"GET /ops/1 HTTP/1.1\r\nHost: x\r\nAPI-")
    assert http.get("/_sim/stats").status_code == 200


def test_keep_alive_and_pipelining(sim: Simulator, toloka_ref: str) -> None:
    one = (f"GET /api/v1/operations/{op_id(toloka_ref)} HTTP/1.1\r\nHost: x\r\n"
           "Authorization: OAuth sim-toloka-token\r\n\r\n").encode()  # fmt: skip
    with raw_connection(sim) as raw:
        raw.sendall(one)
        first, _ = read_reply(raw)
        assert status_of(first) == 200
        raw.sendall(one + one.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        rest = read_until_closed(raw)
    assert rest.count(b"HTTP/1.1 200 OK\r\n") == 2  # both pipelined requests, in order
    assert sim.stats()["by_ref"] == {toloka_ref: 3}


def test_http_1_0_closes_after_the_reply(sim: Simulator) -> None:
    reply = exchange(sim, b"GET /_sim/stats HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"}")


def test_expect_100_continue(sim: Simulator) -> None:
    body = b'{"provider": "wesog"}'
    with raw_connection(sim) as raw:
        raw.sendall(b"POST /_sim/operations HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))  # fmt: skip
        assert raw.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n")
        raw.sendall(body)
        reply = read_until_closed(raw)
    assert reply.startswith(b"HTTP/1.1 201 Created\r\n")
    assert len(sim.refs()) == 1


def test_a_chunked_request_body(sim: Simulator) -> None:
    reply = exchange(sim, b"POST /_sim/operations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n"
                          b"b\r\n{\"provider\"\r\na\r\n: \"wesog\"}\r\n0\r\n\r\n")  # fmt: skip
    assert status_of(reply) == 201
    assert sim.refs() == ["media:1001"]


def test_methods_the_apis_do_not_use(sim: Simulator) -> None:
    reply = exchange(sim, b"HEAD /ops/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 501 Not Implemented\r\n")
    assert reply.endswith(b"\r\n\r\n")  # a head, no body


def test_a_reply_is_one_write(sim: Simulator, toloka_ref: str) -> None:
    # Replies in two writes waited 40 ms for the client's delayed ACK; one write each, and
    # TCP_NODELAY, keep a reply in one segment on loopback.
    with raw_connection(sim) as raw:
        raw.sendall(f"GET /api/v1/operations/{op_id(toloka_ref)} HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: OAuth sim-toloka-token\r\n\r\n".encode())  # fmt: skip
        head, _, body = raw.recv(65536).partition(b"\r\n\r\n")
        assert b"content-length: %d" % len(body) in head.lower()  # all of it in the first read


def test_a_streamed_log_with_httpx(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 5000, "age_s": 100})
    reply = http.get(f"/api/v1/operations/{op_id(ref)}/log", headers=OAUTH)
    assert reply.headers["Transfer-Encoding"] == "chunked"
    assert len(reply.json()) == 5000
    assert http.get("/_sim/stats").status_code == 200  # the connection is still good


def test_the_simulator_imports_nothing_else_of_opwatch() -> None:
    code = (
        "import sys, opwatch.simulator; "
        "print(sorted(m for m in sys.modules if m.startswith('opwatch') "
        "and not m.startswith('opwatch.simulator') and m != 'opwatch'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_body_over_a_mebibyte_gets_413_and_a_close(sim: Simulator) -> None:
    with raw_connection(sim) as raw:
        raw.sendall(b"POST /_sim/operations HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        # One byte over: the server answers before the rest, having read all that was sent
        # (unread bytes at its close would reset the connection and lose the reply).
        raw.sendall(b"x" * (1024 * 1024 + 1))
        reply = read_until_closed(raw)
    assert status_of(reply) == 413
    assert b"connection: close" in reply.lower()
    assert sim.refs() == []
