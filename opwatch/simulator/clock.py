"""The simulator's clock: every time it reads (operations' progress and timestamps, fault
windows, Traffic Ops session expiry, the times of reads in its statistics) comes from one.

The protocol is deliberately two methods, so any object that has them can drive a simulator,
for instance one virtual clock shared with the opwatch client under test:

    monotonic() -> float     seconds, never going back (like time.monotonic)
    now() -> datetime        the wall time, timezone-aware UTC (like datetime.now(UTC))

`SystemClock` (the default, for `opwatch simulate` and `opwatch demo`) reads the machine's
clocks. `ManualClock` stands still until `advance(seconds)` moves both readings together, so a
test decides exactly how much time passes and never depends on how fast the machine is.
"""

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Monotonic seconds and UTC wall time; nothing else is asked of a clock."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    def now(self) -> datetime:
        """The current wall time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
"""Where a ManualClock's wall time starts unless told: a fixed moment, so bodies and
timestamps come out the same on every run."""


class ManualClock:
    """A clock that moves only when told to: `advance(seconds)` moves its monotonic and wall
    readings by the same amount. Thread-safe: the server's threads read it while a test moves
    it."""

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("a ManualClock's start must be timezone-aware")
        self._start = start.astimezone(UTC)
        # Whole nanoseconds, so that many small steps add up exactly (0.29 + 0.01 is 0.3).
        self._elapsed_ns = 0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """Seconds since the clock was made: 0.0 at first."""
        return self._elapsed_ns / 1e9

    def now(self) -> datetime:
        return self._start + timedelta(microseconds=self._elapsed_ns // 1000)

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass (not negative: a monotonic clock never goes back)."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._lock:
            self._elapsed_ns += round(seconds * 1e9)
