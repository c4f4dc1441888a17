"""The polling engine on a virtual clock: schedule shape, deadline, stop rules, retry budget."""

import asyncio
import random
import statistics
from dataclasses import dataclass

import pytest

from opwatch.errors import NotFound, ProviderError
from opwatch.exitcodes import ExitCode
from opwatch.model import OpRef, State
from opwatch.watch import (
    TICK_S,
    Event,
    EventKind,
    Snapshot,
    Until,
    Watcher,
    WatchOptions,
    WatchResult,
    on_tick,
)
from tests.fakes import ScriptedSession, Timeline, VirtualClock, steady


@dataclass(frozen=True)
class Watched:
    """How a wait ended, and every event it reported."""

    result: WatchResult
    events: list[Event]

    @property
    def code(self) -> ExitCode:
        return self.result.code

    @property
    def snapshots(self) -> list[Snapshot]:
        return self.result.snapshots


def watch(timelines: dict[str, Timeline], clock: VirtualClock, **options: object) -> Watched:
    session = ScriptedSession(clock, timelines)
    events: list[Event] = []
    watcher = Watcher(
        session,  # type: ignore[arg-type]
        [OpRef("p", op_id) for op_id in timelines],
        WatchOptions(**options),  # type: ignore[arg-type]
        clock.runtime(),
        report=events.append,
        rng=random.Random(7),
    )
    result = asyncio.run(clock.run(watcher.run))
    assert isinstance(result, WatchResult)
    return Watched(result, events)


def test_first_read_is_immediate_and_a_steady_job_costs_few_reads() -> None:
    clock = VirtualClock()
    job = Timeline(steady(60.0))
    result = watch({"1": job}, clock)
    assert job.reads[0] == 0.0
    assert result.code is ExitCode.OK
    assert len(job.reads) <= 12
    assert 60.0 <= job.reads[-1] <= 61.5  # seen within 1.5 s of its end


def test_without_progress_waits_grow_with_elapsed_time() -> None:
    clock = VirtualClock()
    job = Timeline(steady(60.0, progress=False))
    result = watch({"1": job}, clock)
    assert result.code is ExitCode.OK
    assert len(job.reads) <= 25
    assert job.reads[-1] - 60.0 <= 12.0  # at most 20% of the duration late
    gaps = [b - a for a, b in zip(job.reads, job.reads[1:], strict=False)]
    assert min(gaps) >= 0.9 - 1e-9
    for start, gap in zip(job.reads, gaps, strict=False):
        assert gap <= max(1.1, 0.2 * start * 1.1 + 0.01)


def test_a_long_job_without_progress_is_read_at_most_every_30_seconds() -> None:
    clock = VirtualClock()
    job = Timeline(steady(3600.0, progress=False))
    watch({"1": job}, clock, timeout_s=None)
    gaps = [b - a for a, b in zip(job.reads, job.reads[1:], strict=False)]
    assert max(gaps) <= 33.0
    assert statistics.median(gaps) >= 25.0
    assert len(job.reads) < 160


def test_fixed_interval() -> None:
    clock = VirtualClock()
    job = Timeline(steady(10.0))
    watch({"1": job}, clock, interval_s=2.0)
    assert job.reads == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_an_interval_shorter_than_a_tick_is_kept() -> None:
    """`--interval 100ms` reads ten times a second, never back to back."""
    clock = VirtualClock()
    job = Timeline(steady(1.0))
    watch({"1": job}, clock, interval_s=0.1)
    gaps = [b - a for a, b in zip(job.reads, job.reads[1:], strict=False)]
    assert 9 <= len(job.reads) <= 12
    assert min(gaps) == pytest.approx(0.1)


def test_deadline_ends_with_4_after_a_last_read_at_the_deadline() -> None:
    clock = VirtualClock()
    job = Timeline(steady(1000.0, progress=False))
    result = watch({"1": job}, clock, timeout_s=10.0)
    assert result.code is ExitCode.TIMEOUT
    assert result.result.timed_out
    assert job.reads[-1] == pytest.approx(10.0)
    assert clock.t == pytest.approx(10.0)
    assert result.snapshots[0].state is State.RUNNING


def test_a_job_ending_just_before_the_deadline_is_seen() -> None:
    clock = VirtualClock()
    job = Timeline(steady(9.9, progress=False))
    result = watch({"1": job}, clock, timeout_s=10.0, interval_s=4.0)
    assert job.reads == [0.0, 4.0, 8.0, 10.0]
    assert result.code is ExitCode.OK


