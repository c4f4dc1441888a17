"""Faults: misbehaviour on demand, for the next N matching requests or for a while.

A fault matches requests by operation (`ref`), by route, or every provider route when it names
neither. The core asks `FaultBook.take` once per request, and `reshape` turns the reply the
route built into what the fault makes of it: an error status in the provider's own error shape,
a slow or dropped reply, a body that is not JSON, cut short, or of the wrong shape.

A fault's `duration_s` counts on the simulator's clock from when it is armed: when added to a
serving simulator, or when serving starts for a scenario's faults.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from opwatch.simulator.http import WireReply
from opwatch.simulator.providers import LOGIN_ROUTES, ROUTES
from opwatch.simulator.providers.base import JSON, Reply

FAULT_KINDS = (
    "5xx", "429", "slow", "drop", "html", "truncated", "wrong_shape", "expire_sessions",
    "login_fail",
)  # fmt: skip
HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
_DROP_PROMISE = 64
"""A dropped reply promises this many bytes more than the whole body, then sends half of it."""


@dataclass(frozen=True)
class Fault:
    """A misbehaviour applied to matching requests, for `count` requests or `duration_s`
    (seconds of the simulator's clock); one request when neither is given."""

    kind: str
    ref: str | None = None
    """Only requests about this operation (`profile:id`)."""
    route: str | None = None
    """Only this route (see ROUTES); neither ref nor route: every provider route."""
    count: int | None = None
    duration_s: float | None = None
    status: int = 503
    """The status of a `5xx` fault."""
    retry_after: float | None = None
    """Sent as Retry-After on `429` (default 1) and `5xx`."""
    delay_s: float = 2.0
    """How long a `slow` reply waits before answering normally: a real sleep, whatever the
    clock, because it stands for the network being slow (a client's timeout must fire)."""

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fault":
        """Build from YAML/JSON, with a ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a mapping")
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(
                f"unknown fault key(s): {', '.join(unknown)} (known: {', '.join(known)})"
            )
        return cls(**data)

    def validate(self) -> None:
        """Raise ValueError when the fault makes no sense."""
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        if self.route is not None and self.route not in ROUTES:
            raise ValueError(f"fault route must be one of {', '.join(ROUTES)}")
        if self.ref is not None and (not isinstance(self.ref, str) or ":" not in self.ref):
            raise ValueError("fault ref must be a REF like 'crowd:<id>'")
        for name in ("count", "duration_s", "retry_after", "delay_s"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"fault {name} must be a number, not negative")
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise ValueError("fault status must be an HTTP status code")
        if self.kind == "5xx" and not 500 <= self.status <= 599:
            raise ValueError("a 5xx fault's status must be from 500 to 599")

    def matches(self, route: str, ref: str | None) -> bool:
        if self.kind == "login_fail" and route not in LOGIN_ROUTES:
            return False  # a login fault waits for a login, whatever else is asked meanwhile
        if self.ref is not None and self.ref != ref:
            return False
        return self.route is None or self.route == route


@dataclass
class _Armed:
    """A fault in force: requests it still lasts, and until when (the clock's seconds)."""

    fault: Fault
    left: int | None
    until: float | None

    def live(self, now: float) -> bool:
        if self.left is not None and self.left <= 0:
            return False
        return self.until is None or now < self.until


class FaultBook:
    """The faults in force, thread-safe; `take` is cheap when there are none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def add(self, fault: Fault, now: float) -> None:
        """Arm `fault` at `now`: its count and duration start here."""
        left = fault.count
        if left is None and fault.duration_s is None:
            left = 1
        until = None if fault.duration_s is None else now + fault.duration_s
        with self._lock:
            self._armed.append(_Armed(fault, left, until))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def describe(self, now: float) -> list[dict[str, Any]]:
        """The faults in force, for GET /_sim/faults: what is left of each."""
        with self._lock:
            armed = [a for a in self._armed if a.live(now)]
            return [
                {
                    "kind": a.fault.kind,
                    "ref": a.fault.ref,
                    "route": a.fault.route,
                    "count": a.left,
                    "seconds_left": None if a.until is None else max(0.0, a.until - now),
                }
                for a in armed
            ]

    def take(self, route: str, ref: str | None, now: float) -> Fault | None:
        """The first live fault matching this request, using up one of its count."""
        if not self._armed:  # the common case, without the lock: a benchmark's hot path
            return None
        with self._lock:
            self._armed = [a for a in self._armed if a.live(now)]
            for armed in self._armed:
                if armed.fault.matches(route, ref):
                    if armed.left is not None:
                        armed.left -= 1
                    return armed.fault
        return None


def reshape(fault: Fault | None, reply: Reply, error: Callable[[int, str], Any]) -> WireReply:
    """What goes on the wire for `reply` under `fault`; `error` builds the provider's error
    body for a status."""
    if fault is None:
        return wire(reply)
    kind = fault.kind
    retry = (("Retry-After", f"{fault.retry_after:g}"),) if fault.retry_after is not None else ()
    if kind == "slow":
        time.sleep(fault.delay_s)  # the network's delay, not the simulated clock's
        return wire(reply)
    if kind == "5xx":
        return wire(Reply(fault.status, error(fault.status, "Service Unavailable"), headers=retry))
    if kind == "429":
        # Real servers send a Retry-After with a 429; 1 s unless the fault says.
        headers = retry or (("Retry-After", "1"),)
        return wire(Reply(429, error(429, "Too Many Requests"), headers=headers))
    if kind == "login_fail":
        return wire(Reply(401, error(401, "Invalid username or password.")))
    if kind == "html":
        return wire(Reply(502, body=HTML_PAGE, content_type="text/html"))
    if kind == "wrong_shape":
        payload = json.loads(reply.data()) if reply.content_type == JSON else {}
        return wire(Reply(200, wrong_shape(payload)))
    if reply.stream is not None:  # truncated or dropped, mid-stream: half the log, unclosed
        pieces = reply.stream(True, False)
        return WireReply(reply.status, content_type=reply.content_type, headers=reply.headers,
                         stream=pieces, hang_up=kind == "drop")  # fmt: skip
    data = reply.data()
    if kind == "truncated":  # a whole HTTP message whose JSON is cut mid-value
        return WireReply(200, truncated(data), reply.content_type, reply.headers)
    # drop: promise the whole body and more, send half, hang up; the client sees a short read.
    return WireReply(reply.status, truncated(data), reply.content_type, reply.headers,
                     length=len(data) + _DROP_PROMISE, hang_up=True)  # fmt: skip


def wire(reply: Reply) -> WireReply:
    """A route's reply as it goes out, untouched."""
    if reply.stream is not None and reply.body is None:
        pieces = reply.stream(False, True)
        return WireReply(reply.status, content_type=reply.content_type, headers=reply.headers,
                         stream=pieces)  # fmt: skip
    return WireReply(reply.status, reply.data(), reply.content_type, reply.headers)


def wrong_shape(payload: Any) -> Any:
    """The same reply with the wrong shape: keys in turn become strings, nulls or go missing,
    nested objects and lists reshaped the same way."""
    if isinstance(payload, list):
        return [wrong_shape(item) for item in payload[:20]]
    if not isinstance(payload, dict):
        return _stringly(payload)
    out: dict[str, Any] = {}
    for index, (key, value) in enumerate(payload.items()):
        if isinstance(value, dict | list) and value:
            out[key] = wrong_shape(value)
        elif index % 3 == 0:
            out[key] = _stringly(value)
        elif index % 3 == 1:
            out[key] = None
        # index % 3 == 2: the key goes missing
    if not out:
        out["unexpected"] = "shape"
    return out


def _stringly(value: Any) -> Any:
    """Numbers and booleans as strings; strings as a number; None as an empty string."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value} items"
    if isinstance(value, str):
        return len(value)
    return ""


def truncated(body: bytes) -> bytes:
    """The first half of a body: JSON cut mid-value."""
    return body[: max(1, len(body) // 2)]
