"""opwatch's HTTP/1.1 transport for httpx: a keep-alive pool per origin, with h11 and llhttp
on the wire.

The wire format belongs to libraries. h11, the sans-IO HTTP/1.1 library under httpx's own
stack, writes each request (once: a poll sends the same request object again). llhttp, Node's
parser, reads the replies through httptools: status line, headers, Content-Length, chunked
framing, 1xx replies, obs-fold, bare LF, at a twentieth of h11's CPU. Where llhttp and h11 (so
stock httpx) differ, the difference is settled here, where it is named: a Transfer-Encoding
other than chunked is refused, the head is limited to httpcore's 100 KiB, NUL or a line break
in a header value and whitespace before the first header are refused, a body without length
ends at the close. What else is opwatch's own is what a watcher of thousands of operations
needs around the parser:

- a pool of keep-alive connections per origin, dropped after 5 s idle as httpx drops them, and
  dropped when bytes arrive while one sits idle (they would be read as the next reply);
- deadlines: connect, write, and the read timeout as the longest silence within a reply,
  the same for the head and for every framing of the body, on one timer per wait;
- TLS dialled and checked against `url.raw_host`, the IDNA-2008 name the Host header carries;
- http proxies: absolute-form requests, and CONNECT tunnels for https, through the same pool;
- failures mapped to httpx's exception types, and `describe()` to say which one a user can fix.

Not spoken here: HTTP/2, streamed request bodies, upgrades, SOCKS or TLS-to-the-proxy.
"""

import asyncio
import base64
import errno
import re
import socket
import ssl
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import cast

import h11
import httptools
import httpx

