"""opwatch's HTTP/1.1 transport against scripted servers on real loopback sockets.

Each server answers with exact bytes, so framing, keep-alive, broken replies, timeouts and TLS
are checked as a server would really send them.
"""

import asyncio
import gc
import gzip
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from opwatch import transport as transport_module
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
            "in the middle of the reply",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            httpx.RemoteProtocolError,
            "broke HTTP/1.1: Invalid character in chunk size",
        ),
        (b"<html>hello</html>\r\n\r\n", httpx.RemoteProtocolError, "Expected HTTP/"),
        (
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            httpx.RemoteProtocolError,
            "Invalid header token",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
            httpx.RemoteProtocolError,
            "Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Len", httpx.RemoteProtocolError, "middle of the reply"),
        (b"", httpx.RemoteProtocolError, "closed the connection without a reply"),
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


def test_a_broken_compressed_body_gives_back_one_slot_not_two() -> None:
    """The limit holds after a body that fails to decompress: its slot is returned once."""
    broken = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope"

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        for _ in range(3):
            with pytest.raises(httpx.DecodingError):
                await client.get(server.url())
        replies = await asyncio.gather(*(client.get(server.url()) for _ in range(6)))
        assert all(reply.json() == {"ok": 1} for reply in replies)
        assert server.connections == 1  # one slot: never a second connection

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            served = 0
            while await server.read_request(reader):
                served += 1
                await asyncio.sleep(0.01)  # slow enough that a second slot would be used
                writer.write(broken if served <= 3 else JSON_REPLY)

        return handler

    run(make, scenario, max_connections=1)


def test_headers_of_90_kib_are_read_and_of_200_kib_refused() -> None:
    # httpcore gives h11 the same 100 KiB: a reply stock httpx reads is read here too, and
    # one it refuses is refused.
    big = b"HTTP/1.1 200 OK\r\nX-Big: %s\r\nContent-Length: 0\r\n\r\n"
    under, over = big % (b"a" * 90_000), big % (b"a" * 200_000)

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert len((await client.get(server.url())).headers["X-Big"]) == 90_000
        with pytest.raises(httpx.RemoteProtocolError, match="its head is longer than 100 KiB"):
            await client.get(server.url())

    run(replying(under, over), scenario)


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
        # urllib's reading, which httpx uses: an empty lower-case variable cancels the upper.
        ("https://api.test", {"https_proxy": "", "HTTPS_PROXY": "http://P"}, None),
        ("https://api.test", {"https_proxy": "p:3128"}, "http://p:3128"),
        ("http://api.test", {"HTTP_PROXY": "http://p", "REQUEST_METHOD": "GET"}, None),
        ("http://api.test", {"https_proxy": "http://p:3128"}, None),
        ("https://api.test", {"https_proxy": "http://p", "no_proxy": "other, api.test"}, None),
        ("https://api.test", {"https_proxy": "http://p", "no_proxy": "*"}, None),
        ("https://api.test", {"https_proxy": "http://p", "no_proxy": "x, *"}, None),
    ],
)
def test_proxy_variables(url: str, env: dict[str, str], proxy: str | None) -> None:
    assert proxy_for(httpx.URL(url), env) == proxy


