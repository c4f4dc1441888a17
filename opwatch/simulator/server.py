"""One loopback HTTP/1.1 server speaking Wesog, Toloka and Traffic Ops, with faults on demand.

Each provider route builds the reply it would send (auth refused, not found, the operation's
body); then a matching fault, if any, reshapes it; then it goes out with a Content-Length in one
send (only a Toloka log streams, chunked). Admin endpoints live under `/_sim/`, a prefix no
provider uses: tests and benchmarks create operations and faults there, and read statistics.
"""

import contextlib
import email.message
import itertools
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opwatch.simulator.faults import HTML_PAGE, Fault, FaultBook, truncated, wrong_shape
from opwatch.simulator.operations import OperationSpec, SimOperation, dumps
from opwatch.simulator.scenario import Scenario

WESOG_KEY = "sim-wesog-key"
TOLOKA_TOKEN = "sim-toloka-token"
TO_USER, TO_PASSWORD, TO_TOKEN = "admin", "sim-password", "sim-to-token"
TO_VERSIONS = ("4.0", "4.1", "5.0")
TOLOKA_MAX_LIMIT = 300
LOG_CHUNK_STEPS = 2000
_JSON = "application/json"
_MAX_LINE, _MAX_HEADERS = 65536, 100
_NO_HEADERS = email.message.Message()