@pytest.mark.parametrize(("duration", "code"), [(0.0, ExitCode.OK), (5.0, ExitCode.TIMEOUT)])
def test_timeout_zero_reads_once(duration: float, code: ExitCode) -> None:
    clock = VirtualClock()
    job = Timeline(steady(duration))
    result = watch({"1": job}, clock, timeout_s=0.0)
    assert job.reads == [0.0]
    assert result.code is code


@pytest.mark.parametrize(
    ("outcome", "allow_partial", "code"),
    [
        (State.SUCCEEDED, False, ExitCode.OK),
        (State.FAILED, False, ExitCode.FAILED),
        (State.PARTIAL, False, ExitCode.FAILED),
        (State.PARTIAL, True, ExitCode.OK),
    ],
)
def test_outcomes(outcome: State, allow_partial: bool, code: ExitCode) -> None:
    clock = VirtualClock()
    result = watch(
        {"1": Timeline(steady(5.0, outcome=outcome))}, clock, allow_partial=allow_partial
    )
    assert result.code is code


def test_fail_fast_stops_at_the_first_failure() -> None:
    clock = VirtualClock()
    slow = Timeline(steady(300.0))
    result = watch(
        {"1": Timeline(steady(5.0, outcome=State.FAILED)), "2": slow}, clock, fail_fast=True
    )
    assert result.code is ExitCode.FAILED
    assert clock.t < 10.0
    assert max(slow.reads) < 10.0


def test_without_fail_fast_all_are_waited_for() -> None:
    clock = VirtualClock()
    result = watch(
        {"1": Timeline(steady(5.0, outcome=State.FAILED)), "2": Timeline(steady(30.0))}, clock
    )
    assert result.code is ExitCode.FAILED
    assert clock.t >= 30.0
    assert [w.state for w in result.snapshots] == [State.FAILED, State.SUCCEEDED]


def test_until_any_ends_at_the_first_terminal_operation() -> None:
    clock = VirtualClock()
    result = watch(
        {"1": Timeline(steady(300.0)), "2": Timeline(steady(5.0))}, clock, until=Until.ANY
    )
    assert result.code is ExitCode.OK  # the one still running was not waited for
    assert clock.t < 10.0


def test_transient_faults_within_the_budget_are_retried() -> None:
    clock = VirtualClock()
    calls = {"n": 0}
    inner = steady(20.0)

    def flaky(t: float):
        calls["n"] += 1
        if 2 <= calls["n"] <= 4:
            return ProviderError("Wesog answered 503")
        return inner(t)

    result = watch({"1": Timeline(flaky)}, clock, retries=5)
    assert result.code is ExitCode.OK
    assert result.snapshots[0].retries == 3
    kinds = [e.kind for e in result.events]
    assert kinds.count(EventKind.RETRY) == 3
    assert kinds[-1] is EventKind.DONE


def test_past_the_budget_the_operation_ends_with_7_and_says_since_when() -> None:
    clock = VirtualClock()
    down = Timeline(lambda t: ProviderError("Wesog answered 503"))
    ok = Timeline(steady(100.0))
    result = watch({"1": down, "2": ok}, clock, retries=3)
    assert len(down.reads) == 4  # the first try and three retries
    assert result.code is ExitCode.UNREACHABLE
    error = result.snapshots[0].error
    assert error is not None
    assert "failing since 12:00:00 UTC" in error.message
    assert result.snapshots[1].state is State.SUCCEEDED  # the others went on


def test_retry_after_is_honoured() -> None:
    clock = VirtualClock()
    calls = {"n": 0}
    inner = steady(60.0)

    def limited(t: float):
        calls["n"] += 1
        if calls["n"] == 2:
            return ProviderError("429", retry_after=17.0)
        return inner(t)

    job = Timeline(limited)
    watch({"1": job}, clock)
    assert job.reads[2] - job.reads[1] >= 17.0


def test_not_found_is_final_at_once() -> None:
    clock = VirtualClock()
    job = Timeline(lambda t: NotFound("Wesog has no such operation (404)"))
    result = watch({"1": job}, clock)
    assert job.reads == [0.0]
    assert result.code is ExitCode.NOT_FOUND


def test_an_operation_never_read_before_the_deadline_ends_with_7() -> None:
    clock = VirtualClock()
    job = Timeline(lambda t: ProviderError("cannot reach Wesog"))
    result = watch({"1": job}, clock, timeout_s=5.0, retries=100)
    assert result.code is ExitCode.UNREACHABLE
    assert clock.t == pytest.approx(5.0)