MAX_HEAD_BYTES = 100 * 1024
"""The longest status line plus headers accepted: what httpcore allows h11."""
IDLE_EXPIRY_S = 5.0
"""A kept connection unused this long is closed, not reused: httpx's `keepalive_expiry`.
Behind a NAT that forgets idle flows, reusing an old connection waits out the whole timeout."""
WHOLE_BODY_BYTES = 64 * 1024
"""Bodies up to this size are read with the head; longer ones stream as the caller reads."""
FEED_BYTES = 64 * 1024
"""The most given to h11 at once: httpcore's read size, so the head limit bites as in httpx."""
HIGH_WATER_BYTES = 256 * 1024
"""Received bytes held before the socket stops reading, so a slow reader bounds memory."""
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
"""What RFC 9110 forbids in a header value: control characters but horizontal tab."""
_LINE_BREAK = re.compile(rb"[\x00\n\x0b\x0c\r]")
"""What h11, so stock httpx, refuses in a header value it receives; llhttp lets it through when
told to read obs-fold, so opwatch refuses it itself."""
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
"""A header name: RFC 9110's token."""
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class Transport(httpx.AsyncBaseTransport):
    """Up to `max_connections` keep-alive connections per origin, opened as needed.

    `proxy` is an http:// proxy URL (credentials in it become Proxy-Authorization); `clock` is
    the monotonic clock the idle expiry reads, injected by tests.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 8,
        proxy: str | None = None,
        idle_expiry_s: float = IDLE_EXPIRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._proxy = _Proxy(proxy) if proxy else None
        self._idle_expiry_s = idle_expiry_s
        self._clock = clock
        self._pools: dict[tuple[bytes, bytes, int], _Pool] = {}

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
        origin = (url.raw_scheme, url.raw_host, url.port or DEFAULT_PORTS.get(url.scheme, 0))
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self._max_connections)
        return pool

    def _tls(self) -> ssl.SSLContext:
        # Built once: a context loads the whole certificate store, as costly as importing httpx.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    async def _exchange(
        self, request: httpx.Request, pool: "_Pool", timeouts: dict[str, float | None]
    ) -> httpx.Response:
        await request.aread()
        connection = pool.take_idle(self._clock(), self._idle_expiry_s)
        if connection is not None:
            try:
                return await connection.exchange(request, pool, timeouts, self._clock)
            except _ClosedWhileIdle:
                # The server dropped the kept connection just as it was reused; nothing of the
                # request was answered, so a read may go again on a fresh connection.
                if request.method not in IDEMPOTENT:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection without a reply", request=request
                    ) from None
        connection = await self._connect(request, timeouts.get("connect"))
        try:
            return await connection.exchange(request, pool, timeouts, self._clock)
        except _ClosedWhileIdle:
            raise httpx.RemoteProtocolError(
                "the server closed the connection without a reply", request=request
            ) from None

    async def _connect(self, request: httpx.Request, timeout: float | None) -> "_Connection":
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"cannot speak {url.scheme!r}", request=request)
        # The A-label (`xn--fa-hia.de` for `faß.de`) is what the Host header carries; dialling
        # and checking the certificate of any other spelling could send credentials elsewhere.
        host = url.raw_host.decode("ascii")
        port = url.port or DEFAULT_PORTS[url.scheme]
        tls = self._tls() if url.scheme == "https" else None
        loop = asyncio.get_running_loop()
        proxy = self._proxy
        try:
            async with asyncio.timeout(timeout):
                if proxy is None:
                    _, connection = await loop.create_connection(
                        _Connection, host, port, ssl=tls, server_hostname=host if tls else None
                    )
                    return connection
                proxy.check(request)
                _, connection = await loop.create_connection(_Connection, proxy.host, proxy.port)
                if tls is None:
                    connection.absolute_form = True
                    connection.proxy_authorization = proxy.authorization
                    return connection
                try:
                    await connection.tunnel(request, host, port, proxy.authorization)
                    assert connection.transport is not None
                    connection.transport = await loop.start_tls(
                        connection.transport, connection, tls, server_hostname=host
                    )
                except BaseException:
                    connection.close()
                    raise
                return connection
        except TimeoutError:
            raise httpx.ConnectTimeout(
                "the connection was not made in time", request=request
            ) from None
        except OSError as exc:  # refused, unreachable, unknown host, TLS refused (ssl.SSLError)
            raise httpx.ConnectError(str(exc) or exc.__class__.__name__, request=request) from exc


class _Proxy:
    """An http:// proxy: where to dial, and the Proxy-Authorization its URL's credentials make."""

    def __init__(self, url: str) -> None:
        parsed = httpx.URL(url)
        self.scheme = parsed.scheme
        self.host = parsed.raw_host.decode("ascii")
        self.port = parsed.port or DEFAULT_PORTS.get(parsed.scheme, 80)
        self.authorization: bytes | None = None
        if parsed.username or parsed.password:
            pair = f"{parsed.username}:{parsed.password}".encode()
            self.authorization = b"Basic " + base64.b64encode(pair)

    def check(self, request: httpx.Request) -> None:
        if self.scheme != "http":
            raise httpx.UnsupportedProtocol(
                f"opwatch speaks to http:// proxies only, not {self.scheme}://", request=request
            )


