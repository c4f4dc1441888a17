"""opwatch's HTTP/1.1 transport against scripted servers on real loopback sockets.

Each server answers with exact bytes, so framing, keep-alive, broken replies, timeouts and TLS
are checked as a server would really send them.
"""

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from opwatch.config import parse_config
from opwatch.runtime import Runtime
from opwatch.session import Session, proxy_for
from opwatch.transport import Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
"""Serves one connection; the int counts connections from 0."""
MakeHandler = Callable[["Server"], Handler]

JSON_REPLY = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok": 1}\r\n'
)


class Server:
    """A loopback server running the handler `make` gives it for every connection it accepts."""

    def __init__(self, make: MakeHandler, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.handler = make(self)

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def url(self, path: str = "/ops/1") -> str:
        # A certificate names a host, so TLS goes to `localhost`.
        origin = f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"
        return origin + path

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        """One request's head and body, recorded; b"" when the client closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        try:
            await self.handler(reader, writer, number)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def replying(*replies: bytes) -> MakeHandler:
    """A handler answering the n-th request of each connection with `replies[n]`, then closing."""

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            for reply in replies:
                if not await server.read_request(reader):
                    return
                writer.write(reply)
                await writer.drain()
            await reader.read()  # wait for the client to hang up

        return handler

    return make


def run(
    make: MakeHandler,
    scenario: Callable[[Server, httpx.AsyncClient], Awaitable[Any]],
    **transport: Any,
) -> Any:
    """Run `scenario` with a client on opwatch's transport against a server with `make`'s
    handler."""

    async def main() -> Any:
        client = httpx.AsyncClient(transport=Transport(**transport), timeout=2)
        async with Server(make) as server, client:
            return await scenario(server, client)

    return asyncio.run(main())


async def get_twice(server: Server, client: httpx.AsyncClient) -> list[httpx.Response]:
    return [await client.get(server.url()), await client.get(server.url())]


def test_a_kept_connection_serves_the_next_request() -> None:
    server_replies = replying(JSON_REPLY, JSON_REPLY)

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        first, second = await get_twice(server, client)
        assert (first.json(), second.json()) == ({"ok": 1}, {"ok": 1})
        assert server.connections == 1
        assert server.requests[0].startswith(b"GET /ops/1 HTTP/1.1\r\nHost: 127.0.0.1:")

    run(server_replies, scenario)


def test_a_chunked_body_with_extensions_and_trailers() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4;name=value\r\n{"a"\r\n6\r\n: [1, \r\n3\r\n2]}\r\n0\r\nX-Trailer: yes\r\n\r\n'
    )

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        first, second = await get_twice(server, client)
        assert first.json() == second.json() == {"a": [1, 2]}
        assert server.connections == 1

    run(replying(reply, reply), scenario)


@pytest.mark.parametrize(
    "reply",
    [
        b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"ok": 1}',
        b'HTTP/1.0 200 OK\r\n\r\n{"ok": 1}',
    ],
    ids=["connection-close", "http-1.0"],
)
def test_a_body_read_to_the_close_is_not_kept(reply: bytes) -> None:
    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            await server.read_request(reader)
            writer.write(reply)

        return handler

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        first, second = await get_twice(server, client)
        assert first.json() == second.json() == {"ok": 1}
        assert server.connections == 2

    run(make, scenario)


def test_connection_close_is_honoured_even_when_the_server_would_go_on() -> None:
    reply = JSON_REPLY.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        first, second = await get_twice(server, client)
        assert first.json() == second.json() == {"ok": 1}
        assert server.connections == 2

    run(replying(reply, reply), scenario)


def test_no_body_for_204_and_head() -> None:
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(server.url())).content == b""
        assert (await client.head(server.url())).content == b""
        assert (await client.get(server.url())).json() == {"ok": 1}
        assert server.connections == 1

    run(replying(no_content, head, JSON_REPLY), scenario)


def test_an_interim_100_reply_is_skipped() -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + JSON_REPLY

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(server.url())).json() == {"ok": 1}

    run(replying(reply), scenario)


def dropping_the_second_request(server: Server) -> Handler:
    """The first connection answers once, then hangs up on the next request unanswered."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> None:
        while await server.read_request(reader):
            if number == 0 and len(server.requests) == 2:
                return  # closes without a reply, as a server timing out its idle side does
            writer.write(JSON_REPLY)

    return handler


def test_a_read_goes_again_on_a_fresh_connection_when_a_kept_one_was_dropped() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        first, second = await get_twice(server, client)
        assert first.json() == second.json() == {"ok": 1}
        assert (server.connections, len(server.requests)) == (2, 3)

    run(dropping_the_second_request, scenario)


def test_a_post_is_not_sent_twice_when_a_kept_connection_was_dropped() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        await client.get(server.url())
        with pytest.raises(httpx.RemoteProtocolError, match="without a reply"):
            await client.post(server.url(), json={"u": "ops"})
        assert len(server.requests) == 2

    run(dropping_the_second_request, scenario)


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (
            b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut',
            httpx.RemoteProtocolError,
            "middle of the body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            httpx.RemoteProtocolError,
            "chunk size",
        ),
        (b"<html>hello</html>\r\n\r\n", httpx.RemoteProtocolError, "not an HTTP/1 status line"),
        (
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            httpx.RemoteProtocolError,
            "malformed header",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
            httpx.RemoteProtocolError,
            "Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Len", httpx.RemoteProtocolError, "before a full reply"),
        (b"", httpx.RemoteProtocolError, "before a full reply"),
    ],
    ids=[
        "truncated-body",
        "bad-chunk",
        "not-http",
        "bad-header",
        "bad-length",
        "cut-head",
        "nothing",
    ],
)
def test_broken_replies_raise_httpx_errors(reply: bytes, error: type[Exception], text: str) -> None:
    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            await server.read_request(reader)
            writer.write(reply)  # then the connection closes

        return handler

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(error, match=text):
            await client.get(server.url())

    run(make, scenario)


