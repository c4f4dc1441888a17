"""One loopback HTTP/1.1 server speaking Wesog, Toloka and Traffic Ops, with faults on demand.

Admin endpoints live under `/_sim/`, a prefix no provider uses: tests and benchmarks create
operations and faults there, and read request statistics.
"""

import itertools
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opwatch.simulator.operations import OperationSpec, SimOperation, dumps
from opwatch.simulator.scenario import Scenario

WESOG_KEY = "sim-wesog-key"
TOLOKA_TOKEN = "sim-toloka-token"
TO_USER, TO_PASSWORD, TO_TOKEN = "admin", "sim-password", "sim-to-token"
TO_VERSIONS = ("4.0", "4.1", "5.0")
FAULT_KINDS = (
    "5xx", "429", "slow", "drop", "html", "truncated", "wrong_shape", "expire_sessions",
    "login_fail",
)  # fmt: skip
ROUTES = ("wesog", "toloka", "toloka_log", "toloka_list", "trafficops", "login")
LOG_CHUNK_STEPS = 2000


@dataclass
class Fault:
    """A misbehaviour applied to matching requests, for `count` requests or `duration_s`."""

    kind: str
    ref: str | None = None
    route: str | None = None
    count: int | None = None
    duration_s: float | None = None
    status: int = 503
    retry_after: float | None = None
    delay_s: float = 2.0
    until: float | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fault":
        known = {"kind", "ref", "route", "count", "duration_s", "status", "retry_after", "delay_s"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault key(s): {', '.join(sorted(map(str, unknown)))}")
        fault = cls(**data)
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        if fault.route is not None and fault.route not in ROUTES:
            raise ValueError(f"fault route must be one of {', '.join(ROUTES)}")
        if fault.count is None and fault.duration_s is None and fault.kind != "expire_sessions":
            fault.count = 1
        if fault.duration_s is not None:
            fault.until = time.monotonic() + fault.duration_s
        return fault

    def live(self) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        return self.until is None or time.monotonic() < self.until

    def matches(self, route: str, ref: str | None) -> bool:
        if self.ref is not None and self.ref != ref:
            return False
        return self.route is None or self.route == route


class Simulator:
    """The three provider APIs on one port. Thread-safe; use as a context manager."""

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
        self.to_password = creds.get("to_password", TO_PASSWORD)
        self.to_token = creds.get("to_token", TO_TOKEN)
        self.speed = speed or scenario.speed or 1.0
        self.to_versions = tuple(to_versions)
        self.session_ttl_s = session_ttl_s
        self.lock = threading.Lock()
        self.operations: dict[tuple[str, str], SimOperation] = {}
        self.faults: list[Fault] = []
        self.sessions: dict[str, float] = {}  # cookie value → expiry (monotonic)
        self.stats_by_route: Counter[str] = Counter()
        self.stats_by_ref: Counter[str] = Counter()
        self.read_times: defaultdict[str, list[float]] = defaultdict(list)
        self._serial = itertools.count(1)
        self._numbers = {"wesog": itertools.count(1001), "trafficops": itertools.count(1)}
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        for spec in scenario.operations:
            self.add_operation(spec)
        for fault in scenario.faults:
            self.add_fault(fault)

    # --- lifecycle ---

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "Simulator":
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what it serves ---

    def add_operation(self, spec: OperationSpec | dict[str, Any]) -> str:
        """Create an operation; return its REF (`profile:id`)."""
        if isinstance(spec, dict):
            spec = OperationSpec.from_dict(spec)
        spec.validate()
        with self.lock:
            if spec.id is not None:
                op_id = str(spec.id)
            elif spec.provider == "toloka":
                op_id = str(uuid.uuid4())
            else:
                op_id = str(next(self._numbers[spec.provider]))
            operation = SimOperation(
                spec, op_id, time.monotonic(), datetime.now(UTC), self.speed, next(self._serial)
            )
            self.operations[(spec.provider, op_id)] = operation
        return operation.ref

    def add_fault(self, fault: Fault | dict[str, Any]) -> None:
        """Start misbehaving as `fault` says."""
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        with self.lock:
            if fault.kind == "expire_sessions":
                self.sessions.clear()
                return
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def refs(self) -> list[str]:
        """Every operation's REF, in creation order."""
        with self.lock:
            return [op.ref for op in self.operations.values()]

    def config_yaml(self) -> str:
        """An opwatch config with one profile per provider, pointing here."""
        return (
            "# Written by opwatch simulate: one profile per provider of the simulator.\n"
            "default_profile: crowd\n"
            "profiles:\n"
            f"  media:\n    provider: wesog\n    url: {self.url}\n    api_key: {self.wesog_key}\n"
            f"  crowd:\n    provider: toloka\n    url: {self.url}\n    token: {self.toloka_token}\n"
            f"  cdn:\n    provider: trafficops\n    url: {self.url}\n"
            f"    username: {TO_USER}\n    password: {self.to_password}\n"
        )

    def stats(self) -> dict[str, Any]:
        """Requests served: in total, per route and per REF."""
        with self.lock:
            return {
                "requests": sum(self.stats_by_route.values()),
                "by_route": dict(self.stats_by_route),
                "by_ref": dict(self.stats_by_ref),
            }

    def reads_of(self, ref: str) -> list[float]:
        """When (time.monotonic) each read of `ref` arrived."""
        with self.lock:
            return list(self.read_times.get(ref, []))

    def reset_stats(self) -> None:
        with self.lock:
            self.stats_by_route.clear()
            self.stats_by_ref.clear()
            self.read_times.clear()

    # --- request bookkeeping, called by the handler ---

    def count(self, route: str, ref: str | None) -> None:
        with self.lock:
            self.stats_by_route[route] += 1
            if ref is not None:
                self.stats_by_ref[ref] += 1
                self.read_times[ref].append(time.monotonic())

    def take_fault(self, route: str, ref: str | None) -> Fault | None:
        """The first live fault matching this request, using up one of its count."""
        with self.lock:
            self.faults = [f for f in self.faults if f.live()]
            for fault in self.faults:
                if fault.matches(route, ref):
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None

    def operation(self, provider: str, op_id: str) -> SimOperation | None:
        with self.lock:
            return self.operations.get((provider, op_id))

    def new_session(self) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self.sessions[token] = time.monotonic() + self.session_ttl_s / self.speed
        return token

    def session_valid(self, token: str | None) -> bool:
        """Whether `token` is a live session; each use refreshes it, as `mojolicious` is."""
        if token is None:
            return False
        now = time.monotonic()
        with self.lock:
            expiry = self.sessions.get(token)
            if expiry is None or expiry < now:
                self.sessions.pop(token, None)
                return False
            self.sessions[token] = now + self.session_ttl_s / self.speed
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is normal here (timeouts, Ctrl-C): no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def describe(sim: Simulator) -> str:
    """Every REF the simulator serves, one per line."""
    return "".join(f"{ref}\n" for ref in sim.refs())


_WESOG_OP = re.compile(r"^/ops/([^/]+)$")
_TOLOKA_OP = re.compile(r"^/api/v1/operations/([^/]+)$")
_TOLOKA_LOG = re.compile(r"^/api/v1/operations/([^/]+)/log$")
_TO = re.compile(r"^/api/(\d+\.\d+)/(.+)$")


def _handler_for(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        simulator = sim

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "opwatch-simulator"
    # Headers and body in one send, and no Nagle: otherwise keep-alive replies wait ~40 ms for
    # the client's delayed ACK, and a benchmark of thousands of requests crawls.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    simulator: Simulator

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark makes thousands of requests a second."""

    # --- dispatch ---

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if path.startswith("/_sim/"):
                self._admin(method, path, body)
            elif method == "GET" and (match := _WESOG_OP.match(path)):
                self._wesog(match.group(1))
            elif method == "GET" and path == "/ops":
                self._wesog_list()
            elif method == "GET" and (match := _TOLOKA_LOG.match(path)):
                self._toloka_log(match.group(1))
            elif method == "GET" and (match := _TOLOKA_OP.match(path)):
                self._toloka(match.group(1))
            elif method == "GET" and path == "/api/v1/operations":
                self._toloka_list(query)
            elif match := _TO.match(path):
                self._trafficops(method, match.group(1), match.group(2), body)
            else:
                self._json(404, {"detail": "Not Found"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    # --- replies ---

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, dumps(payload), "application/json", headers or {})

    def _faulted(self, route: str, ref: str | None, error: Callable[[int, str], Any]) -> bool:
        """Apply a fault matching this request; True when it replaced the reply."""
        fault = self.simulator.take_fault(route, ref)
        if fault is None:
            return False
        kind = fault.kind
        retry = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        if kind == "slow":
            time.sleep(fault.delay_s)
            return False
        if kind == "5xx":
            self._json(fault.status, error(fault.status, "Service unavailable"), retry)
        elif kind == "429":
            self._json(429, error(429, "Too many requests"), retry or {"Retry-After": "1"})
        elif kind == "html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            self._send(502, page, "text/html", {})
        elif kind == "truncated":
            self._send(200, b'{"id": 1, "status": "RUNN', "application/json", {})
        elif kind == "wrong_shape":
            self._json(200, _wrong_shape(route))
        elif kind == "drop":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"id": ')
            self.wfile.flush()
            self.close_connection = True
        elif kind == "login_fail":
            if route != "login":
                return False
            self._json(401, error(401, "Invalid username or password."))
        return True

    # --- Wesog ---

    def _wesog(self, raw_id: str) -> None:
        sim = self.simulator
        if self.headers.get("API-Key") != self.simulator.wesog_key:
            sim.count("wesog", None)
            self._json(401, {"detail": "Invalid or missing API key"})
            return
        if not raw_id.isdigit():
            sim.count("wesog", None)
            self._json(422, _fastapi_422(raw_id))
            return
        operation = sim.operation("wesog", str(int(raw_id)))
        ref = operation.ref if operation else None
        sim.count("wesog", ref)
        if self._faulted("wesog", ref, lambda status, text: {"detail": text}):
            return
        if operation is None:
            self._json(404, {"detail": "Operation not found"})
            return
        self._json(200, operation.wesog_body())

    def _wesog_list(self) -> None:
        if self.headers.get("API-Key") != self.simulator.wesog_key:
            self._json(401, {"detail": "Invalid or missing API key"})
            return
        with self.simulator.lock:
            ops = [op for op in self.simulator.operations.values() if op.spec.provider == "wesog"]
        self._json(200, [op.wesog_body() for op in ops])

    # --- Toloka ---

    def _toloka_authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        # The official client sends ApiKey for keys shaped like one; accept any such key.
        api_key = scheme == "ApiKey" and token.count(".") == 2 and token.index(".") in (22, 23, 24)
        if (scheme == "OAuth" and token == self.simulator.toloka_token) or api_key:
            return True
        self._json(401, _toloka_error("NOT_AUTHORIZED", "Authorization required"))
        return False

    def _toloka(self, op_id: str) -> None:
        sim = self.simulator
        if not self._toloka_authorized():
            sim.count("toloka", None)
            return
        operation = sim.operation("toloka", op_id)
        ref = operation.ref if operation else None
        sim.count("toloka", ref)
        if self._faulted("toloka", ref, _toloka_fault):
            return
        if operation is None:
            self._json(404, _toloka_error("DOES_NOT_EXIST", "Operation not found"))
            return
        self._json(200, operation.toloka_body())

    def _toloka_log(self, op_id: str) -> None:
        sim = self.simulator
        if not self._toloka_authorized():
            return
        operation = sim.operation("toloka", op_id)
        ref = operation.ref if operation else None
        sim.count("toloka_log", None)
        if self._faulted("toloka_log", ref, _toloka_fault):
            return
        if operation is None or operation.spec.age_days > 30:
            # The log is kept for one month; after that it is gone like an unknown id.
            self._json(404, _toloka_error("DOES_NOT_EXIST", "Operation log not found"))
            return
        # Chunked, generated step by step: a log can hold hundreds of thousands of steps.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces: list[bytes] = [b"["]
        for index, step in enumerate(operation.toloka_log()):
            pieces.append((b"," if index else b"") + dumps(step))
            if len(pieces) >= LOG_CHUNK_STEPS:
                self._chunk(b"".join(pieces))
                pieces = []
        pieces.append(b"]")
        self._chunk(b"".join(pieces))
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _toloka_list(self, query: dict[str, list[str]]) -> None:
        sim = self.simulator
        if not self._toloka_authorized():
            return
        sim.count("toloka_list", None)
        if self._faulted("toloka_list", None, _toloka_fault):
            return
        first = {key: values[0] for key, values in query.items()}
        try:
            limit = int(first.get("limit", 50))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 300:
            self._json(400, _toloka_error("VALIDATION_ERROR", "limit must be from 1 to 300"))
            return
        with sim.lock:
            ops = [op for op in sim.operations.values() if op.spec.provider == "toloka"]
        bodies = [op.toloka_body() for op in ops]
        for key, value in first.items():
            bodies = [b for b in bodies if _toloka_filter(b, key, value)]
        bodies.sort(key=lambda b: b["id"], reverse=first.get("sort") == "-id")
        self._json(200, {"items": bodies[:limit], "has_more": len(bodies) > limit})

    # --- Traffic Ops ---

    def _trafficops(self, method: str, version: str, rest: str, body: bytes) -> None:
        sim = self.simulator
        if version not in sim.to_versions:
            sim.count("trafficops", None)
            self._json(501, _to_alert(f"API version {version} not implemented"))
            return
        if method == "POST" and rest in ("user/login", "user/login/token"):
            self._to_login(rest, body)
            return
        token = self._to_session()
        if method == "POST" and rest == "acme_autorenew":
            self._to_start_job(token)
            return
        match = re.match(r"^async_status/([^/]+)$", rest)
        if method != "GET" or not match:
            self._json(404, _to_alert("Not Found"))
            return
        raw_id = match.group(1)
        operation = sim.operation("trafficops", raw_id) if raw_id.isdigit() else None
        ref = operation.ref if operation else None
        sim.count("trafficops", ref)
        if not sim.session_valid(token):
            self._json(401, _to_alert("unauthorized, please log in."))
            return
        if self._faulted("trafficops", ref, lambda status, text: _to_alert(text)):
            return
        if not raw_id.isdigit():
            self._json(400, _to_alert("id must be an integer"))
        elif operation is None:  # id 0, "already running", reads as 404 too
            self._json(404, _to_alert("Not Found"))
        else:
            self._json(200, operation.trafficops_body())

    def _to_session(self) -> str | None:
        cookies = self.headers.get("Cookie") or ""
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "mojolicious":
                return value
        bearer = self.headers.get("Authorization") or ""
        return bearer[7:] if bearer.startswith("Bearer ") else None

    def _to_login(self, rest: str, body: bytes) -> None:
        sim = self.simulator
        sim.count("login", None)
        if self._faulted("login", None, lambda status, text: _to_alert(text)):
            return
        try:
            given = json.loads(body or b"{}")
        except ValueError:
            self._json(400, _to_alert("invalid request body"))
            return
        if rest == "user/login":
            ok = isinstance(given, dict) and (given.get("u"), given.get("p")) == (
                TO_USER,
                sim.to_password,
            )
        else:
            ok = isinstance(given, dict) and given.get("t") == sim.to_token
        if not ok:
            self._json(401, _to_alert("Invalid username or password."))
            return
        token = sim.new_session()
        ttl = max(1, round(sim.session_ttl_s / sim.speed))
        self.send_response(200)
        payload = dumps({"alerts": [{"text": "Successfully logged in.", "level": "success"}]})
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name in ("mojolicious", "access_token"):
            self.send_header("Set-Cookie", f"{name}={token}; Path=/; Max-Age={ttl}; HttpOnly")
        self.end_headers()
        self.wfile.write(payload)

    def _to_start_job(self, token: str | None) -> None:
        sim = self.simulator
        if not sim.session_valid(token):
            self._json(401, _to_alert("unauthorized, please log in."))
            return
        ref = sim.add_operation(OperationSpec(provider="trafficops", kind="acme_renew"))
        job = ref.partition(":")[2]
        location = f"/api/4.0/async_status/{job}"  # always 4.0, whatever version was asked
        text = f"Beginning async ACME renewal. Status updates can be found here: {location}"
        self._json(202, {"alerts": [{"text": text, "level": "success"}]}, {"Location": location})

    # --- admin ---

    def _admin(self, method: str, path: str, body: bytes) -> None:
        sim = self.simulator
        try:
            given = json.loads(body) if body else None
            if (method, path) == ("POST", "/_sim/operations"):
                ref = sim.add_operation(given if isinstance(given, dict) else {})
                profile, _, op_id = ref.partition(":")
                self._json(201, {"ref": ref, "profile": profile, "id": op_id})
            elif (method, path) == ("GET", "/_sim/operations"):
                with sim.lock:
                    ops = list(sim.operations.values())
                self._json(200, [op.summary() for op in ops])
            elif (method, path) == ("POST", "/_sim/faults"):
                sim.add_fault(given if isinstance(given, dict) else {})
                self._json(201, {"ok": True})
            elif (method, path) == ("DELETE", "/_sim/faults"):
                sim.clear_faults()
                self._json(200, {"ok": True})
            elif (method, path) == ("GET", "/_sim/stats"):
                self._json(200, sim.stats())
            elif (method, path) == ("POST", "/_sim/stats/reset"):
                sim.reset_stats()
                self._json(200, {"ok": True})
            elif (method, path) == ("GET", "/_sim/config"):
                self._send(200, sim.config_yaml().encode(), "text/yaml", {})
            else:
                self._json(404, {"error": "no such admin endpoint"})
        except (ValueError, TypeError) as exc:
            self._json(400, {"error": str(exc)})


def _toloka_error(code: str, message: str) -> dict[str, Any]:
    return {"request_id": str(uuid.uuid4()), "code": code, "message": message}


def _toloka_fault(status: int, text: str) -> dict[str, Any]:
    codes = {429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 503: "REMOTE_SERVICE_UNAVAILABLE"}
    return _toloka_error(codes.get(status, "INTERNAL_ERROR"), text)


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


def _wrong_shape(route: str) -> Any:
    if route == "trafficops":
        return {"response": {"id": "seven", "status": None, "start_time": 12, "message": []}}
    if route == "toloka":
        return {"id": None, "status": 7, "progress": "half", "details": "none", "submitted": []}
    return {"num_total": "ten", "num_good": None, "num_bad": "x", "is_started": "yes"}


def _toloka_filter(body: dict[str, Any], key: str, value: str) -> bool:
    if key in ("type", "status"):
        return bool(body.get(key) == value)
    if key == "id_gt":
        return bool(body["id"] > value)
    for field_name, prefix in (("submitted", "submitted_"), ("finished", "finished_")):
        if key.startswith(prefix):
            seen = body.get(field_name)
            if seen is None:
                return False
            op = key[len(prefix) :]
            comparisons = {"gte": seen >= value, "gt": seen > value, "lte": seen <= value}
            comparisons["lt"] = seen < value
            return bool(comparisons.get(op, True))
    return True
