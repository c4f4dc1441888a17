"""The simulator's core: the state every simulated provider shares (operations, Traffic Ops
sessions, statistics, the clock, the faults) and the request path through it.

A request under `/_sim/` goes to the admin API. Any other is offered to each provider in turn
(`providers.PROVIDERS`); the one that recognises it builds its reply, the core counts it, and a
matching fault, if any, reshapes it before it goes out (`faults.reshape`). The HTTP itself is
`http.py`'s.
"""

import itertools
import secrets
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from opwatch.simulator import admin
from opwatch.simulator.clock import Clock, SystemClock
from opwatch.simulator.faults import Fault, FaultBook, reshape, wire
from opwatch.simulator.http import HTTPServer, Request, WireReply
from opwatch.simulator.operations import OperationSpec
from opwatch.simulator.providers import PROVIDERS, provider_named
from opwatch.simulator.providers.base import Reply
from opwatch.simulator.providers.trafficops import VERSIONS as TO_VERSIONS
from opwatch.simulator.scenario import Scenario
from opwatch.simulator.timeline import SimOperation

DEFAULT_PROFILE = "crowd"
"""The config's default profile: Toloka's, the provider most commands show first."""
_NOT_FOUND = Reply(404, {"detail": "Not Found"})


class Simulator:
    """Every simulated API on one port. Thread-safe; use as a context manager.

    `speed` multiplies the simulated clock (default: the scenario's, else 1). `credentials`
    may replace `wesog_key`, `toloka_token`, `to_user`, `to_password` and `to_token`. `clock`
    gives every time the simulator reads (default: the machine's; see `clock.py`); a
    `ManualClock` makes time pass only on `advance()`.
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
        clock: Clock | None = None,
    ) -> None:
        scenario = scenario or Scenario()
        self.clock: Clock = clock or SystemClock()
        defaults = {key: value for p in PROVIDERS for key, value in p.credentials.items()}
        unknown = sorted(set(credentials or {}) - set(defaults))
        if unknown:
            raise ValueError(
                f"unknown credential(s): {', '.join(unknown)} (known: {', '.join(defaults)})"
            )
        self.credentials: dict[str, str] = {**defaults, **(credentials or {})}
        self.speed = float(speed or scenario.speed or 1.0)
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        self.to_versions = tuple(to_versions)
        self.session_ttl_s = session_ttl_s
        self.lock = threading.Lock()
        self.operations: dict[tuple[str, str], SimOperation] = {}
        self.faults = FaultBook()
        self._sessions: dict[str, float] = {}  # mojolicious cookie → expiry (clock.monotonic)
        self._access_tokens: dict[str, float] = {}  # access_token → expiry, never refreshed
        self._by_route: Counter[str] = Counter()
        self._by_ref: Counter[str] = Counter()
        self._read_times: defaultdict[str, list[float]] = defaultdict(list)
        self._serial = itertools.count(1)
        self._numbers = {p.name: itertools.count(p.first_id or 1) for p in PROVIDERS}
        self._scenario_faults = [Fault.from_dict(dict(f)) for f in scenario.faults]
        self._begun = False
        self._server = HTTPServer((host, port), self._respond)
        self._thread: threading.Thread | None = None
        for spec in scenario.operations:
            self.add_operation(spec)
        self._scenario_keys = list(self.operations)

    # --- lifecycle ---

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "Simulator":
        """Serve in a background thread."""
        self._begin()
        # A short poll interval: stop() waits for the loop to notice, and tests stop a
        # simulator each (at 0.05 s, a quarter of the simulator tests' time went on it).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="opwatch-simulator", daemon=True
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
        """Start the scenario's clocks: its operations and faults begin with the serving, not
        when the simulator was built (a 1 s fault built 1.2 s before serving must still fire)."""
        if self._begun:
            return
        self._begun = True
        with self.lock:
            for key in self._scenario_keys:
                self.operations[key] = self.operations[key].rebased()
        for fault in self._scenario_faults:
            self.add_fault(fault)

    def advance(self, seconds: float) -> None:
        """Let `seconds` of the clock pass; only for a clock that can be moved (ManualClock)."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError(f"{type(self.clock).__name__} cannot be advanced; use a ManualClock")
        advance(seconds)

    # --- what it serves ---

    def add_operation(self, spec: OperationSpec | dict[str, Any]) -> str:
        """Create an operation, its clock starting now; return its REF (`profile:id`)."""
        if isinstance(spec, dict):
            spec = OperationSpec.from_dict(spec)
        spec.validate()
        provider = provider_named(spec.provider)
        with self.lock:
            if spec.id is not None:
                op_id = provider.canonical_id(str(spec.id))
                if (provider.name, op_id) in self.operations:
                    raise ValueError(f"a {provider.name} operation {op_id} already exists")
            else:
                op_id = provider.new_id(self._numbers[provider.name])
                while (provider.name, op_id) in self.operations:  # skip ids given explicitly
                    op_id = provider.new_id(self._numbers[provider.name])
            operation = SimOperation(
                spec=spec,
                provider=provider,
                id=op_id,
                created_mono=self.clock.monotonic(),
                created_wall=self.clock.now(),
                speed=self.speed,
                clock=self.clock,
                serial=next(self._serial),
            )
            self.operations[(provider.name, op_id)] = operation
        return operation.ref

    def add_fault(self, fault: Fault | dict[str, Any]) -> None:
        """Start misbehaving as `fault` says, from now on the clock (`expire_sessions` acts at
        once)."""
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        if fault.kind == "expire_sessions":
            with self.lock:
                self._sessions.clear()
                self._access_tokens.clear()
            return
        self.faults.add(fault, self.clock.monotonic())

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

    def operations_of(self, provider: str | None = None) -> list[SimOperation]:
        """The operations of `provider` (default: all), in creation order."""
        with self.lock:
            return [
                op
                for op in self.operations.values()
                if provider is None or op.provider.name == provider
            ]

    def config_yaml(self) -> str:
        """An opwatch config with one profile per provider, pointing here."""
        profiles = "".join(
            p.profile_yaml(self.url, self.credentials) for p in PROVIDERS if not p.declared
        )
        return (
            "# Written by the opwatch simulator: one profile per provider, all on one port.\n"
            f"default_profile: {DEFAULT_PROFILE}\nprofiles:\n{profiles}"
        )

    def stats(self, reads: bool = False) -> dict[str, Any]:
        """Requests served: in total, per route and per REF; with `reads`, every read of an
        operation as `{"ref", "t"}` (t: the clock's monotonic seconds), oldest first."""
        with self.lock:
            result: dict[str, Any] = {
                "requests": sum(self._by_route.values()),
                "by_route": dict(self._by_route),
                "by_ref": dict(self._by_ref),
            }
            if reads:
                every = [(t, ref) for ref, times in self._read_times.items() for t in times]
                result["reads"] = [{"ref": ref, "t": t} for t, ref in sorted(every)]
        return result

    def reads_of(self, ref: str) -> list[float]:
        """When (the clock's monotonic seconds) each read of `ref` arrived."""
        with self.lock:
            return list(self._read_times.get(ref, ()))

    def reset_stats(self) -> None:
        """Start counting from zero."""
        with self.lock:
            self._by_route.clear()
            self._by_ref.clear()
            self._read_times.clear()

    # --- Traffic Ops sessions (a fault expires them all) ---

    def new_session(self) -> tuple[str, str]:
        """A fresh (mojolicious, access_token) pair, both good for the session TTL."""
        cookie, token = secrets.token_hex(16), secrets.token_hex(24)
        expiry = self.clock.monotonic() + self.session_ttl_s / self.speed
        with self.lock:
            self._sessions[cookie] = expiry
            self._access_tokens[token] = expiry
        return cookie, token

    def session_valid(self, cookie: str | None, token: str | None = None) -> bool:
        """Whether the request carries a live session: the `mojolicious` cookie (each use
        refreshes it, as Traffic Ops does) or the `access_token` (cookie or Bearer)."""
        now = self.clock.monotonic()
        with self.lock:
            if cookie is not None:
                expiry = self._sessions.get(cookie)
                if expiry is not None and expiry >= now:
                    self._sessions[cookie] = now + self.session_ttl_s / self.speed
                    return True
                self._sessions.pop(cookie, None)
            if token is not None:
                expiry = self._access_tokens.get(token)
                if expiry is not None and expiry >= now:
                    return True
                self._access_tokens.pop(token, None)
        return False

    def has_session(self, cookie: str) -> bool:
        """Whether `cookie` names a session not yet ended (expired or thrown away)."""
        with self.lock:
            return cookie in self._sessions

    # --- the request path ---

    def _respond(self, request: Request) -> WireReply:
        """Route `request`, count it, and let a matching fault reshape the reply."""
        if request.path.startswith(admin.PREFIX):
            return wire(admin.handle(self, request))
        for provider in PROVIDERS:
            routed = provider.handle(self, request)
            if routed is not None:
                break
        else:
            return wire(_NOT_FOUND)
        if routed.route is None:
            return wire(routed.reply)
        now = self.clock.monotonic()
        with self.lock:
            self._by_route[routed.route] += 1
            if routed.ref is not None and routed.poll:
                self._by_ref[routed.ref] += 1
                self._read_times[routed.ref].append(now)
        fault = self.faults.take(routed.route, routed.ref, now)
        return reshape(fault, routed.reply, provider.error)


def describe(sim: Simulator) -> str:
    """Every REF the simulator serves, one per line."""
    return "".join(f"{ref}\n" for ref in sim.refs())
