"""The polling engine behind `opwatch wait`: schedule, deadline, retries, rate limits.

It reports through one callback and imports no rich: the CLI picks the display. The clock and
sleep come from the Runtime, so tests drive it on a fake clock in milliseconds.
"""

import asyncio
import dataclasses
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from opwatch.config import CONCURRENCY_PER_PROFILE
from opwatch.errors import AuthError, OpwatchError, ProviderError
from opwatch.exitcodes import ExitCode, combine
from opwatch.model import Operation, OpRef, Reading, State, reading_code
from opwatch.providers.base import origin_of
from opwatch.runtime import Runtime

if TYPE_CHECKING:
    from opwatch.session import Session

MIN_DELAY_S = 1.0
MAX_DELAY_S = 30.0
ELAPSED_FRACTION = 0.17
"""Without a progress estimate, wait at most this fraction of the time the job has run."""
END_MARGIN_S = 0.5
"""How long after a predicted end to read, so the read finds the job finished."""
JITTER = 0.1
TICK_S = 0.5
"""Reads wake on a shared tick of the clock: reads due in the same half second go out in one
wake-up of the event loop. On a quiet loop a wake-up of its own (timer, poll, send, receive)
costs a read more CPU than all of its HTTP and JSON; half a second is a tenth of the CPU of a
read at 1,000 operations against a tenth of a second (bench/scale.py), and moves a read by at
most a quarter second, within END_MARGIN_S of a predicted end."""
DEFAULT_RETRIES = 5
DEFAULT_RATE_PER_PROFILE = 100.0


class Until(StrEnum):
    """When a wait on several operations is over."""

    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class WatchOptions:
    """How to wait."""

    timeout_s: float | None = 3600.0
    """One global deadline in seconds; 0 reads once; None waits forever."""
    interval_s: float | None = None
    """A fixed delay between reads; None is the adaptive `auto` schedule."""
    until: Until = Until.ALL
    fail_fast: bool = False
    allow_partial: bool = False
    retries: int = DEFAULT_RETRIES
    """Transient faults in a row one operation may meet before it ends with code 7."""
    rate_per_profile: float = DEFAULT_RATE_PER_PROFILE
    """At most this many requests per second to one profile."""
    concurrency_per_profile: int = CONCURRENCY_PER_PROFILE
    """At most this many requests in flight to one profile."""


class EventKind(StrEnum):
    """What happened to one watched operation."""

    UPDATE = "update"
    """A read worked and the operation is still under way."""
    DONE = "done"
    """The operation reached a terminal state, or its watch ended with an error."""
    RETRY = "retry"
    """A read met a transient fault and will be retried."""
    ERROR = "error"
    """A read failed for good: the operation's watch ends with the error's code."""


UNREAD = "unread"
"""The outcome of an operation not read yet (nor failed for good)."""
ERROR = "error"
"""The outcome of an operation whose watch ended with an error."""


