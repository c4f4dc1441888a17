"""Test doubles for the outside world: a virtual clock (with a transport that tells it which
requests are in flight) and scripted providers."""

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from opwatch.config import Config, parse_config
from opwatch.errors import OpwatchError
from opwatch.model import Operation, Progress, State
from opwatch.runtime import Runtime
from opwatch.transport import Transport

EPOCH = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class VirtualClock:
    """Monotonic and wall time that move only when every task waits on the clock, so waits cost
    no real time. opwatch reads it through its Runtime (clock, sleep, now, loop) and the
    simulator through `monotonic()` and `now()`: both see the same time.

    With real sockets between opwatch and a simulator thread, "everything waits on the clock"
    cannot be told by counting `sleep(0)`s: a reply may take any real time to arrive. So time
    moves only when (1) no request is in flight (ClockedTransport counts them) and (2) the event
    loop has no callback ready to run; then the earliest sleeper wakes.

    Within one instant, replies still arrive in real-time order: a test must not depend on
    which of two reads in flight together answers first (a wait stopped by one while the other
    is on the wire). Set the scene so the deciding read comes at a later instant.
    """

    def __init__(self) -> None:
        self.t = 0.0
        self.in_flight = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._timers: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._idle: asyncio.Future[None] | None = None

    def monotonic(self) -> float:
        return self.t

    clock = monotonic

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._seq), future))
        await future

    def at(self, t: float, callback: Callable[[], object]) -> None:
        """Call `callback` (from the test, e.g. to add a fault) when the clock reaches `t`."""
        heapq.heappush(self._timers, (t, next(self._seq), callback))

    def request_started(self) -> None:
        self.in_flight += 1

    def request_ended(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def loop(self, main: Coroutine[Any, Any, Any]) -> Any:
        """Runtime.loop: run `main` on a fresh asyncio loop, moving time as described above."""
        return asyncio.run(self._drive(main))

    async def run(self, main: Callable[[], Awaitable[object]]) -> object:
        """Run the coroutine `main()` on the running loop, moving time as described above."""
        return await self._drive(main())

    async def _drive(self, main: Awaitable[Any]) -> Any:
        self._sleepers.clear()  # futures of an earlier loop
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        while not task.done():
            await self._settle(loop, task)
            while self._sleepers and self._sleepers[0][2].cancelled():
                heapq.heappop(self._sleepers)
            if task.done():
                break
            if self._sleepers:
                self._advance(self._sleepers[0][0])
            else:
                # Nothing sleeps on the clock and nothing is ready: something outside the
                # loop (a thread) is awaited. Give it real time.
                await asyncio.sleep(0.001)
        return task.result()

    async def _settle(self, loop: asyncio.AbstractEventLoop, task: asyncio.Future[Any]) -> None:
        """Return once no request is in flight and no callback is ready to run."""
        ready = loop._ready  # type: ignore[attr-defined]  # asyncio's own loop, in tests only
        while not task.done():
            if self.in_flight:
                self._idle = loop.create_future()
                await self._idle
                continue
            await asyncio.sleep(0)
            if not self.in_flight and not ready:
                return

    def _advance(self, to: float) -> None:
        """Move to `to`, firing the test's timers on the way, and wake the sleepers due."""
        while self._timers and self._timers[0][0] <= to:
            when, _, callback = heapq.heappop(self._timers)
            self.t = max(self.t, when)
            callback()
        self.t = max(self.t, to)
        while self._sleepers and self._sleepers[0][0] <= self.t:
            future = heapq.heappop(self._sleepers)[2]
            if not future.cancelled():
                future.set_result(None)

    def runtime(self, **overrides: Any) -> Runtime:
        """A runtime on this clock, with an empty environment unless `overrides` give one."""
        fields: dict[str, Any] = {
            "clock": self.monotonic,
            "sleep": self.sleep,
            "now": self.now,
            "loop": self.loop,
            "env": {},
        }
        return Runtime(**{**fields, **overrides})


class ClockedTransport(httpx.AsyncBaseTransport):
    """opwatch's own transport, telling a VirtualClock which requests are in flight: from the
    request until its reply is read and closed, time stands still."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.inner = Transport(max_connections=24)  # 8 per profile, 3 profiles on one origin

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.clock.request_started()
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            self.clock.request_ended()
            raise
        if isinstance(response.stream, httpx.ByteStream):
            self.clock.request_ended()  # the whole reply is in memory already
        else:
            response.stream = _EndsRequest(response.stream, self.clock.request_ended)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _EndsRequest(httpx.AsyncByteStream):
    """A streamed reply body that ends its request's time in flight when it is closed."""

    def __init__(self, inner: Any, ended: Callable[[], None]) -> None:
        self.inner = inner
        self.ended: Callable[[], None] | None = ended

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            if self.ended is not None:
                self.ended, ended = None, self.ended
                ended()


@dataclass
class Timeline:
    """An operation whose reads follow a script: `at(t)` gives what a read at t returns."""

    at: Callable[[float], Operation | OpwatchError]
    reads: list[float] = field(default_factory=list)


def steady(duration: float, *, outcome: State = State.SUCCEEDED, progress: bool = True):
    """A job that started at 0 and ends after `duration`, with linear progress if `progress`."""

    def at(t: float) -> Operation:
        if t >= duration:
            return Operation("wesog", "1", outcome, "done", progress=Progress(percent=100.0))
        percent = 100.0 * t / duration if progress else None
        return Operation(
            "wesog",
            "1",
            State.RUNNING,
            "running",
            progress=Progress(percent=percent),
            started_at=EPOCH,
        )

    return at


class ScriptedProvider:
    def __init__(self, clock: VirtualClock, timelines: dict[str, Timeline]) -> None:
        self.clock = clock
        self.timelines = timelines
        self.name = "wesog"

    async def fetch(self, op_id: str) -> Operation:
        timeline = self.timelines[op_id]
        timeline.reads.append(self.clock.t)
        result = timeline.at(self.clock.t)
        if isinstance(result, OpwatchError):
            raise result
        return result

    def poll_delay(self, operation: Operation, delay: float) -> float:
        """Provider.poll_delay's neutral default: the engine's delay stands."""
        return delay

    read = fetch  # the scripts stand for the provider's answers, gate and all


class ScriptedSession:
    """Stands in for opwatch.session.Session: every profile reads from the same script."""

    def __init__(self, clock: VirtualClock, timelines: dict[str, Timeline]) -> None:
        self.config: Config = parse_config(
            {"profiles": {"p": {"provider": "wesog", "api_key": "k"}}}, Path("test.yaml"), {}
        )
        self._provider = ScriptedProvider(clock, timelines)

    def provider(self, profile: str) -> ScriptedProvider:
        return self._provider
