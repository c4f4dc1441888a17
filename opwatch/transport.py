"""opwatch's HTTP/1.1 transport for httpx: a keep-alive pool per origin, with h11 on the wire.

The wire format (request serialisation, status line, headers, Content-Length, chunked and
read-to-close framing, 1xx replies, obs-fold, bare LF) belongs to h11, the sans-IO HTTP/1.1
library under httpx's own stack, so a reply is read here exactly as stock httpx reads it. What
is opwatch's own is what a watcher of thousands of operations needs around it:

- a pool of keep-alive connections per origin, dropped after 5 s idle as httpx drops them, and
  dropped when bytes arrive while one sits idle (they would be read as the next reply);
- deadlines: connect, write, and the read timeout as the longest silence within a reply,
  the same for the head and for every framing of the body, on one timer per reply;
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
from typing import Any, cast

import h11
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


class _Connection(asyncio.Protocol):
    """One socket, its h11 state, and the bytes received but not yet given to h11."""

    def __init__(self) -> None:
        self.wire = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
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

    async def exchange(
        self,
        request: httpx.Request,
        pool: _Pool,
        timeouts: dict[str, float | None],
        clock: Callable[[], float],
    ) -> httpx.Response:
        """Send `request` and read the reply: a small body whole, a larger one as it streams.

        One timer covers the exchange: the write timeout while sending, then the read timeout,
        moved on whenever bytes arrive, so it bounds each silence as httpx's does.
        """
        read_timeout = timeouts.get("read")
        writing = True
        try:
            async with asyncio.timeout(timeouts.get("write")) as deadline:
                await self._send(request)
                writing = False
                if timeouts.get("write") != read_timeout:  # opwatch gives both the same
                    _move(deadline, read_timeout)
                head = await self._head(request, deadline, read_timeout)
                pieces: list[bytes] = []
                size = 0
                while size <= WHOLE_BODY_BYTES:
                    event = await self._next(request, deadline, read_timeout)
                    if type(event) is h11.Data:
                        pieces.append(event.data)
                        size += len(event.data)
                    elif type(event) is h11.EndOfMessage:
                        break
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
        status = head.status_code
        headers = head.headers.raw_items()
        extensions = {"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason}
        if size > WHOLE_BODY_BYTES:
            stream = _Body(self, pool, request, pieces, read_timeout, clock)
            return httpx.Response(status, headers=headers, stream=stream, extensions=extensions)
        keep = self._finish()
        response = httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(b"".join(pieces)),
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
        """Ask the proxy for a tunnel to `host`:`port` (CONNECT); h11 reads the proxy's reply."""
        target = f"{host}:{port}".encode("ascii")
        if ":" in host:
            target = f"[{host}]:{port}".encode("ascii")
        headers = [(b"Host", target)]
        if authorization:
            headers.append((b"Proxy-Authorization", authorization))
        self._write(self.wire.send(h11.Request(method=b"CONNECT", target=target, headers=headers)))
        self._write(self.wire.send(h11.EndOfMessage()))
        head = await self._head(request, None, None)
        if not 200 <= head.status_code < 300:
            # RFC 9110 has a proxy say 407; tinyproxy 1.11 says 401 to wrong Basic credentials.
            if head.status_code in (401, 407):
                raise httpx.ProxyError(
                    f"the proxy refused its credentials ({head.status_code})",
                    request=request,
                )
            raise httpx.ProxyError(
                f"the proxy refused a tunnel ({head.status_code} {head.reason.decode('latin-1')})",
                request=request,
            )
        # Past a 2xx to CONNECT, the bytes are the tunnel's: TLS next, with a fresh HTTP state.
        self.wire = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.heard = False

    async def _send(self, request: httpx.Request) -> None:
        kept = _EVENTS.get(request)
        if kept is not None and kept[0] == self.absolute_form:
            event = kept[1]
        else:
            event = self._event(request)
            if not request.content:
                _EVENTS[request] = (self.absolute_form, event)
        try:
            data = self.wire.send(event)
            data += self.wire.send(h11.Data(data=request.content)) if request.content else b""
            data += self.wire.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            # h11's message quotes the offending value, which may be a credential: name the
            # header instead.
            raise httpx.LocalProtocolError(
                _bad_header(request.headers.raw), request=request
            ) from None
        if self.reused and not self.usable():
            raise _ClosedWhileIdle
        self._write(data)
        if self.writable is not None:
            await self.writable
            if self.error is not None:
                if self.reused:
                    raise _ClosedWhileIdle from self.error
                raise httpx.WriteError(str(self.error), request=request) from self.error

    def _event(self, request: httpx.Request) -> h11.Request:
        """`request` as h11's event, its headers checked."""
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
            return h11.Request(
                method=request.method.encode("ascii"), target=target, headers=headers
            )
        except h11.LocalProtocolError:
            raise httpx.LocalProtocolError(_bad_header(headers), request=request) from None

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        self.heard = False
        self.transport.write(data)

    async def _head(
        self, request: httpx.Request, deadline: asyncio.Timeout | None, timeout: float | None
    ) -> h11.Response:
        while True:  # 1xx interim replies are skipped
            event = await self._next(request, deadline, timeout)
            if type(event) is h11.Response:
                return event
            if type(event) is h11.ConnectionClosed:
                if self.reused and not self.heard:
                    raise _ClosedWhileIdle
                raise httpx.RemoteProtocolError(
                    "the server closed the connection without a reply", request=request
                )

    async def _next(
        self, request: httpx.Request, deadline: asyncio.Timeout | None, timeout: float | None
    ) -> Any:
        """The next h11 event of the reply, reading from the socket as h11 needs."""
        wire = self.wire
        while True:
            try:
                event = wire.next_event()
            except h11.RemoteProtocolError as exc:
                if self.ended and not self.received:  # h11 was told of the close: cut short
                    raise httpx.RemoteProtocolError(
                        f"the server closed the connection in the middle of the reply ({exc})",
                        request=request,
                    ) from None
                raise httpx.RemoteProtocolError(
                    f"the reply broke HTTP/1.1: {exc}", request=request
                ) from None
            if event is not h11.NEED_DATA:
                return event
            if not self.received:
                if self.ended:
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
                    wire.receive_data(b"")
                    continue
                self.waiter = asyncio.get_running_loop().create_future()
                try:
                    await self.waiter
                finally:
                    self.waiter = None
                if self.received and deadline is not None:
                    _move(deadline, timeout)
                continue
            data = self.received.popleft()
            if len(data) > FEED_BYTES:
                # h11 checks its head limit only between pieces: feed it as httpcore reads.
                data, rest = data[:FEED_BYTES], data[FEED_BYTES:]
                self.received.appendleft(rest)
            self.buffered -= len(data)
            self.heard = True
            if self.paused and self.buffered <= HIGH_WATER_BYTES // 2 and self.transport:
                self.paused = False
                self.transport.resume_reading()
            wire.receive_data(data)

    def _finish(self) -> bool:
        """After a whole reply: ready the connection for the next request, or say it cannot be."""
        wire = self.wire
        if (
            wire.our_state is h11.DONE
            and wire.their_state is h11.DONE
            and not self.received
            and not wire.trailing_data[0]  # bytes past the reply: never read as the next one
            and self.usable()
        ):
            wire.start_next_cycle()
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
        first: list[bytes],
        read_timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        self._connection = connection
        self._pool: _Pool | None = pool
        self._request = request
        self._first = first
        self._timeout = read_timeout
        self._clock = clock
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        first, self._first = self._first, []
        for piece in first:
            yield piece
        connection = self._connection
        try:
            while True:
                try:
                    async with asyncio.timeout(self._timeout) as deadline:
                        event = await connection._next(self._request, deadline, self._timeout)
                except TimeoutError:
                    raise httpx.ReadTimeout(
                        "the body did not arrive in time", request=self._request
                    ) from None
                if type(event) is h11.Data:
                    yield bytes(event.data)
                elif type(event) is h11.EndOfMessage:
                    self._complete = True
                    break
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


_EVENTS: "weakref.WeakKeyDictionary[httpx.Request, tuple[bool, h11.Request]]" = (
    weakref.WeakKeyDictionary()
)
"""h11's event for each request object still alive: opwatch's client sends one request object
again on every poll of an operation (opwatch.http), and building and checking the event costs
a fifth of h11's work per request."""


def _move(deadline: asyncio.Timeout, timeout: float | None) -> None:
    deadline.reschedule(None if timeout is None else asyncio.get_running_loop().time() + timeout)


def _bad_header(headers: list[tuple[bytes, bytes]]) -> str:
    """Which request header h11 refused, without its value."""
    for name, value in headers:
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