def outcome(reading: Reading) -> str:
    """The one word for where a watched operation stands, in every display and in the summary
    of `-o events`: `error` when its watch ended with an error, else its state once read, else
    `unread`."""
    if reading.error is not None:
        return ERROR
    return reading.operation.state.value if reading.operation is not None else UNREAD


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One watched operation as it stood when the engine reported it.

    Frozen: a display may keep it and draw it on another thread while the engine reads on.
    """

    ref: OpRef
    provider: str
    operation: Operation | None = None
    """The last successful read."""
    error: OpwatchError | None = None
    """The error that ended this watch, if one did."""
    fault: OpwatchError | None = None
    """The last transient fault, while retrying it."""
    faults_in_a_row: int = 0
    retries: int = 0
    """Transient faults retried over the whole watch."""
    finished: bool = False
    """Nothing more will be read: terminal, failed for good, or stopped."""
    rate_per_s: float | None = None
    """Percent per second, from the first and last progress samples."""
    eta_s: float | None = None
    """Seconds to the predicted end, measured from the last read."""

    @property
    def reading(self) -> Reading:
        """What to show for this operation."""
        return Reading(self.ref, self.provider, self.operation, self.error)

    @property
    def state(self) -> State | None:
        """The last state read, or None before the first read."""
        return self.operation.state if self.operation else None

    @property
    def outcome(self) -> str:
        """See `outcome()`."""
        return outcome(self.reading)

    @property
    def percent(self) -> float | None:
        """How far the operation is, 0-100, when it says; 100 once terminal."""
        operation = self.operation
        if operation is None:
            return None
        if operation.terminal:
            return 100.0
        return operation.progress.percent_done


@dataclass
class _Watch:
    """The engine's own record of one operation; only the engine reads or writes it."""

    ref: OpRef
    provider: str
    origin: str = ""
    """`scheme://host[:port]` of its profile: the operations one outage takes down together."""
    operation: Operation | None = None
    error: OpwatchError | None = None
    last_fault: OpwatchError | None = None
    ended_with_others: bool = False
    """Ended by an error it shares with its profile or origin, reported for all at once."""
    sleeping: bool = False
    failing_since: datetime | None = None
    """When the current run of transient faults began."""
    faults_in_a_row: int = 0
    retries: int = 0
    finished: bool = False
    # Progress samples for the rate estimate: (clock, percent) of the first and last reads.
    first_sample: tuple[float, float] | None = None
    last_sample: tuple[float, float] | None = None
    first_read_at: float | None = None
    age_at_first_read: float = 0.0

    @property
    def rate_per_s(self) -> float | None:
        """Percent per second, from the first and last progress samples."""
        if self.first_sample is None or self.last_sample is None:
            return None
        (t0, p0), (t1, p1) = self.first_sample, self.last_sample
        if t1 <= t0 or p1 <= p0:
            return None
        return (p1 - p0) / (t1 - t0)

    @property
    def eta_s(self) -> float | None:
        """Seconds to the predicted end, measured from the last read."""
        rate = self.rate_per_s
        if rate is None or self.last_sample is None:
            return None
        return max(0.0, (100.0 - self.last_sample[1]) / rate)

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.ref,
            self.provider,
            self.operation,
            self.error,
            self.last_fault,
            self.faults_in_a_row,
            self.retries,
            self.finished,
            self.rate_per_s,
            self.eta_s,
        )


@dataclass(frozen=True)
class Event:
    """One report from the engine."""

    kind: EventKind
    snapshot: Snapshot
    at: datetime
    error: OpwatchError | None = None
    delay_s: float | None = None
    """For RETRY: seconds until the next attempt."""
    echo: bool = False
    """For ERROR: the same error as an earlier event's (a refused profile, an unreachable
    origin: one error ends many operations); a display that prints messages prints it once."""


@dataclass
class _Outage:
    """An origin that could not be reached: one watch (the probe) keeps trying it, within its
    retry budget, for every watch of the origin; the others wait until it is over."""

    probe: _Watch
    over: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@dataclass(frozen=True, repr=False)
class WatchResult:
    """How a wait ended."""

    snapshots: list[Snapshot]
    timed_out: bool
    code: ExitCode

    def __repr__(self) -> str:
        # Short: Python 3.11's asyncio.run formats the finished main task, result included,
        # on its way out, and 10,000 watched operations in full cost a visible share of a wait.
        return (
            f"WatchResult({len(self.snapshots)} watched, timed_out={self.timed_out}, {self.code!r})"
        )


class Throttle:
    """Requests to one profile: at most `concurrency` in flight and `rate` started per second.

    The rate is kept as a virtual schedule (GCRA, a token bucket's twin) that lets the reads of
    one tick start together: a tick's worth of them on top of the one the rate allows now.
    """

    def __init__(self, rate: float, concurrency: int, runtime: Runtime) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next_slot = 0.0
        self._gate = asyncio.Semaphore(concurrency)
        self._runtime = runtime

    async def __aenter__(self) -> None:
        await self._gate.acquire()
        now = self._runtime.clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot - TICK_S > now:
            try:
                await self._runtime.sleep(slot - TICK_S - now)
            except BaseException:  # cancelled while paced: __aexit__ will not run
                self._gate.release()
                raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._gate.release()


