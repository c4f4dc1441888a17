"""The simulator's clock: a manual clock moves only when told, any object with `monotonic()`
and `now()` can drive a simulator, and every time the simulator shows comes from it."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from opwatch.simulator import Clock, ManualClock, Simulator, SystemClock
from tests.simulator.conftest import KEY, LOGIN, op_id


def test_a_manual_clock_moves_only_when_told() -> None:
    start = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    clock = ManualClock(start)
    assert (clock.monotonic(), clock.now()) == (0.0, start)
    clock.advance(1.5)
    clock.advance(0.25)
    assert clock.monotonic() == 1.75
    assert clock.now() == start + timedelta(seconds=1.75)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2024, 1, 1))


def test_small_steps_add_up_exactly() -> None:
    clock = ManualClock()
    for _ in range(1000):
        clock.advance(0.001)
    assert clock.monotonic() == 1.0


def test_both_clocks_follow_the_protocol() -> None:
    for clock in (ManualClock(), SystemClock()):
        assert isinstance(clock, Clock)
        assert clock.now().tzinfo is not None
        assert clock.now().utcoffset() == timedelta(0)


class SharedClock:
    """A clock of some other part of a test (say, the opwatch client's), with nothing of the
    simulator's: the two methods are all a simulator needs."""

    def __init__(self) -> None:
        self.seconds = 500.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=self.seconds)


def test_any_object_with_the_two_methods_drives_a_simulator() -> None:
    clock = SharedClock()
    with Simulator(clock=clock) as sim, httpx.Client(base_url=sim.url) as http:
        ref = sim.add_operation({"provider": "wesog", "duration_s": 60, "items": 60})
        clock.seconds += 30
        body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
        assert (body["num_good"], body["is_finished"]) == (30, False)
        assert body["created_at"] == "2030-01-01T00:08:20.000+00:00"
        clock.seconds += 30
        body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
        assert body["finished_at"] == "2030-01-01T00:09:20.000+00:00"
        assert sim.reads_of(ref) == [530.0, 560.0]
        with pytest.raises(TypeError, match="SharedClock cannot be advanced"):
            sim.advance(1)


def test_simulator_advance_moves_its_manual_clock(sim: Simulator, clock: ManualClock) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 10})
    operation = sim.operation("toloka", op_id(ref))
    assert operation is not None
    assert operation.state() == "running"
    sim.advance(10)
    assert clock.monotonic() == 10.0
    assert operation.state() == "succeeded"


def test_time_stands_still_between_reads(sim: Simulator, http: httpx.Client) -> None:
    # However long the machine takes, the body is the same until the clock moves.
    ref = sim.add_operation({"provider": "trafficops", "kind": "acme_renew", "items": 1000})
    http.post("/api/5.0/user/login", json=LOGIN)
    bodies = {http.get(f"/api/5.0/async_status/{op_id(ref)}").text for _ in range(20)}
    assert len(bodies) == 1
