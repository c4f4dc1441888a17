"""A lean HTTP/1.1 transport for httpx: keep-alive connections over asyncio streams.

httpx's own transport goes through httpcore, anyio and h11. On a 2-core CI machine that costs
about a millisecond of CPU per request and a quarter of a second of imports at start, most of it
machinery a watcher does not use: it polls small JSON documents over a few keep-alive connections
per API. This transport writes the request, reads the status line, the headers and a
Content-Length, chunked or read-to-close body, and keeps the connection for the next read.

httpx still does everything above the wire (URLs, headers, cookies, decoding, timeouts as
configured); proxies from the environment still go through httpx's own transport, which httpx
mounts for the proxied URLs. Not spoken here: HTTP/2, streamed request bodies, upgrades.
"""

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Literal, TypeVar

import httpx

MAX_HEAD_BYTES = 64 * 1024
"""The longest status line plus headers accepted, as h11 does."""
READ_CHUNK_BYTES = 64 * 1024
WHOLE_BODY_BYTES = 64 * 1024
"""Bodies up to this size are read with the head; longer ones stream as the caller reads."""
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})

Framing = Literal["none", "length", "chunked", "close"]
T = TypeVar("T")


class Transport(httpx.AsyncBaseTransport):
    """Up to `max_connections` keep-alive connections per origin, opened as needed."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, max_connections: int = 8):
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._pools: dict[tuple[str, str, int], _Pool] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        pool = self._pool(request.url)
        try:
            if pool.slots.locked():
                async with asyncio.timeout(timeouts.get("pool")):
                    await pool.slots.acquire()
            else:
                await pool.slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection came free in time", request=request) from None
        try:
            return await self._exchange(request, pool, timeouts)
        except BaseException:
            pool.slots.release()
            raise

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close_idle()
        self._pools.clear()

    def _pool(self, url: httpx.URL) -> "_Pool":
        port = url.port or (443 if url.scheme == "https" else 80)
        origin = (url.scheme, url.host, port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self._max_connections)
        return pool

    async def _exchange(
        self, request: httpx.Request, pool: "_Pool", timeouts: dict[str, float | None]
    ) -> httpx.Response:
        message = _request_bytes(request, await request.aread())
        connection = pool.take_idle()
        if connection is not None:
            try:
                return await connection.exchange(request, message, pool, timeouts)
            except _ClosedWhileIdle:
                # The server dropped the kept connection just as it was reused; nothing of the
                # request was answered, so a read may go again on a fresh connection.
                if request.method not in IDEMPOTENT:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection without a reply", request=request
                    ) from None
        connection = await self._connect(request, timeouts.get("connect"))
        try:
            return await connection.exchange(request, message, pool, timeouts)
        except _ClosedWhileIdle:
            raise httpx.RemoteProtocolError(
                "the server closed the connection without a reply", request=request
            ) from None

    async def _connect(self, request: httpx.Request, timeout: float | None) -> "_Connection":
        url = request.url
        tls = None
        if url.scheme == "https":
            tls = self._ssl_context or httpx.create_ssl_context()
        elif url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"cannot speak {url.scheme!r}", request=request)
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    url.host,
                    url.port or (443 if tls else 80),
                    ssl=tls,
                    server_hostname=url.host if tls else None,
                    limit=MAX_HEAD_BYTES,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                "the connection was not made in time", request=request
            ) from None
        except OSError as exc:  # refused, unreachable, unknown host, TLS handshake refused
            raise httpx.ConnectError(str(exc) or exc.__class__.__name__, request=request) from exc
        return _Connection(reader, writer, reused=False)


class _Pool:
    """The connections to one origin: a limit on how many exist, and the idle ones."""

    def __init__(self, limit: int) -> None:
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[_Connection] = []

    def take_idle(self) -> "_Connection | None":
        while self.idle:
            connection = self.idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    def give_back(self, connection: "_Connection | None") -> None:
        """Return a slot, keeping `connection` for the next request when it is given."""
        if connection is not None:
            connection.reused = True
            self.idle.append(connection)
        self.slots.release()

    def close_idle(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class _ClosedWhileIdle(Exception):
    """A kept connection was found closed before any byte of the reply."""


class _Connection:
    __slots__ = ("reader", "reused", "writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, reused: bool
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = reused

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()

    async def exchange(
        self,
        request: httpx.Request,
        message: bytes,
        pool: _Pool,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        """Send `message` and read the reply: a small body whole, a larger one as it streams.

        One deadline, the read timeout, covers sending, the head and a small body: a poll
        costs one timer, not three.
        """
        try:
            async with asyncio.timeout(timeouts.get("read")):
                await self._write(request, message)
                version, status, reason, headers = await self._read_head(request)
                framing, length = _framing(request, status, headers)
                whole = framing == "none" or (framing == "length" and length <= WHOLE_BODY_BYTES)
                body = await self._read_body(request, length) if whole else b""
        except TimeoutError:
            self.close()
            raise httpx.ReadTimeout("no reply in time", request=request) from None
        except BaseException:
            self.close()
            raise
        keep = version == b"HTTP/1.1" and framing != "close" and not _says_close(headers)
        extensions = {"http_version": version, "reason_phrase": reason}
        if not whole:
            stream = _Body(self, pool, request, framing, length, keep, timeouts.get("read"))
            return httpx.Response(status, headers=headers, stream=stream, extensions=extensions)
        try:
            response = _whole_response(status, headers, body, extensions)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        pool.give_back(self if keep else None)
        return response

    async def _write(self, request: httpx.Request, message: bytes) -> None:
        try:
            self.writer.write(message)
            await self.writer.drain()
        except OSError as exc:
            if self.reused:
                raise _ClosedWhileIdle from exc
            raise httpx.WriteError(str(exc), request=request) from exc

    async def _read_head(
        self, request: httpx.Request
    ) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
        while True:  # skip 1xx interim replies
            try:
                head = await self.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if self.reused and not exc.partial:
                    raise _ClosedWhileIdle from None
                raise httpx.RemoteProtocolError(
                    "the server closed the connection before a full reply", request=request
                ) from None
            except asyncio.LimitOverrunError:
                raise httpx.RemoteProtocolError(
                    f"the reply's headers exceed {MAX_HEAD_BYTES} bytes", request=request
                ) from None
            except OSError as exc:
                if self.reused:
                    raise _ClosedWhileIdle from exc
                raise httpx.ReadError(str(exc), request=request) from exc
            version, status, reason, headers = _parse_head(head, request)
            if not 100 <= status < 200:
                return version, status, reason, headers

    async def _read_body(self, request: httpx.Request, length: int) -> bytes:
        try:
            return await self.reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError(
                "the server closed the connection in the middle of the body", request=request
            ) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    """A reply's body as it arrives; the connection goes back to its pool once it is all read."""

    def __init__(
        self,
        connection: _Connection,
        pool: _Pool,
        request: httpx.Request,
        framing: Framing,
        length: int,
        keep: bool,
        read_timeout: float | None,
    ) -> None:
        self._connection = connection
        self._pool: _Pool | None = pool
        self._request = request
        self._framing = framing
        self._length = length
        self._keep = keep
        self._timeout = read_timeout
        self._complete = framing == "none"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._framing == "length":
                async for chunk in self._exactly(self._length):
                    yield chunk
            elif self._framing == "chunked":
                async for chunk in self._chunks():
                    yield chunk
            elif self._framing == "close":
                while chunk := await self._read(self._connection.reader.read(READ_CHUNK_BYTES)):
                    yield chunk
            self._complete = True
        finally:
            if self._complete:
                await self.aclose()

    async def aclose(self) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if self._complete and self._keep:
            pool.give_back(self._connection)
        else:
            self._connection.close()  # a half-read reply leaves the connection unusable
            pool.give_back(None)

    async def _exactly(self, count: int) -> AsyncIterator[bytes]:
        reader = self._connection.reader
        while count:
            chunk = await self._read(reader.read(min(count, READ_CHUNK_BYTES)))
            if not chunk:
                raise httpx.RemoteProtocolError(
                    "the server closed the connection in the middle of the body",
                    request=self._request,
                )
            count -= len(chunk)
            yield chunk

    async def _chunks(self) -> AsyncIterator[bytes]:
        reader = self._connection.reader
        while True:
            line = await self._read(reader.readuntil(b"\r\n"))
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise httpx.RemoteProtocolError(
                    "a malformed chunk size in the body", request=self._request
                ) from None
            if size == 0:
                while await self._read(reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers are not used
                return
            async for chunk in self._exactly(size):
                yield chunk
            if await self._read(reader.readexactly(2)) != b"\r\n":
                raise httpx.RemoteProtocolError(
                    "a chunk longer than its size in the body", request=self._request
                )

    async def _read(self, reading: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await reading
        except TimeoutError:
            raise httpx.ReadTimeout(
                "the body did not arrive in time", request=self._request
            ) from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise httpx.RemoteProtocolError(
                "the server closed the connection in the middle of the body",
                request=self._request,
            ) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=self._request) from exc


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value:
            # A line break in a header (a pasted token, say) would forge further headers.
            raise httpx.LocalProtocolError(
                f"the {name.decode('ascii', 'replace')} header contains a line break",
                request=request,
            )
        lines.append(name + b": " + value)
    if body and "Content-Length" not in request.headers:
        raise httpx.LocalProtocolError("only request bodies of known length are sent")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _parse_head(
    head: bytes, request: httpx.Request
) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(
            f"not an HTTP/1 status line: {lines[0][:40]!r}", request=request
        )
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise httpx.RemoteProtocolError("a malformed header in the reply", request=request)
        headers.append((name, value.strip()))
    return version, int(code), reason, headers


def _whole_response(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, extensions: dict[str, Any]
) -> httpx.Response:
    """A response whose body has been read: a compressed one is decoded now (so a broken one
    fails here); a plain one is handed over as it is, as httpx's own read() leaves it, skipping
    a chain of decoder generators that cost a small poll more than its parsing."""
    if any(name.lower() == b"content-encoding" for name, _ in headers):
        return httpx.Response(status, headers=headers, content=body, extensions=extensions)
    response = httpx.Response(
        status, headers=headers, stream=httpx.ByteStream(body), extensions=extensions
    )
    response._content = body  # what Response.read() stores; tests/test_transport.py reads it back
    return response


def _says_close(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"connection" and b"close" in value.lower() for name, value in headers
    )


def _framing(
    request: httpx.Request, status: int, headers: list[tuple[bytes, bytes]]
) -> tuple[Framing, int]:
    """How the body is delimited (RFC 9112 section 6.3), and its length when one is given."""
    if request.method == "HEAD" or status in (204, 304):
        return "none", 0
    length = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding" and value.lower().endswith(b"chunked"):
            return "chunked", 0
        if lowered == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise httpx.RemoteProtocolError(
                    f"a bad Content-Length: {value[:20]!r}", request=request
                )
            length = int(value)
    if length is None:
        return "close", 0
    return ("length", length) if length else ("none", 0)
