"""Servers that send exact bytes, for what no well-behaved server sends: encodings, 1xx,
framing broken in each known way, resets and closes mid-body, trickling and stalled bodies, a
body longer than its Content-Length. Each case says whether opwatch does what stock httpx
does ("same") or refuses what httpx accepts ("stricter", and why that is safer)."""

import asyncio
import contextlib
import gzip
import socket
import struct
import zlib

import pytest

from tests.conformance.harness import (
    Outcome,
    Scripted,
    answering,
    both,
    error,
    free_port,
    ours,
    read_request,
    reply,
    stock,
)

OK_BODY = b'{"ok": 1}'
OK = reply(200, OK_BODY)


def head(*lines: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def sized(body: bytes, *lines: bytes) -> bytes:
    return head(*lines, b"Content-Length: %d" % len(body)) + body


def run_both(*replies: bytes, close: bool = True, **options: object) -> tuple[Outcome, Outcome]:
    with Scripted(answering(*replies, close=close)) as server:
        return both(server.url(), **options)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (sized(gzip.compress(OK_BODY), b"Content-Encoding: gzip"), OK),
        (sized(zlib.compress(OK_BODY), b"Content-Encoding: deflate"), OK),
        (sized(b"not gzip at all", b"Content-Encoding: gzip"), error("DecodingError")),
        (sized(gzip.compress(OK_BODY)[:-8], b"Content-Encoding: gzip"), OK),
        (head(b"Content-Encoding: gzip", b"Connection: close") + gzip.compress(OK_BODY), OK),
    ],
    ids=["gzip", "deflate", "broken-gzip", "gzip-without-its-trailer", "gzip-read-to-close"],
)
def test_encodings(raw: bytes, expected: Outcome) -> None:
    mine, theirs = run_both(raw)
    assert mine == theirs == expected  # same


def test_brotli_as_httpx_has_it() -> None:
    """opwatch asks for gzip and deflate only; a br body anyway is decoded when a brotli
    package is installed and handed over as it came when not, by both (httpx's decoders)."""
    mine, theirs = run_both(sized(b"\x0b\x04\x80" + OK_BODY + b"\x03", b"Content-Encoding: br"))
    assert mine == theirs  # same
    assert mine.status == 200 or mine.error == "DecodingError"


READ_BY_BOTH = {
    "1xx-first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    + sized(OK_BODY),
    "chunked-extensions-trailers": head(b"Transfer-Encoding: chunked")
    + b'4;name=value\r\n{"ok\r\n5\r\n": 1}\r\n0\r\nX-Trailer: yes\r\n\r\n',
    "read-to-close": head(b"Connection: close") + OK_BODY,
    "http-1.0": b"HTTP/1.0 200 OK\r\n\r\n" + OK_BODY,
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 9\n\n" + OK_BODY,
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 9\r\n\r\n" + OK_BODY,
    "90-kib-headers": sized(OK_BODY, b"X-Big: " + b"a" * 90_000),
    "control-in-header": sized(OK_BODY, b"X-Control: a\x01b"),
}


@pytest.mark.parametrize("raw", READ_BY_BOTH.values(), ids=READ_BY_BOTH.keys())
def test_replies_both_read(raw: bytes) -> None:
    mine, theirs = run_both(raw)
    assert mine == theirs == OK  # same


def test_the_same_content_length_twice_is_refused() -> None:
    """stricter: stock httpx (h11) reads one length sent twice as one; llhttp refuses it, as
    RFC 9112 §6.3 lets a recipient. Two length lines are how a smuggled request begins, and no
    API opwatch reads sends them."""
    mine, theirs = run_both(sized(OK_BODY, b"Content-Length: 9"))
    assert theirs == OK
    assert mine == error("RemoteProtocolError")
    assert "Duplicate Content-Length" in mine.reason


def chunked(size: bytes) -> bytes:
    """OK_BODY as one chunk whose size line is `size`, then the last chunk."""
    return head(b"Transfer-Encoding: chunked") + size + b"\r\n" + OK_BODY + b"\r\n0\r\n\r\n"