def next_delay(watch: _Watch, now: float, options: WatchOptions, rng: random.Random) -> float:
    """Seconds until the next read of a running operation.

    `auto`: with a progress rate, read again halfway to the predicted end until it is close, then
    just after it; without one, back off with jitter from 1 s to 30 s, never waiting more than
    a fifth of the time the job has run, so short jobs are seen quickly and long ones cost little.
    """
    if options.interval_s is not None:
        return options.interval_s
    started = watch.first_read_at if watch.first_read_at is not None else now
    elapsed = (now - started) + watch.age_at_first_read
    backoff = min(MAX_DELAY_S, max(MIN_DELAY_S, ELAPSED_FRACTION * elapsed))
    backoff *= rng.uniform(1 - JITTER, 1 + JITTER)
    eta = watch.eta_s
    if eta is None:
        return backoff
    if eta <= max(backoff, 2 * MIN_DELAY_S):
        return max(MIN_DELAY_S / 2, eta + END_MARGIN_S)
    # Check the estimate halfway: a rate that changes is caught before the predicted end.
    return min(MAX_DELAY_S, max(backoff, eta / 2))


def on_tick(now: float, delay: float, *, not_sooner: bool = False) -> float:
    """`delay` moved so the wait ends on the nearest tick, or on the next one when it must not
    end sooner (a Retry-After). A schedule of whole ticks keeps its exact rhythm. A delay
    shorter than a tick (`--interval 100ms`) stays as it is: to the nearest tick it could
    round to nothing, and reads would follow each other as fast as the server answers."""
    if delay < TICK_S:
        return delay
    ticks = (now + delay) / TICK_S
    wake = (math.ceil(ticks - 1e-9) if not_sooner else round(ticks)) * TICK_S
    return max(0.0, wake - now)


def backoff(faults_in_a_row: int) -> float:
    """Exponential backoff for transient faults: 1, 2, 4, 8, 16, then 30 s."""
    return min(MAX_DELAY_S, MIN_DELAY_S * 2.0 ** (faults_in_a_row - 1))


def retry_delay(faults_in_a_row: int, rng: random.Random) -> float:
    """`backoff`, with jitter: reads of many operations that failed together do not retry
    together."""
    return backoff(faults_in_a_row) * rng.uniform(1 - JITTER, 1 + JITTER)


