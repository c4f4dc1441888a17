"""A simulated operation's life on the simulator's clock, whatever the provider.

An operation is pending for `start_delay_s`, runs for `duration_s` with items done at a steady
pace and failures spread evenly, then finishes with its outcome (or never, when `stuck`).
Everything is computed from the clock on each read, so an operation costs a few hundred bytes
however many items or log steps it has. What each provider's API says about a `Phase` lives in
that provider's module (`providers/`).
"""

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opwatch.simulator.clock import Clock

if TYPE_CHECKING:  # both import this module: types only
    from opwatch.simulator.operations import OperationSpec
    from opwatch.simulator.providers.base import SimProvider

STUCK_AT = 0.5
"""A stuck operation's progress stops here: the job died half-way and nobody says so."""


def fail_rate(spec: "OperationSpec", count: int) -> float:
    """The share of `count` items that fail, such that the outcome comes true at the end:
    a partial operation has at least one good and one bad item (when it has two items)."""
    final = spec.final
    if final == "succeeded":
        return 0.0
    if final == "failed":
        return 1.0
    rate = float(spec.fail_fraction)
    if final == "partial" and count >= 2:
        if math.floor(count * rate) < 1:
            rate = 1.5 / count
        elif math.floor(count * rate) >= count:
            rate = (count - 0.5) / count
    return rate


def failures_before(index: int, rate: float) -> int:
    """How many of items 0..index-1 fail: failures spread evenly, item i failing when
    floor((i + 1) * rate) > floor(i * rate)."""
    return math.floor(index * rate)


def failing_indices(done: int, rate: float) -> Iterator[int]:
    """The indices below `done` that fail, in order, without walking the good ones."""
    if rate <= 0:
        return
    for k in range(1, failures_before(done, rate) + 1):
        # The k-th failure is the first i with floor((i + 1) * rate) >= k; correct float drift.
        i = max(0, math.ceil(k / rate) - 1)
        while math.floor((i + 1) * rate) < k:
            i += 1
        while i > 0 and math.floor(i * rate) >= k:
            i -= 1
        yield i


@dataclass(frozen=True)
class Phase:
    """Where an operation stands at one moment."""

    started: bool
    finished: bool
    fraction: float
    """Share of the run behind it, 0..1 (a stuck one stops at one half)."""
    done: int
    bad: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def good(self) -> int:
        return self.done - self.bad


@dataclass(frozen=True)
class SimOperation:
    """One simulated operation of `provider`, its clock started at `created_mono` (the
    simulator clock's monotonic seconds) and `created_wall`; `age` simulated seconds of its
    life were already behind it then."""

    spec: "OperationSpec"
    provider: "SimProvider"
    id: str
    created_mono: float
    created_wall: datetime
    speed: float
    clock: Clock
    serial: int = 0

    @property
    def profile(self) -> str:
        return self.provider.profile

    @property
    def ref(self) -> str:
        return f"{self.profile}:{self.id}"

    @property
    def kind(self) -> str:
        return self.spec.kind or self.provider.default_kind

    @property
    def age(self) -> float:
        """Simulated seconds lived before the clock started."""
        spec = self.spec
        return spec.age_s + spec.age_days * 86400.0 + max(0.0, -spec.start_delay_s)

    def rebased(self) -> "SimOperation":
        """The same operation, its clock starting now (scenario operations start with the
        serving, not when the simulator is built)."""
        return replace(self, created_mono=self.clock.monotonic(), created_wall=self.clock.now())

    def wall(self, sim_seconds: float) -> datetime:
        """The wall time of a simulated instant (seconds since creation). The past before the
        clock started is shown as it was; from then on time runs `speed` times faster."""
        offset = sim_seconds - self.age
        if offset <= 0:
            return self.created_wall + timedelta(seconds=offset)
        return self.created_wall + timedelta(seconds=offset / self.speed)

    def at(self, sim_seconds: float) -> float:
        """The clock's monotonic reading when `sim_seconds` of simulated time have passed
        since creation: `phase(op.at(5))` is the operation five simulated seconds in."""
        return self.created_mono + sim_seconds / self.speed

    def phase(self, now: float | None = None) -> Phase:
        """The operation's state at `now` (the clock's monotonic seconds; default: now)."""
        spec = self.spec
        mono = self.clock.monotonic() if now is None else now
        elapsed = max(0.0, mono - self.created_mono) * self.speed + self.age
        delay = max(0.0, spec.start_delay_s)
        stuck = spec.final == "stuck"
        started = elapsed >= delay
        running_for = max(0.0, elapsed - delay)
        finished = started and not stuck and running_for >= spec.duration_s
        if finished:
            fraction = 1.0
        else:
            fraction = min(running_for / spec.duration_s, STUCK_AT if stuck else 1.0)
        items = spec.items
        done = items if finished else math.floor(items * fraction)
        return Phase(
            started=started,
            finished=finished,
            fraction=fraction,
            done=done,
            bad=failures_before(done, fail_rate(spec, items)),
            created_at=self.wall(0.0),
            started_at=self.wall(delay) if started else None,
            finished_at=self.wall(delay + spec.duration_s) if finished else None,
        )

    def state(self, now: float | None = None) -> str:
        """pending | running | stuck | succeeded | partial | failed, as simulated."""
        phase = self.phase(now)
        if not phase.started:
            return "pending"
        if not phase.finished:
            return "stuck" if self.spec.final == "stuck" else "running"
        return self.spec.final

    def body(self, now: float | None = None) -> dict[str, Any]:
        """What the provider's API answers about this operation at `now`."""
        return self.provider.body(self, self.phase(now))

    def summary(self) -> dict[str, Any]:
        """For GET /_sim/operations: the spec and where the operation stands."""
        phase = self.phase()
        return {
            "ref": self.ref,
            "profile": self.profile,
            "provider": self.spec.provider,
            "id": self.id,
            "kind": self.kind,
            "state": self.state(),
            "done": phase.done,
            "bad": phase.bad,
            "total": self.spec.items,
            "spec": asdict(self.spec),
        }


def iso(moment: datetime | None, zone: str, *, micro: bool = False) -> str | None:
    """`moment` in UTC as ISO 8601 with `zone` appended (`Z`, `+00:00`, or nothing)."""
    if moment is None:
        return None
    text = (
        moment.astimezone(UTC)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds" if micro else "milliseconds")
    )
    return text + zone


def milliseconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000)


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes, as the APIs send."""
    return json.dumps(payload, separators=(",", ":")).encode()