class Simulator:
    """The three provider APIs on one port. Thread-safe; use as a context manager.

    `speed` multiplies the simulated clock (default: the scenario's, else 1). `credentials`
    may replace `wesog_key`, `toloka_token`, `to_password` and `to_token`.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float | None = None,
        to_versions: Iterable[str] = TO_VERSIONS,
        session_ttl_s: float = 6 * 3600,
        credentials: dict[str, str] | None = None,
    ) -> None:
        scenario = scenario or Scenario()
        creds = credentials or {}
        self.wesog_key = creds.get("wesog_key", WESOG_KEY)
        self.toloka_token = creds.get("toloka_token", TOLOKA_TOKEN)
        self.to_user = creds.get("to_user", TO_USER)
        self.to_password = creds.get("to_password", TO_PASSWORD)
        self.to_token = creds.get("to_token", TO_TOKEN)
        self.speed = float(speed or scenario.speed or 1.0)
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        self.to_versions = tuple(to_versions)
        self.session_ttl_s = session_ttl_s
        self.lock = threading.Lock()
        self.operations: dict[tuple[str, str], SimOperation] = {}
        self.faults = FaultBook()
        self.sessions: dict[str, float] = {}  # mojolicious cookie → expiry (monotonic)
        self.access_tokens: dict[str, float] = {}  # access_token → expiry, never refreshed
        self.stats_by_route: Counter[str] = Counter()
        self.stats_by_ref: Counter[str] = Counter()
        self.read_times: defaultdict[str, list[float]] = defaultdict(list)
        self._serial = itertools.count(1)
        self._numbers = {"wesog": itertools.count(1001), "trafficops": itertools.count(1)}
        self._scenario_ops: list[SimOperation] = []
        self._scenario_faults = [Fault.from_dict(dict(f)) for f in scenario.faults]
        self._begun = False
        self._server = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None
        for spec in scenario.operations:
            self.add_operation(spec)
        with self.lock:
            self._scenario_ops = list(self.operations.values())

    # --- lifecycle ---

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "Simulator":
        """Serve in a background thread."""
        self._begin()
        # A short poll interval: stop() waits for the loop to notice, and tests stop often.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="opwatch-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up on every client and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.hang_up()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (KeyboardInterrupt propagates)."""
        self._begin()
        try:
            self._server.serve_forever()
        finally:
            self._server.hang_up()
            self._server.server_close()

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _begin(self) -> None:
        """Start the scenario's clocks: its operations and faults begin with the serving."""
        if self._begun:
            return
        self._begun = True
        mono, wall = time.monotonic(), datetime.now(UTC)
        for operation in self._scenario_ops:
            operation.rebase(mono, wall)
        for fault in self._scenario_faults:
            self.add_fault(fault)

    # --- what it serves ---

    def add_operation(self, spec: OperationSpec | dict[str, Any]) -> str:
        """Create an operation, its clock starting now; return its REF (`profile:id`)."""
        if isinstance(spec, dict):
            spec = OperationSpec.from_dict(spec)
        spec.validate()
        with self.lock:
            if spec.id is not None:
                op_id = str(spec.id) if spec.provider == "toloka" else str(int(spec.id))
                if (spec.provider, op_id) in self.operations:
                    raise ValueError(f"a {spec.provider} operation {op_id} already exists")
            elif spec.provider == "toloka":
                op_id = str(uuid.uuid4())
            else:
                op_id = str(next(self._numbers[spec.provider]))
                while (spec.provider, op_id) in self.operations:  # skip ids given explicitly
                    op_id = str(next(self._numbers[spec.provider]))
            operation = SimOperation(
                spec, op_id, time.monotonic(), datetime.now(UTC), self.speed, next(self._serial)
            )
            self.operations[(spec.provider, op_id)] = operation
        return operation.ref

    def add_fault(self, fault: Fault | dict[str, Any]) -> None:
        """Start misbehaving as `fault` says (`expire_sessions` acts at once)."""
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        if fault.kind == "expire_sessions":
            with self.lock:
                self.sessions.clear()
                self.access_tokens.clear()
            return
        self.faults.add(fault)

    def clear_faults(self) -> None:
        """Switch every fault off."""
        self.faults.clear()

    def refs(self) -> list[str]:
        """Every operation's REF, in creation order."""
        with self.lock:
            return [op.ref for op in self.operations.values()]

    def operation(self, provider: str, op_id: str) -> SimOperation | None:
        """The operation `op_id` of `provider`, if there is one."""
        return self.operations.get((provider, op_id))

    def config_yaml(self) -> str:
        """An opwatch config with one profile per provider, pointing here."""
        return (
            "# Written by the opwatch simulator: one profile per provider, all on one port.\n"
            "default_profile: crowd\n"
            "profiles:\n"
            f"  media:\n    provider: wesog\n    url: {self.url}\n    api_key: {self.wesog_key}\n"
            f"  crowd:\n    provider: toloka\n    url: {self.url}\n    token: {self.toloka_token}\n"
            f"  cdn:\n    provider: trafficops\n    url: {self.url}\n"
            f"    username: {self.to_user}\n    password: {self.to_password}\n"
        )

    def stats(self, reads: bool = False) -> dict[str, Any]:
        """Requests served: in total, per route and per REF; with `reads`, every read of an
        operation as `{"ref", "t"}` (t: time.monotonic), oldest first."""
        with self.lock:
            result: dict[str, Any] = {
                "requests": sum(self.stats_by_route.values()),
                "by_route": dict(self.stats_by_route),
                "by_ref": dict(self.stats_by_ref),
            }
            if reads:
                every = [(t, ref) for ref, times in self.read_times.items() for t in times]
                result["reads"] = [{"ref": ref, "t": t} for t, ref in sorted(every)]
        return result

    def reads_of(self, ref: str) -> list[float]:
        """When (time.monotonic) each read of `ref` arrived."""
        with self.lock:
            return list(self.read_times.get(ref, ()))

    def reset_stats(self) -> None:
        """Start counting from zero."""
        with self.lock:
            self.stats_by_route.clear()
            self.stats_by_ref.clear()
            self.read_times.clear()

    # --- request bookkeeping, called by the handler ---

    def count(self, route: str, ref: str | None) -> None:
        now = time.monotonic()
        with self.lock:
            self.stats_by_route[route] += 1
            if ref is not None:
                self.stats_by_ref[ref] += 1
                self.read_times[ref].append(now)

    def take_fault(self, route: str, ref: str | None) -> Fault | None:
        return self.faults.take(route, ref)

    def new_session(self) -> tuple[str, str]:
        """A fresh (mojolicious, access_token) pair, both good for the session TTL."""
        cookie, token = secrets.token_hex(16), secrets.token_hex(24)
        expiry = time.monotonic() + self.session_ttl_s / self.speed
        with self.lock:
            self.sessions[cookie] = expiry
            self.access_tokens[token] = expiry
        return cookie, token

    def session_valid(self, cookie: str | None, token: str | None = None) -> bool:
        """Whether the request carries a live session: the `mojolicious` cookie (each use
        refreshes it, as Traffic Ops does) or the `access_token` (cookie or Bearer)."""
        now = time.monotonic()
        with self.lock:
            if cookie is not None:
                expiry = self.sessions.get(cookie)
                if expiry is not None and expiry >= now:
                    self.sessions[cookie] = now + self.session_ttl_s / self.speed
                    return True
                self.sessions.pop(cookie, None)
            if token is not None:
                expiry = self.access_tokens.get(token)
                if expiry is not None and expiry >= now:
                    return True
                self.access_tokens.pop(token, None)
        return False

    def cookie_max_age(self) -> int:
        """The session TTL in wall seconds, for Set-Cookie. One second more than the TTL:
        cookie jars round expiry down to whole seconds, and the server's clock should decide
        when a session ends (a 401), not the client's jar."""
        return math.ceil(self.session_ttl_s / self.speed) + 1