REFUSED_BY_BOTH = {
    "te-xchunked": head(b"Transfer-Encoding: xchunked") + b"9\r\n" + OK_BODY + b"\r\n0\r\n\r\n",
    "te-gzip-chunked": head(b"Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n",
    "chunk-minus-1": head(b"Transfer-Encoding: chunked") + b"-1\r\n" + b"x" * 100,
    "chunk-plus": chunked(b"+9"),
    "chunk-0x": chunked(b"0x9"),
    "chunk-underscore": chunked(b"0_9"),
    "chunk-longer-than-size": chunked(b"3"),
    "conflicting-lengths": head(b"Content-Length: 9", b"Content-Length: 10") + OK_BODY,
    "negative-length": head(b"Content-Length: -5") + OK_BODY,
    "nul-in-header": sized(OK_BODY, b"X-Nul: a\x00b"),
    "vt-in-header": sized(OK_BODY, b"X-Tab: a\x0bb"),
    "space-before-first-header": b"HTTP/1.1 200 OK\r\n X-A: b\r\nContent-Length: 9\r\n\r\n"
    + OK_BODY,
    "header-without-colon": sized(OK_BODY, b"no colon here"),
    "not-http": b"<html>not http</html>\r\n\r\n",
    "200-kib-headers": sized(OK_BODY, b"X-Big: " + b"a" * 200_000),
}


@pytest.mark.parametrize("raw", REFUSED_BY_BOTH.values(), ids=REFUSED_BY_BOTH.keys())
def test_broken_framing_is_refused_by_both(raw: bytes) -> None:
    mine, theirs = run_both(raw)
    assert mine == theirs == error("RemoteProtocolError")  # same
    assert "not valid HTTP/1.1" in mine.reason


def test_a_close_mid_body() -> None:
    mine, theirs = run_both(head(b"Content-Length: 100") + b'{"cut')
    assert mine == theirs == error("RemoteProtocolError")  # same
    assert mine.reason == "the connection was closed before a full reply arrived"


def test_a_close_before_any_reply() -> None:
    mine, theirs = run_both(b"")
    assert mine == theirs == error("RemoteProtocolError")  # same


def resetting(connection: socket.socket, _: int) -> None:
    read_request(connection)
    connection.sendall(head(b"Content-Length: 100") + b'{"cut')
    # SO_LINGER 0: close sends a TCP reset instead of a FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_reset_mid_body() -> None:
    with Scripted(resetting) as server:
        mine, theirs = both(server.url())
    assert mine == theirs == error("ReadError")  # same
    assert mine.reason == "the connection was cut while the reply arrived"


def trickling(connection: socket.socket, _: int) -> None:
    """Nine bytes one at a time, 40 ms apart: each gap under the 0.2 s timeout, all of them
    over it."""
    read_request(connection)
    connection.sendall(head(b"Content-Length: 9"))
    connection.settimeout(0.04)
    for byte in OK_BODY:
        connection.sendall(bytes([byte]))
        with contextlib.suppress(TimeoutError):
            connection.recv(1)  # the server's pause: 40 ms, as the client sends nothing


def test_a_body_trickling_in_is_read_whole() -> None:
    """The read timeout bounds each silence, not the whole reply, as httpx's does."""
    with Scripted(trickling) as server:
        mine, theirs = both(server.url(), timeout_s=0.2)
    assert mine == theirs == OK  # same


def stalling(connection: socket.socket, _: int) -> None:
    read_request(connection)
    connection.sendall(head(b"Content-Length: 9") + b'{"ok')
    connection.recv(1)  # until the client gives up and hangs up


def test_a_body_stalling_past_the_timeout() -> None:
    with Scripted(stalling) as server:
        mine, theirs = both(server.url(), timeout_s=0.2)
    assert mine == theirs == error("ReadTimeout")  # same


FORGED = sized(b'{"state": "failed"}')


def overlong(connection: socket.socket, number: int) -> None:
    """The first connection's first reply carries a second reply after its Content-Length
    body; every other reply is honest."""
    first = True
    while read_request(connection):
        connection.sendall(sized(OK_BODY) + FORGED if first and number == 0 else sized(OK_BODY))
        first = False


def test_bytes_past_the_content_length_are_never_the_next_reply() -> None:
    """stricter: stock httpx keeps the connection and reads the extra bytes as the reply to
    its next request, a forged `failed` state to a watcher; opwatch drops the connection."""
    with Scripted(overlong) as server:
        mine = [outcome for outcome, _ in asyncio.run(ours(server.url(), repeat=2))]
    with Scripted(overlong) as server:
        theirs = [outcome for outcome, _ in asyncio.run(stock(server.url(), repeat=2))]
    assert mine == [OK, OK]
    assert theirs == [OK, reply(200, b'{"state": "failed"}')]


def test_a_set_cookie_with_a_bare_lf_cannot_forge_a_header() -> None:
    """A bare LF ends the header line (RFC 9112 lets a client read it so), so the cookie
    is `a=1` and the next request carries nothing more."""
    replies = (sized(OK_BODY, b"Set-Cookie: a=1\nX-Injected: yes"), sized(OK_BODY))
    requests: list[bytes] = []

    def script(connection: socket.socket, _: int) -> None:
        for answer in replies:
            request = read_request(connection)
            requests.append(request)
            connection.sendall(answer)

    with Scripted(script) as server:
        mine = [outcome for outcome, _ in asyncio.run(ours(server.url(), repeat=2))]
    assert mine == [OK, OK]
    assert b"\r\nCookie: a=1\r\n" in requests[1]
    assert b"Injected" not in requests[1]
    with Scripted(answering(*replies)) as server:
        theirs = [outcome for outcome, _ in asyncio.run(stock(server.url(), repeat=2))]
    assert theirs == mine  # same


@pytest.mark.parametrize(
    ("value", "stock_sends_it"),
    [("k\r\nX-Forged: 1", False), ("k\x00", False), ("k\x01", True), ("k\x7f", True)],
    ids=["line-break", "nul", "control", "del"],
)
def test_control_characters_never_leave_in_a_request_header(
    value: str, stock_sends_it: bool
) -> None:
    """Same for a line break or NUL (h11 refuses them for both); stricter for the other
    control characters, which httpx sends and RFC 9110 allows in no field value."""
    sent: list[bytes] = []

    def script(connection: socket.socket, _: int) -> None:
        if request := read_request(connection):
            sent.append(request)
            connection.sendall(sized(OK_BODY))

    with Scripted(script) as server:
        mine, theirs = both(server.url(), headers={"API-Key": value})
    assert mine == error("LocalProtocolError")
    assert mine.reason.startswith("the API-Key header contains a")
    assert value not in mine.reason  # it may be a credential
    assert theirs == (OK if stock_sends_it else error("LocalProtocolError"))
    assert len(sent) == (1 if stock_sends_it else 0)  # only httpx's request, if any


def test_a_refused_connection() -> None:
    port = free_port()
    mine, theirs = both(f"http://127.0.0.1:{port}/ops/1")
    assert mine == theirs == error("ConnectError")  # same
    assert mine.reason.startswith("connection refused")
    assert theirs.reason.startswith("connection refused")
