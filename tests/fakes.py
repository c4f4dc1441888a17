"""Test doubles for the outside world: a virtual clock and scripted providers."""

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opwatch.config import Config, parse_config
from opwatch.errors import OpwatchError
from opwatch.model import Operation, Progress, State
from opwatch.runtime import Runtime

EPOCH = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class VirtualClock:
    """Monotonic time that only moves when every task is asleep: waits cost no real time."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.t

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, main: Callable[[], object]) -> object:
        """Run the coroutine `main()`, advancing time whenever everything else is waiting."""
        task = asyncio.ensure_future(main())  # type: ignore[arg-type]
        while not task.done():
            for _ in range(50):  # let every ready task reach its next sleep
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].cancelled():
                heapq.heappop(self._sleepers)
            if self._sleepers and not task.done():
                wake, _, future = heapq.heappop(self._sleepers)
                self.t = max(self.t, wake)
                future.set_result(None)
        return task.result()

    def runtime(self) -> Runtime:
        return Runtime(clock=self.clock, sleep=self.sleep, now=self.now, env={})


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


class ScriptedSession:
    """Stands in for opwatch.session.Session: every profile reads from the same script."""

    def __init__(self, clock: VirtualClock, timelines: dict[str, Timeline]) -> None:
        self.config: Config = parse_config(
            {"profiles": {"p": {"provider": "wesog", "api_key": "k"}}}, Path("test.yaml"), {}
        )
        self._provider = ScriptedProvider(clock, timelines)

    def provider(self, profile: str) -> ScriptedProvider:
        return self._provider