@pytest.mark.parametrize(
    ("url", "no_proxy", "exempt"),
    [
        # As httpx documents them (its comments on NO_PROXY, after curl's):
        ("http://example.com/", "example.com", True),
        ("http://www.example.com/", "example.com", True),
        ("http://wwwexample.com/", "example.com", False),
        ("http://example.com/", ".example.com", False),
        ("http://www.example.com/", ".example.com", True),
        ("http://EXAMPLE.com/", "Example.COM", True),
        ("http://localhost:5/", "localhost", True),
        ("http://sub.localhost:5/", "localhost", False),
        ("http://127.0.0.1:9/", "127.0.0.1", True),
        ("http://127.0.0.1:9/", "127.0.0.1:9", True),
        ("http://127.0.0.1:9/", "127.0.0.1:8", False),
        ("http://1.127.0.0.1/", "127.0.0.1", False),
        ("http://10.1.2.3/", "10.0.0.0/8", False),  # no CIDR in httpx either
        ("http://[::1]:8000/", "::1", True),
        ("http://127.0.0.1:9/", "http://127.0.0.1", True),
        ("https://127.0.0.1:9/", "http://127.0.0.1", False),
        ("http://example.com:8080/", "example.com:8080", True),
        ("http://example.com/", "example.com:8080", False),
        # Where httpx fails (InvalidURL, or a pattern that never matches), the entry's meaning:
        ("http://[::1]:8000/", "[::1]", True),
        ("http://[::1]:8000/", "[::1]:8000", True),
        ("http://[::1]:8000/", "[::1]:9000", False),
        ("http://x.example.com/", "*.example.com", True),
        ("http://example.com/", "*.example.com", False),
        ("https://example.com/", "example.com:443", True),
        ("http://faß.de/", "xn--fa-hia.de", True),
        ("http://xn--fa-hia.de/", "FASS.de", False),
        ("http://faß.de/", "faß.de", True),
    ],
)
def test_no_proxy_entries(url: str, no_proxy: str, exempt: bool) -> None:
    env = {"all_proxy": "http://proxy.test:3128", "no_proxy": f"unrelated.test,{no_proxy}"}
    assert proxy_for(httpx.URL(url), env) == (None if exempt else "http://proxy.test:3128")


def test_a_proxied_plain_http_profile_sends_absolute_form_with_the_proxy_credentials() -> None:
    """The proxy gets the whole URL and Proxy-Authorization; the API host is never dialled
    (`api.test` does not resolve)."""

    async def scenario(proxy: Server, _: httpx.AsyncClient) -> None:
        settings = {"provider": "wesog", "api_key": "k", "url": "http://api.test:8080/v1"}
        config = parse_config({"profiles": {"media": settings}}, Path("t.yaml"), {})
        env = {"http_proxy": f"http://user:pa%20ss@127.0.0.1:{proxy.port}"}
        async with Session(config, Runtime(env=env)) as session:
            client = session.provider("media").client
            assert (await client.request("GET", "/ops/1")).json() == {"ok": 1}
            assert (await client.request("GET", "/ops/1")).json() == {"ok": 1}
        first = proxy.requests[0].decode()
        assert first.startswith("GET http://api.test:8080/v1/ops/1 HTTP/1.1\r\n")
        assert "Host: api.test:8080\r\n" in first
        assert "Proxy-Authorization: Basic dXNlcjpwYSBzcw==\r\n" in first  # user:pa ss
        assert proxy.connections == 1

    run(replying(JSON_REPLY, JSON_REPLY), scenario)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_connection_idle_past_5_s_is_not_reused() -> None:
    clock = Clock()

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        await client.get(server.url())
        clock.now += 4.9
        await client.get(server.url())
        assert server.connections == 1
        clock.now += 5.1  # httpx's keepalive_expiry: behind a NAT the flow may be forgotten
        await client.get(server.url())
        assert server.connections == 2

    run(replying(JSON_REPLY, JSON_REPLY, JSON_REPLY), scenario, clock=clock)


def test_bytes_arriving_on_an_idle_connection_are_never_read_as_the_next_reply() -> None:
    forged = b'HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{"state": "failed"}'
    replied, dropped = asyncio.Event(), asyncio.Event()

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
        ) -> None:
            await server.read_request(reader)
            writer.write(JSON_REPLY)
            if number == 0:
                await replied.wait()
                writer.write(forged)  # unasked: the client must hang up, not keep it
                await reader.read()
                dropped.set()

        return handler

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(server.url())).json() == {"ok": 1}
        replied.set()
        async with asyncio.timeout(2):
            await dropped.wait()
        assert (await client.get(server.url())).json() == {"ok": 1}
        assert server.connections == 2

    run(make, scenario)


