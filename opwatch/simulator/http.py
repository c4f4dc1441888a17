"""The simulator's HTTP/1.1 server: requests parsed and replies framed by h11, a thread per
connection.

h11 (the sans-IO HTTP/1.1 implementation under httpx's own stack) reads the request line,
headers (bare-LF line endings and obs-fold included, as RFC 9112 allows) and Content-Length or
chunked bodies, and refuses what is malformed with the status it suggests (400, or 431 for a
head over MAX_HEAD bytes): the connection then gets that status and is closed. This module owns
only the socket around it: keep-alive, TCP_NODELAY, one send per reply, and a reply cut short
on purpose (a fault) by sending part of the body and hanging up.
"""

import contextlib
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import h11

MAX_HEAD = 64 * 1024
"""The largest request line plus headers accepted; beyond it, 431. The old hand-written
parser's limit per line, now for the whole head (h11's default is 16 KiB)."""
MAX_BODY = 1024 * 1024
"""The largest request body accepted (the admin API's are a few hundred bytes); beyond it, 413."""
_RECV = 64 * 1024
_FLUSH_AT = 64 * 1024
"""A streamed reply is sent once this much of it is framed: few sends, bounded memory."""
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})
"""What the simulated APIs use; others (HEAD too) get a body-less 501."""


@dataclass(frozen=True)
class Request:
    """One request as the routes see it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Lower-cased names; a repeated header is joined as RFC 9110 says (`Cookie` with `; `)."""
    body: bytes

    def header(self, name: str) -> str:
        """The header `name` (lower case), or an empty string."""
        return self.headers.get(name, "")


@dataclass(frozen=True)
class WireReply:
    """What goes on the wire: a whole body with its Content-Length, or a chunked stream."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    stream: Iterable[bytes] | None = None
    """Pieces of a chunked body, generated as they are sent."""
    length: int | None = None
    """A Content-Length to promise other than len(body): more, for a reply cut short."""
    hang_up: bool = False
    """Close the connection after what was sent, without ending the message (a fault)."""


App = Callable[[Request], WireReply]


class HTTPServer(socketserver.ThreadingTCPServer):
    """A threaded TCP server handing each connection's requests to `app`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # thousands of clients may connect at once in a benchmark

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is normal here (timeouts, Ctrl-C): no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def hang_up(self) -> None:
        """Close every keep-alive connection, so no client keeps talking to a stopped server."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Connection(socketserver.BaseRequestHandler):
    """One client connection: requests in turn (keep-alive) until either side closes."""

    server: HTTPServer
    request: socket.socket

    def setup(self) -> None:
        # Without TCP_NODELAY a reply written in two sends waited 40 ms for the client's
        # delayed ACK (Nagle); replies go out in one send, and this keeps streams prompt too.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.request)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.request)

    def handle(self) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        while True:
            try:
                request = self._receive(conn)
            except h11.RemoteProtocolError as exc:
                self._refuse(conn, exc.error_status_hint, str(exc))
                return
            if request is None:
                return
            if request.method not in METHODS:
                reply = WireReply(501, content_type="text/plain")
            else:
                reply = self.server.app(request)
            # After a reply h11 is DONE, or MUST_CLOSE for HTTP/1.0 and `Connection: close`.
            if not self._send(conn, reply) or conn.our_state is not h11.DONE:
                return
            conn.start_next_cycle()

    def _receive(self, conn: h11.Connection) -> Request | None:
        """The next whole request, or None when the client closed the connection."""
        head: h11.Request | None = None
        body: list[bytes] = []
        size = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if conn.they_are_waiting_for_100_continue:
                    go_on = h11.InformationalResponse(
                        status_code=100, headers=[], reason=b"Continue"
                    )
                    self.request.sendall(conn.send(go_on))
                conn.receive_data(self.request.recv(_RECV))
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
                size += len(event.data)
                if size > MAX_BODY:
                    raise h11.RemoteProtocolError("request body too large", 413)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None  # h11 yields the head first
                return _request(head, b"".join(body))
            else:  # ConnectionClosed (or PAUSED, which cannot come before EndOfMessage)
                return None

    def _send(self, conn: h11.Connection, reply: WireReply) -> bool:
        """Frame and send `reply`; False when the connection must close after it."""
        headers = [("Content-Type", reply.content_type), *reply.headers]
        if reply.stream is None:
            length = len(reply.body) if reply.length is None else reply.length
            headers.append(("Content-Length", str(length)))
        else:
            headers.append(("Transfer-Encoding", "chunked"))
        out = bytearray(conn.send(_response(reply.status, headers)))
        pieces = (reply.body,) if reply.stream is None else reply.stream
        for piece in pieces:
            if piece:
                out += conn.send(h11.Data(data=piece))
            if len(out) >= _FLUSH_AT:
                self.request.sendall(out)
                out.clear()
        if reply.hang_up:
            # A deliberate fault: what was promised never comes; h11 is left mid-message.
            self.request.sendall(out)
            return False
        out += conn.send(h11.EndOfMessage())
        self.request.sendall(out)  # a whole small reply is one send
        return True

    def _refuse(self, conn: h11.Connection, status: int, reason: str) -> None:
        """Answer a request h11 could not parse with `status`, then close."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = f"{status} {HTTPStatus(status).phrase}: {reason}\n".encode()
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                   ("Connection", "close")]  # fmt: skip
        with contextlib.suppress(OSError, h11.LocalProtocolError):
            out = conn.send(_response(status, headers)) + conn.send(h11.Data(data=body))
            self.request.sendall(out + conn.send(h11.EndOfMessage()))


def _response(status: int, headers: list[tuple[str, str]]) -> h11.Response:
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b""
    return h11.Response(status_code=status, headers=headers, reason=reason)


def _request(head: h11.Request, body: bytes) -> Request:
    headers: dict[str, str] = {}
    for raw_name, raw_value in head.headers:
        name, value = raw_name.decode("ascii"), raw_value.decode("iso-8859-1")
        if name in headers:
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    split = urlsplit(head.target.decode("iso-8859-1"))
    return Request(head.method.decode("ascii"), split.path, split.query, headers, body)