def describe(sim: Simulator) -> str:
    """Every REF the simulator serves, one per line."""
    return "".join(f"{ref}\n" for ref in sim.refs())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # thousands of clients may connect at once in a benchmark

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

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


@dataclass
class _Reply:
    """What a route answers, before any fault reshapes it."""

    status: int
    payload: Any = None
    body: bytes | None = None
    content_type: str = _JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Callable[[bool, bool], Iterator[bytes]] | None = None
    """A chunked body: stream(half, close) yields the pieces (all steps, or half of them)."""

    def data(self) -> bytes:
        if self.body is None:
            self.body = b"".join(self.stream(False, True)) if self.stream else dumps(self.payload)
        return self.body


_WESOG_OP = re.compile(r"^/ops/([^/]+)/?$")
_TOLOKA_OP = re.compile(r"^/api/v1/operations/([^/]+)/?$")
_TOLOKA_LOG = re.compile(r"^/api/v1/operations/([^/]+)/log/?$")
_TO = re.compile(r"^/api/(\d+\.\d+)/(.+?)/?$")
_TO_STATUS = re.compile(r"^async_status/([^/]+)$")
# Routes that start a Traffic Ops job: (method, path) → (kind, the alert's opening words).
_TO_STARTERS = {
    ("POST", "acme_autorenew"): ("acme_renew", "Beginning async ACME renewal of certificates."),
    ("POST", "deliveryservices/sslkeys/generate/acme"): (
        "acme_renew",
        "Beginning async call to generate ACME certificates.",
    ),
    ("PUT", "cdns/dnsseckeys/refresh"): (
        "dnssec_refresh",
        "Starting DNSSEC key refresh in the background.",
    ),
}
_TOLOKA_CODES = {
    400: "VALIDATION_ERROR",
    401: "NOT_AUTHORIZED",
    403: "ACCESS_DENIED",
    404: "DOES_NOT_EXIST",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "REMOTE_SERVICE_UNAVAILABLE",
}