def test_the_idna_2008_name_is_dialled_and_sent_as_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`faß.de` is `xn--fa-hia.de` under IDNA 2008 (the Host header's) but `fass.de` under
    IDNA 2003: dialling that one would take the credentials to another domain."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"http://faß.de:{server.port}/")).json() == {"ok": 1}
        assert asked == ["xn--fa-hia.de"]
        assert b"\r\nHost: xn--fa-hia.de:" in server.requests[0]

    run(replying(JSON_REPLY), scenario)


# What the transport settles itself around llhttp (see the module docstring).


def test_a_header_value_loses_its_trailing_whitespace_as_in_httpx() -> None:
    reply = b'HTTP/1.1 200 OK\r\nX-State:  done \t\r\nContent-Length: 9\r\n\r\n{"ok": 1}'

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(server.url())).headers["X-State"] == "done"

    run(replying(reply), scenario)


def test_a_trailer_is_not_a_header_of_the_reply() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'9\r\n{"ok": 1}\r\n0\r\nX-Trailer: yes\r\n\r\n'
    )

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        response = await client.get(server.url())
        assert response.json() == {"ok": 1}
        assert "X-Trailer" not in response.headers

    run(replying(reply), scenario)


@pytest.mark.parametrize("coding", [b"xchunked", b"gzip, chunked", b"identity"])
def test_a_transfer_coding_but_chunked_is_refused(coding: bytes) -> None:
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n" % coding

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.RemoteProtocolError, match="unsupported Transfer-Encoding"):
            await client.get(server.url())

    run(replying(reply), scenario)


def test_bytes_after_a_chunked_reply_in_the_same_read_drop_the_connection() -> None:
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"ok": 1}\r\n0\r\n\r\n'
    forged = b'HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{"state": "failed"}'

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        first, second = await get_twice(server, client)
        assert first.json() == second.json() == {"ok": 1}
        assert server.connections == 2  # the first connection carried bytes past its reply

    run(replying(chunked + forged, JSON_REPLY), scenario)


def test_a_request_header_name_that_is_not_a_token_never_leaves() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.LocalProtocolError, match="is not a token"):
            await client.get(server.url(), headers={"X-A: b\r\nX-Forged": "1"})
        assert server.requests == []

    run(replying(JSON_REPLY), scenario)


def test_a_body_whose_second_line_starts_with_a_space_is_read() -> None:
    """Only the line after the status line may not start with whitespace, not a body's, even
    when the body arrives in a read of its own."""
    body = b'{"ok":\n  1}'
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        assert (await client.get(server.url())).json() == {"ok": 1}

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            await server.read_request(reader)
            writer.write(head)
            await writer.drain()
            await asyncio.sleep(0.05)  # the client reads the head alone
            writer.write(body)
            await reader.read()

        return handler

    run(make, scenario)


def test_a_read_leaves_no_reference_cycle() -> None:
    """A reply and its parser are freed when the next read replaces them, not by the garbage
    collector: a cycle per read made a 10,000-operation wait run twice as many full
    collections, 0.2 s each."""

    def replies() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is transport_module._Reply)

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        gc.collect()
        gc.disable()  # what only the collector would free stays
        try:
            before = replies()  # another test's, still referenced
            for _ in range(20):
                assert (await client.get(server.url())).json() == {"ok": 1}
            after = replies()
        finally:
            gc.enable()
        assert server.connections == 1
        assert after - before == 1  # the last read's, kept by its connection

    run(replying(*[JSON_REPLY] * 20), scenario)


def test_a_reply_to_head_has_no_body_whatever_its_length_says() -> None:
    head_reply = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        response = await client.head(server.url())
        assert (response.status_code, response.content) == (200, b"")
        assert (await client.get(server.url())).json() == {"ok": 1}
        assert server.connections == 1  # the next reply was not taken for the body

    run(replying(head_reply, JSON_REPLY), scenario)


def test_whitespace_before_the_first_header_is_refused_in_any_read() -> None:
    """As h11 refuses it, even when the status line arrives in a read of its own."""
    pieces = [b"HTTP/1.1 200 OK\r\n", b" X-A: b\r\nContent-Length: 9\r\n\r\n", b'{"ok": 1}']

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.RemoteProtocolError, match="whitespace before its first header"):
            await client.get(server.url())

    def make(server: Server) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            await server.read_request(reader)
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.05)  # each piece a read of its own
            await reader.read()

        return handler

    run(make, scenario)