class Watcher:
    """Polls operations until each is terminal, the deadline passes, or the wait is stopped."""

    def __init__(
        self,
        session: "Session",
        refs: Iterable[OpRef],
        options: WatchOptions,
        runtime: Runtime,
        report: Callable[[Event], None] = lambda event: None,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.options = options
        self.runtime = runtime
        self.report = report
        self.rng = rng or random.Random()
        self._watches = []
        for ref in refs:
            profile = session.config.get(ref.profile)
            self._watches.append(_Watch(ref, profile.provider, origin_of(profile.url)))
        self.deadline: float | None = None
        self.timed_out = False
        self._stopped = False
        self._throttles: dict[str, Throttle] = {}
        self._outages: dict[str, _Outage] = {}
        self._tasks: dict[int, asyncio.Task[_Watch]] = {}

    def __len__(self) -> int:
        return len(self._watches)

    def snapshots(self) -> list[Snapshot]:
        """Every watched operation as it stands, in REF order."""
        return [watch.snapshot() for watch in self._watches]

    def deadline_at(self) -> datetime | None:
        """The wall-clock deadline, for the line printed when waiting starts."""
        if self.options.timeout_s is None:
            return None
        return self.runtime.now() + timedelta(seconds=self.options.timeout_s)

    async def run(self) -> WatchResult:
        """Watch every operation; return how the wait ended."""
        start = self.runtime.clock()
        if self.options.timeout_s is not None:
            self.deadline = start + self.options.timeout_s
        tasks = [asyncio.ensure_future(self._watch(item)) for item in self._watches]
        self._tasks = {id(item): task for item, task in zip(self._watches, tasks, strict=True)}
        try:
            for next_done in asyncio.as_completed(tasks):
                watch = await next_done
                if self._stop_after(watch):
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for item in self._watches:
                item.finished = True
        return WatchResult(self.snapshots(), self.timed_out, self.code())

    def code(self) -> ExitCode:
        """The exit code for the wait as it stands."""
        codes = []
        for item in self._watches:
            if self._stopped and item.error is None and not _terminal(item):
                continue  # --until any / --fail-fast: the others were not waited for
            codes.append(self._code(item))
        return combine(codes)

    def _code(self, item: _Watch) -> ExitCode:
        return reading_code(
            Reading(item.ref, item.provider, item.operation, item.error),
            judge_state=True,
            allow_partial=self.options.allow_partial,
        )

    def _stop_after(self, watch: _Watch) -> bool:
        """Whether `watch` ending ends the whole wait (--fail-fast, --until any)."""
        failed = self._code(watch) not in (ExitCode.OK, ExitCode.TIMEOUT)
        if (self.options.fail_fast and failed) or (
            self.options.until is Until.ANY and _terminal(watch)
        ):
            self._stopped = True
        return self._stopped

    def _throttle(self, profile: str) -> Throttle:
        throttle = self._throttles.get(profile)
        if throttle is None:
            throttle = Throttle(
                self.options.rate_per_profile, self.options.concurrency_per_profile, self.runtime
            )
            self._throttles[profile] = throttle
        return throttle

    async def _watch(self, watch: _Watch) -> _Watch:
        try:
            return await self._poll(watch)
        finally:
            outage = self._outages.get(watch.origin)
            if outage is not None and outage.probe is watch:
                self._outage_over(outage, watch)

    async def _poll(self, watch: _Watch) -> _Watch:
        provider = self.session.provider(watch.ref.profile)
        throttle = self._throttle(watch.ref.profile)
        last_call = False
        while True:
            outage = self._outages.get(watch.origin)
            if outage is not None and outage.probe is not watch:
                # The origin is down: the probe tries it for everyone; wait for its verdict.
                await outage.over.wait()
                if watch.finished:
                    return watch
                if self.deadline is not None and self.runtime.clock() >= self.deadline:
                    self._expire(watch)
                    return watch
                continue
            try:
                async with throttle:
                    operation = await provider.read(watch.ref.id)
            except OpwatchError as exc:
                if watch.finished:
                    return watch  # ended meanwhile, with its profile or its origin
                if isinstance(exc, ProviderError) and exc.origin is not None:
                    if not self._probes(watch, exc.origin):
                        continue  # in flight when the origin went down: wait with the others
                elif outage is not None:
                    self._outage_over(outage, watch)  # an answer: the origin is back
                delay = self._fault(watch, exc)
            else:
                if watch.finished:
                    return watch
                if outage is not None:
                    self._outage_over(outage, watch)
                delay = self._read(watch, operation)
            if delay is None:
                return watch
            now = self.runtime.clock()
            left = math.inf if self.deadline is None else self.deadline - now
            if last_call or left <= 0:
                self._expire(watch)
                return watch
            # A retry's delay may be a Retry-After, which a rounded-down tick would cut short.
            delay = on_tick(now, delay, not_sooner=watch.faults_in_a_row > 0)
            if delay >= left:
                # Read once more at the deadline rather than after it, then stop.
                delay, last_call = left, True
            watch.sleeping = True
            try:
                await self.runtime.sleep(delay)
            except asyncio.CancelledError:
                if watch.ended_with_others:
                    return watch  # woken to end with its profile (see _end_together)
                raise
            finally:
                watch.sleeping = False

    def _probes(self, watch: _Watch, origin: str) -> bool:
        """Whether `watch`, which could not reach `origin`, is the one to keep trying it."""
        outage = self._outages.get(origin)
        if outage is None:
            outage = self._outages[origin] = _Outage(watch)
        return outage.probe is watch

    def _outage_over(self, outage: _Outage, probe: _Watch) -> None:
        """The probe of `outage` got an answer or stopped: release the watches waiting."""
        if self._outages.get(probe.origin) is outage:
            del self._outages[probe.origin]
        if probe.finished and probe.operation is None and probe.last_fault is not None:
            # The deadline passed on the probe, never read: the others share its story.
            for other in self._watches:
                if other.origin == probe.origin and not other.finished:
                    other.last_fault = probe.last_fault
        outage.over.set()

    def _waiting_on(self, origin: str) -> int:
        return sum(1 for w in self._watches if w.origin == origin and not w.finished)

    def _end_together(self, first: _Watch, error: OpwatchError) -> None:
        """End at once every unfinished watch that `error` concerns as much as `first`: all
        of its profile for a refusal, all of its origin when it cannot be reached. The error
        is reported for each, as an echo after `first`'s own event."""
        by_profile = isinstance(error, AuthError)
        at = self.runtime.now()
        for other in self._watches:
            if other.finished or other is first:
                continue
            if (other.ref.profile if by_profile else other.origin) != (
                first.ref.profile if by_profile else first.origin
            ):
                continue
            other.error = error
            other.finished = True
            other.ended_with_others = True
            self.report(Event(EventKind.ERROR, other.snapshot(), at, error=error, echo=True))
            task = self._tasks.get(id(other))
            if other.sleeping and task is not None:
                task.cancel()

    def _expire(self, watch: _Watch) -> None:
        """The deadline passed with `watch` unfinished: it keeps its last known state."""
        self.timed_out = True
        watch.finished = True
        if watch.operation is None and watch.last_fault is not None:
            # Never read at all: the faults are the story, not the deadline.
            watch.error = ProviderError(
                f"{watch.last_fault.message} (still failing when the deadline passed)",
                transient=False,
            )

    def _read(self, watch: _Watch, operation: Operation) -> float | None:
        """Record a successful read; return the delay to the next one, or None when done."""
        now = self.runtime.clock()
        watch.operation = operation
        watch.faults_in_a_row = 0
        watch.failing_since = None
        watch.last_fault = None
        if watch.first_read_at is None:
            watch.first_read_at = now
            began = operation.started_at or operation.submitted_at
            if began is not None:
                watch.age_at_first_read = max(0.0, (self.runtime.now() - began).total_seconds())
        percent = operation.progress.percent_done
        if percent is not None and operation.state is State.RUNNING:
            sample = (now, percent)
            if watch.first_sample is None:
                watch.first_sample = sample
            watch.last_sample = sample
        if operation.terminal:
            watch.finished = True
            self.report(Event(EventKind.DONE, watch.snapshot(), self.runtime.now()))
            return None
        delay = next_delay(watch, now, self.options, self.rng)
        # The provider's word on pacing: a declared one's interval bounds, a Retry-After on a
        # successful read (Azure sends one with every InProgress answer).
        delay = self.session.provider(watch.ref.profile).poll_delay(operation, delay)
        self.report(Event(EventKind.UPDATE, watch.snapshot(), self.runtime.now()))
        return delay

    def _fault(self, watch: _Watch, error: OpwatchError) -> float | None:
        """Record a failed read; return the delay to a retry, or None when the watch ends."""
        at = self.runtime.now()
        transient = isinstance(error, ProviderError) and error.transient
        origin = error.origin if isinstance(error, ProviderError) else None
        if transient and watch.faults_in_a_row < self.options.retries:
            waiting = self._waiting_on(origin) if origin is not None else 0
            if isinstance(error, ProviderError) and waiting > 1:
                # The probe's retries are everyone's: say for how many.
                error = ProviderError(
                    f"{error.message} ({waiting} operations wait on {origin})",
                    retry_after=error.retry_after,
                    origin=origin,
                )
            watch.faults_in_a_row += 1
            watch.retries += 1
            watch.last_fault = error
            if watch.failing_since is None:
                watch.failing_since = at
            delay = retry_delay(watch.faults_in_a_row, self.rng)
            if isinstance(error, ProviderError) and error.retry_after is not None:
                delay = max(delay, error.retry_after)  # never sooner than the provider asks
            self.report(Event(EventKind.RETRY, watch.snapshot(), at, error=error, delay_s=delay))
            return delay
        if transient and watch.failing_since is not None:
            since = watch.failing_since.strftime("%H:%M:%S UTC")
            error = ProviderError(
                f"{error.message} (failing since {since}, {watch.faults_in_a_row} retries used up)",
                transient=False,
                origin=origin,
            )
        shared = isinstance(error, AuthError) or origin is not None
        if shared:
            error = self._shared(watch, error, origin)
        watch.error = error
        watch.finished = True
        self.report(Event(EventKind.ERROR, watch.snapshot(), at, error=error))
        if shared:
            self._end_together(watch, error)
        return None

    def _shared(self, watch: _Watch, error: OpwatchError, origin: str | None) -> OpwatchError:
        """`error`, saying how many operations it ends: every one of the refused profile, or
        of the origin that cannot be reached."""
        if origin is not None:
            count, whose = self._waiting_on(origin), origin
        else:
            profile = watch.ref.profile
            count = sum(1 for w in self._watches if w.ref.profile == profile and not w.finished)
            whose = f"profile '{profile}'"
        if count <= 1:
            return error
        message = f"{error.message}; this ends all {count} operations of {whose}"
        if isinstance(error, ProviderError):
            return ProviderError(message, transient=False, origin=origin)
        return type(error)(message)


def _terminal(watch: _Watch) -> bool:
    return watch.operation is not None and watch.operation.terminal