def test_the_rate_cap_spreads_first_reads() -> None:
    clock = VirtualClock()
    timelines = {str(n): Timeline(steady(1000.0)) for n in range(50)}
    watch(timelines, clock, timeout_s=0.0, rate_per_profile=10.0)
    firsts = sorted(t.reads[0] for t in timelines.values())
    assert TICK_S == 0.5  # one read now and a tick's worth (5) on top go at once
    assert firsts[:7] == [0.0] * 6 + [pytest.approx(0.1)]
    assert firsts[-1] == pytest.approx(4.9 - TICK_S)


def test_a_ticks_worth_of_reads_starts_together() -> None:
    clock = VirtualClock()
    timelines = {str(n): Timeline(steady(1000.0)) for n in range(150)}
    watch(timelines, clock, timeout_s=0.0, rate_per_profile=100.0, concurrency_per_profile=200)
    firsts = sorted(t.reads[0] for t in timelines.values())
    # One now and 0.5 s x 100/s (the 51st can miss by the float sum of 50 intervals).
    assert TICK_S == 0.5
    assert 50 <= firsts.count(0.0) <= 51
    assert firsts[-1] == pytest.approx(1.49 - TICK_S, abs=0.0015)


def test_reads_wake_on_the_shared_tick() -> None:
    clock = VirtualClock()
    timelines = {str(n): Timeline(steady(20.0 + n / 10, progress=n % 2 == 0)) for n in range(200)}
    watch(timelines, clock, rate_per_profile=1000.0, concurrency_per_profile=200)
    reads = [t for timeline in timelines.values() for t in timeline.reads[1:]]  # 1st: at once
    assert all(abs(t / TICK_S - round(t / TICK_S)) < 1e-6 for t in reads)
    wakeups = {round(t / TICK_S) for t in reads}
    assert len(reads) > 2000
    assert len(wakeups) <= max(reads) / TICK_S + 1  # one a tick at most, whatever the reads


@pytest.mark.parametrize(
    ("now", "delay", "not_sooner", "expected"),
    [
        (0.0, 2.0, False, 2.0),  # a schedule of whole ticks keeps its rhythm
        (0.003, 1.0, False, 0.997),  # the nearest tick, a little sooner
        (0.2, 1.0, False, 0.8),
        (0.3, 1.0, False, 1.2),  # the nearest tick, later
        (0.003, 1.0, True, 1.497),  # a Retry-After is never cut short
        (5.0, 17.0, True, 17.0),
        (10.0, 0.1, False, 0.1),  # shorter than a tick: kept, never rounded to nothing
        (10.24, 0.2, True, 0.2),
    ],
)
def test_on_tick(now: float, delay: float, not_sooner: bool, expected: float) -> None:
    assert on_tick(now, delay, not_sooner=not_sooner) == pytest.approx(expected)


ORIGIN = "https://api.wesog.com"


def down_until(until: float, then: Timeline | None = None) -> Timeline:
    """A job whose origin refuses connections until `until`, then runs `steady(10)`."""
    job = steady(10.0)

    def at(t: float) -> object:
        if t < until:
            return ProviderError("cannot reach Wesog: connection refused", origin=ORIGIN)
        return job(t)

    return Timeline(at)  # type: ignore[arg-type]


def test_an_origin_down_is_probed_by_one_read_for_all() -> None:
    # 30 operations of one origin that refuses connections for the first 5 s: one read (the
    # probe) keeps trying it for everyone, within its budget; when it is back, all go on.
    clock = VirtualClock()
    jobs = {str(n): down_until(5.0) for n in range(30)}
    result = watch(jobs, clock, retries=5)
    assert result.code is ExitCode.OK
    reads_while_down = sum(1 for job in jobs.values() for t in job.reads if t < 5.0)
    assert reads_while_down <= 30 + 5  # each op's first read, then only the probe's retries
    retries = [e for e in result.events if e.kind is EventKind.RETRY]
    assert len(retries) <= 5
    assert "30 operations wait on https://api.wesog.com" in str(retries[0].error)
    assert all(s.state is State.SUCCEEDED for s in result.snapshots)


def test_an_origin_down_past_the_budget_ends_all_its_operations_with_one_error() -> None:
    clock = VirtualClock()
    jobs = {str(n): down_until(1e9) for n in range(30)}
    result = watch(jobs, clock, retries=2)
    assert result.code is ExitCode.UNREACHABLE
    errors = [e for e in result.events if e.kind is EventKind.ERROR]
    assert len(errors) == 30
    assert [e.echo for e in errors].count(False) == 1  # said once, echoed for the others
    assert len({id(e.error) for e in errors}) == 1
    assert "this ends all 30 operations of https://api.wesog.com" in str(errors[0].error)
    assert clock.t < 10  # two retries' backoff, not 30 operations' each