class _Pool:
    """The connections to one origin: a limit on how many exist, and the idle ones."""

    def __init__(self, limit: int) -> None:
        # Bounded: a slot returned twice is a bug to see, not a silent extra connection.
        self.slots = asyncio.BoundedSemaphore(limit)
        self.idle: list[_Connection] = []

    def take_idle(self, now: float, expiry_s: float) -> "_Connection | None":
        while self.idle:
            connection = self.idle.pop()
            if connection.usable() and now - connection.idle_since <= expiry_s:
                connection.idle = False
                return connection
            connection.close()
        return None

    def give_back(self, connection: "_Connection | None", now: float) -> None:
        """Return a slot, keeping `connection` for the next request when it is given."""
        if connection is not None:
            self.park(connection, now)
        self.slots.release()

    def park(self, connection: "_Connection", now: float) -> None:
        """Keep `connection` for the next request, its slot still held by the caller."""
        connection.idle = True
        connection.idle_since = now
        self.idle.append(connection)

    def close_idle(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class _ClosedWhileIdle(Exception):
    """A kept connection was found closed before any byte of the reply."""


class _Refused(Exception):
    """A reply llhttp would read but opwatch refuses, raised from a callback to stop the parse."""


class _PastTheEnd(Exception):
    """Raised from a callback when bytes follow the end of the reply, to stop the parse there."""


class _Reply:
    """One reply as llhttp's callbacks (through httptools) build it: the head, the body pieces
    not yet taken, and whether it ended, with what llhttp said of keep-alive at that moment.

    The parser is the connection's, not the reply's: a reply holding the parser that holds its
    callbacks would be a reference cycle per read, freed only by a full garbage collection (a
    10,000-operation wait ran twice as many of those, each 0.2 s, some inside a live frame).
    """

    def __init__(self, connection: "_Connection", head_only: bool = False) -> None:
        self._connection = connection
        self.head_only = head_only  # a reply to HEAD: llhttp would wait for the body it describes
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.framed = False  # a Content-Length or Transfer-Encoding, not the close, ends the body
        self.head_done = False
        self.head_bytes = 0
        self.opening: bytes | None = b""  # the status line and the byte after it, until checked
        self.pieces: list[bytes] = []
        self.size = 0
        self.complete = False
        self.keep_alive = False
        self.past_the_end = False  # bytes came after the reply: never read as the next one

    # httptools' callbacks, called from feed_data

    def on_message_begin(self) -> None:
        if self.complete:
            raise _PastTheEnd
        # After a 1xx interim reply the final one starts afresh.
        self.reason = b""
        self.headers = []
        self.framed = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason  # llhttp may give it in pieces across reads

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer after a chunked body: httpx drops them too
        if _LINE_BREAK.search(value):
            raise _Refused("a header value holds a line break or NUL")
        # llhttp drops the whitespace before a value but keeps what follows it; RFC 9112 §5.1
        # excludes both from the value, and h11 strips both.
        value = value.rstrip(b" \t")
        self.headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            self.framed = True
        elif lowered == b"transfer-encoding":
            self.framed = True
            if value.lower() != b"chunked":
                # llhttp reads a reply whose last coding is not chunked to the close (RFC 9112
                # §6.3: `xchunked` gives the chunk sizes as body) and `gzip, chunked` as chunked
                # (the body comes back still gzipped); h11, so httpx, refuses every coding but
                # chunked, and opwatch does the same.
                raise _Refused("unsupported Transfer-Encoding")

    def on_headers_complete(self) -> None:
        self.status = self._connection.parser.get_status_code()
        if self.status >= 200:  # 1xx interim replies are read past
            self.head_done = True
            if self.head_only:
                # No body follows, whatever the head says of one (RFC 9110 §9.3.2); llhttp
                # would wait for it, so the reply ends here and any byte after it is extra.
                self.complete = True
                self.keep_alive = self._connection.parser.should_keep_alive()

    def on_body(self, data: bytes) -> None:
        if self.complete:  # what llhttp takes for the body of a reply to HEAD
            self.past_the_end = True
            return
        self.pieces.append(data)
        self.size += len(data)

    def on_message_complete(self) -> None:
        if self.head_done and not self.complete:
            self.complete = True
            # Read now: llhttp clears the connection flags once the callback returns.
            self.keep_alive = self._connection.parser.should_keep_alive()


class _Connection(asyncio.Protocol):
    """One socket, the reply being read, and the bytes received but not yet given to llhttp."""

    def __init__(self) -> None:
        self.reply = self._start_reply()
        self.transport: asyncio.Transport | None = None
        self.received: deque[bytes] = deque()
        self.buffered = 0
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None
        self.ended = False  # the peer closed its side (or the socket is gone)
        self.error: Exception | None = None
        self.idle = False
        self.idle_since = 0.0
        self.broken = False
        self.paused = False  # reading stopped until the buffered bytes are taken
        self.reused = False
        self.heard = False  # a byte of the current reply arrived
        self.absolute_form = False  # a plain-http request through a proxy
        self.proxy_authorization: bytes | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.idle:
            # Nothing was asked on this connection: whatever arrives (the rest of a body longer
            # than its Content-Length, say) would be read as the reply to the next request.
            self.broken = True
            self.close()
            return
        self.received.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER_BYTES and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # opwatch's side

    def usable(self) -> bool:
        return not (self.ended or self.broken or self.transport is None) and not (
            self.transport.is_closing()
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _start_reply(self, head_only: bool = False) -> _Reply:
        """A new reply and its parser; the last ones are freed as they are dropped."""
        self.reply = _Reply(self, head_only)
        self.parser = httptools.HttpResponseParser(self.reply)
        # Two leniencies make llhttp read what h11, so stock httpx, reads: a line ended by a
        # bare LF (RFC 9112 §2.2), and obs-fold, which a user agent must read as a space (RFC
        # 9112 §5.2). The second also lets NUL and line breaks through llhttp inside a value,
        # so on_header refuses those itself, as h11 does.
        self.parser.set_dangerous_leniencies(
            lenient_optional_cr_before_lf=True, lenient_headers=True
        )
        return self.reply

    async def exchange(
        self,
        request: httpx.Request,
        pool: _Pool,
        timeouts: dict[str, float | None],
        clock: Callable[[], float],
    ) -> httpx.Response:
        """Send `request` and read the reply: a small body whole, a larger one as it streams.

        Each wait has its own timer: the write timeout while the socket takes no more, the read
        timeout while no byte arrives, so it bounds each silence as httpx's does.
        """
        read_timeout = timeouts.get("read")
        reply = self._start_reply(head_only=request.method == "HEAD")
        writing = True
        try:
            await self._send(request, timeouts.get("write"))
            writing = False
            while not reply.head_done:
                await self._advance(request, read_timeout)
            while not reply.complete and reply.size <= WHOLE_BODY_BYTES:
                await self._advance(request, read_timeout)
        except TimeoutError:
            self.close()
            if writing:
                raise httpx.WriteTimeout(
                    "the request could not be sent in time", request=request
                ) from None
            raise httpx.ReadTimeout("no reply in time", request=request) from None
        except BaseException:
            self.close()
            raise
        extensions = {
            "http_version": b"HTTP/" + self.parser.get_http_version().encode("ascii"),
            "reason_phrase": reply.reason,
        }
        if not reply.complete:
            stream = _Body(self, pool, request, reply, read_timeout, clock)
            return httpx.Response(
                reply.status, headers=reply.headers, stream=stream, extensions=extensions
            )
        keep = self._finish()
        response = httpx.Response(
            reply.status,
            headers=reply.headers,
            stream=httpx.ByteStream(b"".join(reply.pieces)),
            extensions=extensions,
        )
        try:
            response.read()  # decodes gzip, deflate or br as httpx does; a broken one fails here
        except BaseException:
            # The reply was read whole, so the connection serves the next request; the slot
            # is the caller's to return (handle_async_request does, once) as for any failure.
            if keep:
                pool.park(self, clock())
            raise
        pool.give_back(self if keep else None, clock())
        return response

    async def tunnel(
        self, request: httpx.Request, host: str, port: int, authorization: bytes | None
    ) -> None:
        """Ask the proxy for a tunnel to `host`:`port` (CONNECT); llhttp reads its reply."""
        target = f"{host}:{port}".encode("ascii")
        if ":" in host:
            target = f"[{host}]:{port}".encode("ascii")
        headers = [(b"Host", target)]
        if authorization:
            headers.append((b"Proxy-Authorization", authorization))
        reply = self._start_reply()
        self._write(_serialise(h11.Request(method=b"CONNECT", target=target, headers=headers)))
        # Only the head: past a 2xx to CONNECT the bytes are the tunnel's, TLS next.
        while not reply.head_done:
            await self._advance(request, None)
        if not 200 <= reply.status < 300:
            # RFC 9110 has a proxy say 407; tinyproxy 1.11 says 401 to wrong Basic credentials.
            if reply.status in (401, 407):
                raise httpx.ProxyError(
                    f"the proxy refused its credentials ({reply.status})", request=request
                )
            raise httpx.ProxyError(
                f"the proxy refused a tunnel ({reply.status} {reply.reason.decode('latin-1')})",
                request=request,
            )
        self.heard = False

    async def _send(self, request: httpx.Request, timeout: float | None) -> None:
        kept = _REQUESTS.get(request)
        if kept is not None and kept[0] == self.absolute_form:
            data = kept[1]
        else:
            data = self._serialised(request)
            if not request.content:
                _REQUESTS[request] = (self.absolute_form, data)
        if self.reused and not self.usable():
            raise _ClosedWhileIdle
        self._write(data)
        if self.writable is not None:
            await _within(self.writable, timeout)
            if self.error is not None:
                if self.reused:
                    raise _ClosedWhileIdle from self.error
                raise httpx.WriteError(str(self.error), request=request) from self.error

    def _serialised(self, request: httpx.Request) -> bytes:
        """`request` as bytes on the wire, written by h11 once its headers are checked."""
        url = request.url
        headers = request.headers.raw
        if self.absolute_form:
            target = b"%s://%s%s" % (url.raw_scheme, url.netloc, url.raw_path)
            if self.proxy_authorization:
                headers = [*headers, (b"Proxy-Authorization", self.proxy_authorization)]
        else:
            target = url.raw_path
        for _, value in headers:
            if _CONTROL.search(value):
                # h11 refuses only NUL, CR and LF; RFC 9110 allows no control character but
                # tab in a field value, and a pasted token is where one would come from.
                raise httpx.LocalProtocolError(_bad_header(headers), request=request)
        try:
            event = h11.Request(
                method=request.method.encode("ascii"), target=target, headers=headers
            )
            return _serialise(event, request.content)
        except h11.LocalProtocolError:
            # h11's message quotes the offending value, which may be a credential: name the
            # header instead.
            raise httpx.LocalProtocolError(_bad_header(headers), request=request) from None

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        self.heard = False
        self.transport.write(data)

    async def _advance(self, request: httpx.Request, timeout: float | None) -> None:
        """Give llhttp the next bytes of the reply, waiting at most `timeout` seconds for them
        (TimeoutError); at the server's close, end the reply or say why it cannot end."""
        while not self.received:
            if self.ended:
                self._ended(request)
                return
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await _within(self.waiter, timeout)
            finally:
                self.waiter = None
        data = self.received.popleft()
        if len(data) > FEED_BYTES:
            # The head limit is checked between pieces: fed as httpcore reads, it bites where
            # httpx's does.
            data, rest = data[:FEED_BYTES], data[FEED_BYTES:]
            self.received.appendleft(rest)
        self.buffered -= len(data)
        self.heard = True
        if self.paused and self.buffered <= HIGH_WATER_BYTES // 2 and self.transport:
            self.paused = False
            self.transport.resume_reading()
        reply = self.reply
        if reply.opening is not None:
            self._check_opening(reply, data, request)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise httpx.RemoteProtocolError(
                "the reply broke HTTP/1.1: it switched protocols unasked", request=request
            ) from None
        except httptools.HttpParserError as exc:
            if reply.complete:
                # Bytes after the reply (llhttp stopped at them, or refused data after a
                # `Connection: close`): the reply stands, the connection goes.
                reply.past_the_end = True
            else:
                cause = exc.__context__ if isinstance(exc.__context__, _Refused) else exc
                raise httpx.RemoteProtocolError(
                    f"the reply broke HTTP/1.1: {cause}", request=request
                ) from None
        if not reply.head_done:
            reply.head_bytes += len(data)
            if reply.head_bytes > MAX_HEAD_BYTES:
                # llhttp has no limit of its own on a head (Node counts the bytes around it).
                raise httpx.RemoteProtocolError(
                    "the reply broke HTTP/1.1: its head is longer than 100 KiB", request=request
                )

    def _check_opening(self, reply: _Reply, data: bytes, request: httpx.Request) -> None:
        """Refuse whitespace at the start of the line after the status line: RFC 9112 §2.2
        makes no header of it and h11 refuses it, where llhttp, told to read obs-fold, would
        read it as a header. The bytes are kept until that line's first byte has come."""
        assert reply.opening is not None
        opening = reply.opening + data
        end = opening.find(b"\n")
        if end == -1 or end + 1 == len(opening):
            reply.opening = opening
            return
        reply.opening = None
        if opening[end + 1] in b" \t":
            raise httpx.RemoteProtocolError(
                "the reply broke HTTP/1.1: whitespace before its first header", request=request
            )

    def _ended(self, request: httpx.Request) -> None:
        """The peer closed with nothing left to read: the reply's end, or a failure."""
        reply = self.reply
        if self.error is not None:
            if self.reused and not self.heard:
                raise _ClosedWhileIdle from self.error
            raise httpx.ReadError(str(self.error), request=request) from self.error
        if not self.heard:
            if self.reused:
                raise _ClosedWhileIdle
            raise httpx.RemoteProtocolError(
                "the server closed the connection without a reply", request=request
            )
        if reply.head_done and not reply.framed:
            # Neither length nor chunks: the body ends with the connection (RFC 9112 §6.3).
            # httptools cannot pass the close on to llhttp (llhttp_finish), so it ends here.
            reply.complete = True
            reply.keep_alive = False
            return
        raise httpx.RemoteProtocolError(
            "the server closed the connection in the middle of the reply", request=request
        )

    def _finish(self) -> bool:
        """After a whole reply: ready the connection for the next request, or say it cannot be."""
        reply = self.reply
        if (
            reply.complete
            and reply.keep_alive
            and not reply.past_the_end  # bytes past the reply: never read as the next one
            and not self.received
            and self.usable()
        ):
            self.reused = True
            return True
        self.close()
        return False


class _Body(httpx.AsyncByteStream):
    """A long reply's body as it arrives; the connection goes back once it is all read."""

    def __init__(
        self,
        connection: _Connection,
        pool: _Pool,
        request: httpx.Request,
        reply: _Reply,
        read_timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        self._connection = connection
        self._pool: _Pool | None = pool
        self._request = request
        self._reply = reply
        self._timeout = read_timeout
        self._clock = clock
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reply = self._reply
        try:
            while True:
                pieces, reply.pieces = reply.pieces, []
                for piece in pieces:
                    yield piece
                if reply.complete:
                    self._complete = True
                    break
                try:
                    await self._connection._advance(self._request, self._timeout)
                except TimeoutError:
                    raise httpx.ReadTimeout(
                        "the body did not arrive in time", request=self._request
                    ) from None
        finally:
            if self._complete:
                await self.aclose()

    async def aclose(self) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if self._complete and self._connection._finish():
            pool.give_back(self._connection, self._clock())
        else:
            self._connection.close()  # a half-read reply leaves the connection unusable
            pool.give_back(None, self._clock())


_REQUESTS: "weakref.WeakKeyDictionary[httpx.Request, tuple[bool, bytes]]" = (
    weakref.WeakKeyDictionary()
)
"""The bytes of each request object still alive: opwatch's client sends one request object
again on every poll of an operation (opwatch.http), and h11 wrote and checked it the first time."""


def _serialise(event: h11.Request, content: bytes = b"") -> bytes:
    """A request as h11 writes it: the head, and the body the Content-Length announces."""
    writer = h11.Connection(h11.CLIENT)  # one per request: only its writing is used
    data = writer.send(event)
    if content:
        data += writer.send(h11.Data(data=content))
    return data + writer.send(h11.EndOfMessage())


async def _within(future: "asyncio.Future[None]", timeout: float | None) -> None:
    """Await `future`; past `timeout` seconds it fails with TimeoutError instead. One timer per
    wait, and none when the bytes are already there: most replies need one wait or none."""
    if timeout is None:
        await future
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _bad_header(headers: list[tuple[bytes, bytes]]) -> str:
    """Which request header h11 refused, without its value."""
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            return f"the request header name {name.decode('ascii', 'replace')!r} is not a token"
        if b"\r" in value or b"\n" in value:
            return f"the {name.decode('ascii', 'replace')} header contains a line break"
        if any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in value):
            return f"the {name.decode('ascii', 'replace')} header contains a control character"
    return "a request header is not valid HTTP/1.1"


# What a user can do about a failure to connect: the classification a message names.

_UNTRUSTED = frozenset(
    {
        2,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        18,  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        19,  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        20,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        21,  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    }
)
_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID = 9  # X509_V_ERR_CERT_NOT_YET_VALID
_WRONG_HOST = 62  # X509_V_ERR_HOSTNAME_MISMATCH (and 64, IP_ADDRESS_MISMATCH)
_VERSION_REFUSED = (
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE",
    "TLSV1_ALERT_INSUFFICIENT_SECURITY",
)
_CA_HINT = "set ca_bundle in the profile to the CA file that signed it"


def describe(exc: httpx.RequestError) -> str:
    """Why a request got no reply, in words a user can act on (certificate, TLS version,
    refused, unknown host, unreachable, a broken reply), never with a header's value."""
    cause = _root(exc)
    if isinstance(exc, httpx.ProxyError):
        return str(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        code = cause.verify_code
        if code == _EXPIRED:
            return "its TLS certificate has expired"
        if code == _NOT_YET_VALID:
            return "its TLS certificate is not valid yet (or this machine's clock is wrong)"
        if code in (_WRONG_HOST, 64):
            return "its TLS certificate is for another host name than the profile's URL"
        if code in _UNTRUSTED:
            return f"its TLS certificate is not signed by an authority opwatch trusts; {_CA_HINT}"
        return f"its TLS certificate was refused ({cause.verify_message}); {_CA_HINT}"
    if isinstance(cause, ssl.SSLError):
        if any(reason in str(cause) for reason in _VERSION_REFUSED):
            return (
                "it offers no TLS version opwatch accepts (TLS 1.2 or later); "
                "the server's TLS setup needs updating"
            )
        return f"the TLS handshake failed ({cause.reason or cause.__class__.__name__})"
    if isinstance(exc, httpx.ConnectError):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the server running and the port right?)"
        if isinstance(cause, socket.gaierror):
            return "its host name could not be resolved"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "host unreachable"
        if isinstance(cause, ConnectionError):
            return "the connection was cut while it was being made"
        return "connection refused or host unreachable"  # no cause known (a test's mock)
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "broke HTTP/1.1" in text:
            return f"its reply was not valid HTTP/1.1 ({text.split(': ', 1)[-1]})"
        return "the connection was closed before a full reply arrived"
    if isinstance(exc, httpx.ReadError):
        return "the connection was cut while the reply arrived"
    if isinstance(exc, httpx.DecodingError):
        return "its compressed body could not be decompressed"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return str(exc)
    return exc.__class__.__name__


def _root(exc: BaseException) -> OSError | None:
    """The socket or TLS error under `exc`, a TLS one first (httpx's own stack chains
    httpcore's error and the ssl module's under its own; opwatch's chains the OSError)."""
    found: OSError | None = None
    current: BaseException | None = exc
    for _ in range(8):  # a chain is short; a loop in it must not hang the error path
        current = current.__cause__ or current.__context__ if current else None
        if current is None:
            break
        if isinstance(current, ssl.SSLError):
            return current
        if isinstance(current, OSError) and found is None:
            found = current
    return found