def test_a_gzip_body_is_decompressed_and_a_broken_one_refused() -> None:
    packed = gzip.compress(b'{"ok": 1}')
    good = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)
    broken = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope"

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(server.url())).json() == {"ok": 1}
        with pytest.raises(httpx.DecodingError):
            await client.get(server.url())
        assert (await client.get(server.url())).json() == {"ok": 1}  # the slot came back

    run(replying(good + packed, broken, JSON_REPLY), scenario, max_connections=1)


def test_headers_longer_than_the_limit_are_refused() -> None:
    reply = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.RemoteProtocolError, match="headers exceed"):
            await client.get(server.url())

    run(replying(reply), scenario)


def test_a_silent_server_times_out() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url(), timeout=0.2)

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            await reader.read()

        return handler

    run(make, scenario)


def test_a_refused_connection_is_a_connect_error() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with httpx.AsyncClient(transport=Transport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")

    asyncio.run(main())


def test_a_line_break_in_a_header_is_never_sent() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.LocalProtocolError, match="API-Key header contains a line break"):
            await client.get(server.url(), headers={"API-Key": "k\r\nX-Forged: 1"})
        assert server.requests == []

    run(replying(JSON_REPLY), scenario)


def test_no_more_connections_than_the_limit() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        replies = await asyncio.gather(*(client.get(server.url()) for _ in range(12)))
        assert all(reply.json() == {"ok": 1} for reply in replies)
        assert server.connections == 3

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            while await server.read_request(reader):
                await asyncio.sleep(0.01)  # slow enough that every slot fills
                writer.write(JSON_REPLY)

        return handler

    run(make, scenario, max_connections=3)


def test_a_body_left_half_read_leaves_its_connection_unused() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", server.url()) as response:
            async for _ in response.aiter_raw():
                break
        assert (await client.get(server.url())).json() == {"ok": 1}
        assert server.connections == 2

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
        ) -> None:
            while await server.read_request(reader):
                writer.write(big if number == 0 else JSON_REPLY)
                await writer.drain()

        return handler

    run(make, scenario)


def test_a_large_body_streams_in_pieces() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        pieces = []
        async with client.stream("GET", server.url()) as response:
            async for piece in response.aiter_raw():
                pieces.append(piece)
        assert b"".join(pieces) == body
        assert len(pieces) > 1

    run(replying(reply), scenario)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def tls_server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    return context


def test_tls_with_a_custom_authority(authority: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))

    async def main() -> None:
        trusting = ssl.create_default_context(cafile=str(bundle))
        server = Server(replying(JSON_REPLY, JSON_REPLY), tls=tls_server_context(authority))
        async with server:
            async with httpx.AsyncClient(transport=Transport(ssl_context=trusting)) as client:
                first, second = await get_twice(server, client)
                assert first.json() == second.json() == {"ok": 1}
                assert server.connections == 1
            async with httpx.AsyncClient(transport=Transport()) as client:  # public roots only
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(server.url())

    asyncio.run(main())


@pytest.mark.parametrize(
    ("url", "env", "proxy"),
    [
        ("https://api.test", {}, None),
        ("https://api.test", {"https_proxy": "http://p:3128"}, "http://p:3128"),
        ("https://api.test", {"HTTPS_PROXY": "http://P:3128"}, "http://P:3128"),
        ("https://api.test", {"https_proxy": "http://p", "HTTPS_PROXY": "http://P"}, "http://p"),
        ("http://api.test", {"https_proxy": "http://p:3128"}, None),
        ("http://api.test", {"ALL_PROXY": "socks5://s"}, "socks5://s"),
        ("https://api.test", {"https_proxy": "http://p", "no_proxy": "other, api.test"}, None),
        ("https://eu.api.test", {"https_proxy": "http://p", "NO_PROXY": ".api.test"}, None),
        ("https://eu.api.test", {"https_proxy": "http://p", "no_proxy": "*.API.test"}, None),
        ("https://notapi.test", {"https_proxy": "http://p", "no_proxy": "api.test"}, "http://p"),
        ("https://api.test", {"https_proxy": "http://p", "no_proxy": "*"}, None),
    ],
)
def test_proxy_variables(url: str, env: dict[str, str], proxy: str | None) -> None:
    assert proxy_for(httpx.URL(url), env) == proxy


def test_a_proxied_profile_goes_through_httpx_own_transport() -> None:
    settings = {"provider": "wesog", "api_key": "k", "url": "https://w.test"}
    config = parse_config({"profiles": {"media": settings}}, Path("test.yaml"), {})
    proxied = Runtime(env={"https_proxy": "http://127.0.0.1:3128"})

    async def transports(runtime: Runtime) -> type:
        async with Session(config, runtime) as session:
            return type(session.provider("media").client.transport)

    assert asyncio.run(transports(proxied)) is httpx.AsyncHTTPTransport
    assert asyncio.run(transports(Runtime(env={}))) is Transport