def _handler_for(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        simulator = sim

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "opwatch-simulator"
    sys_version = ""
    # Headers and body in one send, and no Nagle: otherwise keep-alive replies wait ~40 ms for
    # the client's delayed ACK, and a benchmark of thousands of requests crawls.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is closed after five minutes
    simulator: Simulator
    server: _Server
    fields: dict[str, str]
    raw_requestline: bytes

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark makes thousands of requests a second."""

    def parse_request(self) -> bool:
        """The request line and headers, read without the email parser the standard handler
        uses (most of its CPU per request). Header names land lower-cased in `fields`."""
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(400, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        fields: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(431, "Header line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if not colon:
                self.send_error(400, "Bad header line")
                return False
            key, value = name.strip().lower(), value.strip()
            if key in fields:  # repeated: joined as RFC 9110 says (cookies with ';')
                value = fields[key] + ("; " if key == "cookie" else ", ") + value
            fields[key] = value
        else:
            self.send_error(431, "Too many headers")
            return False
        self.fields = fields
        self.headers = _NO_HEADERS  # the standard handler's parsed headers: not kept
        connection = fields.get("connection", "").lower()
        if self.request_version == "HTTP/1.1":
            self.close_connection = connection == "close"
        else:
            self.close_connection = connection != "keep-alive"
        if fields.get("expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    # --- dispatch ---

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path = split.path
        try:
            length = int(self.fields.get("content-length") or 0)
        except ValueError:
            self.close_connection = True
            self._send(_Reply(400, {"detail": "Bad Content-Length"}))
            return
        body = self.rfile.read(length) if length > 0 else b""
        try:
            if path.startswith("/_sim/"):
                self._admin(method, path, split.query, body)
            elif method == "GET" and (match := _WESOG_OP.match(path)):
                self._wesog(match.group(1))
            elif method == "GET" and path in ("/ops", "/ops/"):
                self._wesog_list()
            elif method == "GET" and (match := _TOLOKA_LOG.match(path)):
                self._toloka_log(match.group(1))
            elif method == "GET" and (match := _TOLOKA_OP.match(path)):
                self._toloka(match.group(1))
            elif method == "GET" and path in ("/api/v1/operations", "/api/v1/operations/"):
                self._toloka_list(parse_qs(split.query))
            elif match := _TO.match(path):
                self._trafficops(method, match.group(1), match.group(2), body)
            elif path.startswith("/api/v1/"):
                self._send(_Reply(404, _toloka_error(404, "Resource not found")))
            else:
                self._send(_Reply(404, {"detail": "Not Found"}))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- replies ---

    def _send(self, reply: _Reply) -> None:
        """Send a whole reply, headers and body in one write, with its Content-Length."""
        if reply.stream is not None and reply.body is None:
            self._send_stream(reply, half=False, close=True)
            return
        data = reply.data()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, reply: _Reply, *, half: bool, close: bool, drop: bool = False) -> None:
        """A chunked reply generated as it goes; `drop` hangs up before the last chunk."""
        assert reply.stream is not None
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        for piece in reply.stream(half, close):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        if drop:
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")

    def _finish(
        self,
        route: str,
        ref: str | None,
        reply: _Reply,
        error: Callable[[int, str], Any],
        *,
        poll: bool = True,
    ) -> None:
        """Count the request (as a read of `ref` when it is a `poll`), let a matching fault
        reshape the reply, and send it."""
        sim = self.simulator
        sim.count(route, ref if poll else None)
        self._deliver(sim.take_fault(route, ref), reply, error)

    def _deliver(
        self, fault: Fault | None, reply: _Reply, error: Callable[[int, str], Any]
    ) -> None:
        """Send `reply`, or what `fault` makes of it; `error` builds the provider's error body."""
        if fault is None:
            self._send(reply)
            return
        kind = fault.kind
        retry = [("Retry-After", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
        if kind == "slow":
            time.sleep(fault.delay_s)
            self._send(reply)
        elif kind == "5xx":
            self._send(_Reply(fault.status, error(fault.status, "Service Unavailable"), None,
                              headers=retry))  # fmt: skip
        elif kind == "429":
            self._send(_Reply(429, error(429, "Too Many Requests"), None,
                              headers=retry or [("Retry-After", "1")]))  # fmt: skip
        elif kind == "login_fail":
            self._send(_Reply(401, error(401, "Invalid username or password.")))
        elif kind == "html":
            self._send(_Reply(502, body=HTML_PAGE, content_type="text/html"))
        elif kind == "wrong_shape":
            payload = json.loads(reply.data()) if reply.content_type == _JSON else {}
            self._send(_Reply(200, wrong_shape(payload)))
        elif reply.stream is not None:  # truncated or dropped, mid-stream
            self._send_stream(reply, half=True, close=False, drop=kind == "drop")
        elif kind == "truncated":
            self._send(_Reply(200, body=truncated(reply.data()), headers=reply.headers))
        elif kind == "drop":
            # Promise the whole body, send half, hang up: the client sees a short read.
            data = reply.data()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data) + 64))
            self.end_headers()
            self.wfile.write(truncated(data))
            self.wfile.flush()
            self.close_connection = True

    # --- Wesog ---

    def _wesog(self, raw_id: str) -> None:
        sim = self.simulator
        numeric = raw_id.isascii() and raw_id.isdigit()
        operation = sim.operation("wesog", str(int(raw_id))) if numeric else None
        ref = operation.ref if operation else None
        if self.fields.get("api-key") != sim.wesog_key:
            reply = _Reply(401, {"detail": "Invalid or missing API key"})
        elif not numeric:
            reply = _Reply(422, _fastapi_422(raw_id))
        elif operation is None:
            reply = _Reply(404, {"detail": "Operation not found"})
        else:
            reply = _Reply(200, operation.wesog_body())
        self._finish("wesog", ref, reply, _wesog_error)

    def _wesog_list(self) -> None:
        sim = self.simulator
        if self.fields.get("api-key") != sim.wesog_key:
            reply = _Reply(401, {"detail": "Invalid or missing API key"})
        else:
            with sim.lock:
                ops = [op for op in sim.operations.values() if op.spec.provider == "wesog"]
            reply = _Reply(200, [op.wesog_body() for op in ops])
        self._finish("wesog_list", None, reply, _wesog_error)

    # --- Toloka ---

    def _toloka_refusal(self) -> _Reply | None:
        """401 unless the request carries the simulator's OAuth token or any API key."""
        header = self.fields.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        # The official client sends ApiKey for keys shaped like one; accept any such key.
        api_key = scheme == "ApiKey" and token.count(".") == 2 and token.index(".") in (22, 23, 24)
        if (scheme == "OAuth" and token == self.simulator.toloka_token) or api_key:
            return None
        return _Reply(401, _toloka_error(401, "Authorization required: a valid OAuth token"))

    def _toloka(self, op_id: str) -> None:
        operation = self.simulator.operation("toloka", op_id)
        ref = operation.ref if operation else None
        reply = self._toloka_refusal()
        if reply is None:
            if operation is None:
                reply = _Reply(404, _toloka_error(404, f"Operation {op_id} not found"))
            else:
                reply = _Reply(200, operation.toloka_body())
        self._finish("toloka", ref, reply, _toloka_error)

    def _toloka_log(self, op_id: str) -> None:
        operation = self.simulator.operation("toloka", op_id)
        reply = self._toloka_refusal()
        if reply is None:
            if operation is None:
                reply = _Reply(404, _toloka_error(404, f"Operation {op_id} not found"))
            elif operation.log_gone():
                # The log is kept for one month; after that it is gone like an unknown id.
                reply = _Reply(404, _toloka_error(404, f"Operation log {op_id} not found"))
            else:
                reply = _Reply(200, stream=_log_stream(operation))
        # Reading a log is not a poll of the operation: it counts by route, not by REF.
        ref = operation.ref if operation else None
        self._finish("toloka_log", ref, reply, _toloka_error, poll=False)

    def _toloka_list(self, query: dict[str, list[str]]) -> None:
        sim = self.simulator
        reply = self._toloka_refusal() or _toloka_list_reply(sim, query)
        self._finish("toloka_list", None, reply, _toloka_error)

    # --- Traffic Ops ---

    def _trafficops(self, method: str, version: str, rest: str, body: bytes) -> None:
        sim = self.simulator
        login = method == "POST" and rest in ("user/login", "user/login/token")
        route = "login" if login else "trafficops"
        status_match = _TO_STATUS.match(rest) if method == "GET" else None
        raw_id = status_match.group(1) if status_match else None
        numeric = raw_id is not None and raw_id.isascii() and raw_id.isdigit()
        operation = sim.operation("trafficops", str(int(raw_id))) if raw_id and numeric else None
        ref = operation.ref if operation else None
        if version not in sim.to_versions:
            reply = _Reply(501, _to_alert(f"API version {version} not implemented"))
        elif login:
            reply = self._to_login(rest, body)
        elif not self._to_authorized():
            reply = _Reply(401, _to_alert("unauthorized, please log in."))
        elif (method, rest) in _TO_STARTERS:
            reply = self._to_start_job(*_TO_STARTERS[(method, rest)])
        elif raw_id is None:
            reply = _Reply(404, _to_alert("Not Found"))
        elif not numeric:
            reply = _Reply(400, _to_alert(f"id must be an integer, not '{raw_id[:40]}'"))
        elif operation is None:  # id 0, "already running", reads as 404 too
            reply = _Reply(404, _to_alert("Not Found"))
        else:
            reply = _Reply(200, operation.trafficops_body())
            reply.headers += self._refreshed_cookie()
        self._finish(route, ref, reply, lambda status, text: _to_alert(text))

    def _session_credentials(self) -> tuple[str | None, str | None]:
        """The mojolicious cookie and the access token (cookie or Bearer) of the request."""
        cookie = token = None
        for part in (self.fields.get("cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "mojolicious":
                cookie = value
            elif name == "access_token":
                token = value
        bearer = self.fields.get("authorization") or ""
        if bearer.startswith("Bearer "):
            token = bearer[7:].strip()
        return cookie, token

    def _to_authorized(self) -> bool:
        return self.simulator.session_valid(*self._session_credentials())

    def _refreshed_cookie(self) -> list[tuple[str, str]]:
        """Each authenticated request renews the mojolicious cookie, its Max-Age counting
        again; clients that keep cookies keep the session as long as they use it."""
        cookie, _ = self._session_credentials()
        if cookie is None or cookie not in self.simulator.sessions:
            return []
        age = self.simulator.cookie_max_age()
        return [("Set-Cookie", f"mojolicious={cookie}; Path=/; HttpOnly; Max-Age={age}")]

    def _to_login(self, rest: str, body: bytes) -> _Reply:
        sim = self.simulator
        try:
            given = json.loads(body or b"{}")
        except ValueError:
            return _Reply(400, _to_alert("invalid request body: not JSON"))
        if not isinstance(given, dict):
            return _Reply(400, _to_alert("invalid request body: not an object"))
        if rest == "user/login":
            ok = (given.get("u"), given.get("p")) == (sim.to_user, sim.to_password)
        else:
            ok = given.get("t") == sim.to_token
        if not ok:
            return _Reply(401, _to_alert("Invalid username or password."))
        cookie, token = sim.new_session()
        age = sim.cookie_max_age()
        return _Reply(
            200,
            {"alerts": [{"text": "Successfully logged in.", "level": "success"}]},
            headers=[
                ("Set-Cookie", f"mojolicious={cookie}; Path=/; HttpOnly; Max-Age={age}"),
                ("Set-Cookie", f"access_token={token}; Path=/; HttpOnly; Max-Age={age}"),
            ],
        )

    def _to_start_job(self, kind: str, opening: str) -> _Reply:
        ref = self.simulator.add_operation(OperationSpec(provider="trafficops", kind=kind))
        location = f"/api/4.0/async_status/{ref.partition(':')[2]}"  # always 4.0
        text = f"{opening} Status updates can be found here: {location}"
        return _Reply(
            202, {"alerts": [{"text": text, "level": "success"}]}, headers=[("Location", location)]
        )

    # --- admin ---

    def _admin(self, method: str, path: str, query: str, body: bytes) -> None:
        sim = self.simulator
        path = path.rstrip("/")
        try:
            given = json.loads(body) if body else {}
            if (method, path) == ("POST", "/_sim/operations"):
                ref = sim.add_operation(_mapping(given))
                profile, _, op_id = ref.partition(":")
                self._send(_Reply(201, {"ref": ref, "profile": profile, "id": op_id}))
            elif (method, path) == ("GET", "/_sim/operations"):
                with sim.lock:
                    ops = list(sim.operations.values())
                self._send(_Reply(200, [op.summary() for op in ops]))
            elif (method, path) == ("POST", "/_sim/faults"):
                sim.add_fault(_mapping(given))
                self._send(_Reply(201, {"ok": True}))
            elif (method, path) == ("GET", "/_sim/faults"):
                self._send(_Reply(200, [f.describe() for f in sim.faults.active()]))
            elif (method, path) == ("DELETE", "/_sim/faults"):
                sim.clear_faults()
                self._send(_Reply(200, {"ok": True}))
            elif (method, path) == ("GET", "/_sim/stats"):
                reads = parse_qs(query).get("reads", ["0"])[0] not in ("0", "false", "")
                self._send(_Reply(200, sim.stats(reads=reads)))
            elif (method, path) == ("POST", "/_sim/stats/reset"):
                sim.reset_stats()
                self._send(_Reply(200, {"ok": True}))
            elif (method, path) == ("GET", "/_sim/config"):
                config = sim.config_yaml().encode()
                self._send(_Reply(200, body=config, content_type="application/yaml"))
            else:
                self._send(_Reply(404, {"error": f"no admin endpoint {method} {path}"}))
        except (ValueError, TypeError) as exc:
            self._send(_Reply(400, {"error": str(exc)}))


def _mapping(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ValueError("the body must be a JSON object")
    return given


def _log_stream(operation: SimOperation) -> Callable[[bool, bool], Iterator[bytes]]:
    """The log as it stands now, streamed; `half` sends half the steps (a cut-short body)."""
    size = operation.toloka_log_size()

    def stream(half: bool, close: bool) -> Iterator[bytes]:
        steps = size // 2 if half else size
        return operation.toloka_log_chunks(steps, chunk_steps=LOG_CHUNK_STEPS, close=close)

    return stream


def _toloka_list_reply(sim: Simulator, query: dict[str, list[str]]) -> _Reply:
    """`GET /api/v1/operations`: filtered, sorted, `limit` at a time, `has_more` after."""
    first = {key: values[0] for key, values in query.items() if values}
    try:
        limit = int(first.get("limit", 50))
    except ValueError:
        limit = -1
    if not 1 <= limit <= TOLOKA_MAX_LIMIT:
        return _Reply(400, _toloka_validation("limit", limit))
    filters: list[tuple[str, str, Any]] = []
    for key, value in first.items():
        name, _, op = key.rpartition("_")
        if key in ("type", "status"):
            filters.append((key, "eq", value))
        elif name in ("id", "submitted", "started", "finished") and op in (
            "gt",
            "gte",
            "lt",
            "lte",
        ):
            if name == "id":
                filters.append((name, op, value))
                continue
            moment = _parse_time(value)
            if moment is None:
                return _Reply(400, _toloka_validation(key, value))
            filters.append((name, op, moment))
    sort = first.get("sort", "id")
    sort_key = sort.lstrip("-")
    if sort_key not in ("id", "submitted", "finished"):
        return _Reply(400, _toloka_validation("sort", sort))
    with sim.lock:
        ops = [op for op in sim.operations.values() if op.spec.provider == "toloka"]
    bodies = [op.toloka_body() for op in ops]
    selected = [b for b in bodies if all(_keep(b, *f) for f in filters)]
    selected.sort(key=lambda b: b.get(sort_key) or "", reverse=sort.startswith("-"))
    return _Reply(200, {"items": selected[:limit], "has_more": len(selected) > limit})


def _keep(body: dict[str, Any], name: str, op: str, value: Any) -> bool:
    seen = body.get(name)
    if seen is None:
        return False
    if op == "eq":
        return bool(seen == value)
    if name != "id":
        seen = _parse_time(seen)
        if seen is None:
            return False
    if op == "gt":
        return bool(seen > value)
    if op == "gte":
        return bool(seen >= value)
    if op == "lt":
        return bool(seen < value)
    return bool(seen <= value)


def _parse_time(text: str) -> datetime | None:
    """A Toloka time filter: ISO 8601, UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _toloka_error(status: int, message: str) -> dict[str, Any]:
    code = _TOLOKA_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    return {"request_id": str(uuid.uuid4()), "code": code, "message": message}


def _toloka_validation(parameter: str, value: Any) -> dict[str, Any]:
    error = _toloka_error(400, "Validation failed")
    problem = {"code": "VALUE_INVALID", "message": f"Invalid value {value!r}"}
    if parameter == "limit":
        problem = {
            "code": "VALUE_OUT_OF_RANGE",
            "message": f"Value must be from 1 to {TOLOKA_MAX_LIMIT}",
        }
    error["payload"] = {parameter: problem}
    return error


def _wesog_error(status: int, text: str) -> dict[str, Any]:
    return {"detail": text}


def _to_alert(text: str) -> dict[str, Any]:
    return {"alerts": [{"text": text, "level": "error"}]}


def _fastapi_422(raw_id: str) -> dict[str, Any]:
    return {
        "detail": [
            {
                "loc": ["path", "op_id"],
                "msg": "value is not a valid integer",
                "type": "type_error.integer",
                "input": raw_id,
            }
        ]
    }
