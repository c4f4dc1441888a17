"""Faults: misbehaviour on demand, for the next N matching requests or for a while.

A fault matches requests by operation (`ref`), by route, or every provider route when it names
neither. The server asks `FaultBook.take` once per request and lets the fault reshape the reply
it would have sent: an error status, a slow or dropped reply, a body that is not JSON, cut short,
or of the wrong shape.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = (
    "5xx", "429", "slow", "drop", "html", "truncated", "wrong_shape", "expire_sessions",
    "login_fail",
)  # fmt: skip
ROUTES = ("wesog", "wesog_list", "toloka", "toloka_log", "toloka_list", "trafficops", "login")
HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
_KEYS = ("kind", "ref", "route", "count", "duration_s", "status", "retry_after", "delay_s")


@dataclass
class Fault:
    """A misbehaviour applied to matching requests, for `count` requests or `duration_s`
    (wall seconds); one request when neither is given."""

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
    """How long a `slow` reply waits before answering normally."""
    until: float | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fault":
        """Build from YAML/JSON, with a ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a mapping")
        unknown = sorted(str(key) for key in data if key not in _KEYS)
        if unknown:
            raise ValueError(
                f"unknown fault key(s): {', '.join(unknown)} (known: {', '.join(_KEYS)})"
            )
        fault = cls(**data)
        fault.validate()
        fault.arm()
        return fault

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

    def arm(self) -> None:
        """Start the fault's clock and default its count."""
        if self.count is None and self.duration_s is None:
            self.count = 1
        if self.duration_s is not None:
            self.until = time.monotonic() + self.duration_s

    def live(self, now: float) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        return self.until is None or now < self.until

    def matches(self, route: str, ref: str | None) -> bool:
        if self.kind == "login_fail" and route != "login":
            return False  # a login fault waits for a login, whatever else is asked meanwhile
        if self.ref is not None and self.ref != ref:
            return False
        return self.route is None or self.route == route

    def describe(self) -> dict[str, Any]:
        """For GET /_sim/faults."""
        left = None if self.until is None else max(0.0, self.until - time.monotonic())
        return {
            "kind": self.kind,
            "ref": self.ref,
            "route": self.route,
            "count": self.count,
            "seconds_left": left,
        }


class FaultBook:
    """The live faults, thread-safe; `take` is cheap when there are none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        now = time.monotonic()
        with self._lock:
            return [f for f in self._faults if f.live(now)]

    def take(self, route: str, ref: str | None) -> Fault | None:
        """The first live fault matching this request, using up one of its count."""
        if not self._faults:  # the common case, without the lock: a benchmark's hot path
            return None
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.live(now)]
            for fault in self._faults:
                if fault.matches(route, ref):
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None


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
