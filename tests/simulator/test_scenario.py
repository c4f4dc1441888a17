"""Scenarios: the YAML file format and its error messages, the built-in default and demo
scenarios, the simulated clock and its speed."""

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from opwatch.simulator import (
    ManualClock,
    OperationSpec,
    Scenario,
    Simulator,
    default_scenario,
    demo_scenario,
    load_scenario,
)
from opwatch.simulator.providers.toloka import log_gone
from tests.simulator.conftest import KEY, op_id

STATES = {"pending", "running", "stuck", "succeeded", "partial", "failed"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_a_scenario_file(tmp_path: Path) -> None:
    path = write(tmp_path, """
speed: 5
operations:
  - {provider: wesog, kind: add image, items: 3}
  - {provider: toloka, id: my-op, fail_fraction: 0.5, reports_progress: false}
  - {provider: trafficops, kind: dnssec_refresh, start_delay_s: -30}
faults:
  - {kind: 5xx, route: toloka, count: 2}
""")  # fmt: skip
    scenario = load_scenario(path)
    assert scenario.speed == 5
    assert [op.provider for op in scenario.operations] == ["wesog", "toloka", "trafficops"]
    assert scenario.operations[1].id == "my-op"
    assert scenario.faults == [{"kind": "5xx", "route": "toloka", "count": 2}]
    with Simulator(scenario) as sim:
        assert sim.speed == 5
        assert sim.refs()[1] == "crowd:my-op"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("operations: [", "is not valid YAML"),
        ("- 1\n- 2\n", "must be a mapping with an 'operations' list"),
        ("operations: []\nspeeed: 2\n", "unknown key(s) speeed"),
        ("operations: [1]\n", "operation 1 must be a mapping"),
        ("operations:\n  - {provider: wesog, itmes: 3}\n", "operation 1: unknown operation key"),
        ("operations:\n  - {provider: nasa}\n", "operation 1: provider must be one of"),
        ("operations:\n  - {provider: wesog, items: ten}\n", "items must be a number"),
        ("operations:\n  - {provider: wesog, items: 2.5}\n", "items must be a whole number"),
        ("operations:\n  - {provider: wesog, fail_fraction: 2}\n", "between 0 and 1"),
        ("operations:\n  - {provider: wesog, duration_s: 0}\n", "duration_s must be positive"),
        ("operations:\n  - {provider: wesog, outcome: great}\n", "outcome must be one of"),
        ("operations:\n  - {provider: wesog, id: abc}\n", "id must be an integer"),
        ("operations:\n  - {provider: trafficops, kind: reboot}\n", "kind must be one of"),
        ("operations:\n  - {provider: toloka, reports_progress: maybe}\n", "true or false"),
        ("operations: []\nfaults: [{kind: meteor}]\n", "fault 1: fault kind must be one of"),
        ("operations: []\nfaults: {kind: 5xx}\n", "'faults' must be a list"),
        ("operations: []\nspeed: -1\n", "'speed' must be a positive number"),
    ],
)  # fmt: skip
def test_bad_scenarios_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match="scenario") as caught:
        load_scenario(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read scenario .*No such file"):
        load_scenario(tmp_path / "nope.yaml")


def test_the_default_scenario_has_every_state_of_every_provider_at_once() -> None:
    clock = ManualClock()
    with Simulator(default_scenario(), clock=clock) as sim:
        for _ in range(2):  # at the start, and still a day and a half later
            seen: dict[str, set[str]] = {}
            for (provider, _), operation in sim.operations.items():
                seen.setdefault(provider, set()).add(operation.state())
            assert seen == {"wesog": STATES, "toloka": STATES, "trafficops": STATES}
            clock.advance(0.5 * 86400)
        toloka = sim.operations_of("toloka")
        assert "ARCHIVED" in {op.body()["status"] for op in toloka}
        jobs = [op.body()["response"] for op in sim.operations_of("trafficops")]
        assert "ARCHIVED" in {job["status"] for job in jobs}
        assert any("progress" not in op.body() for op in toloka)
        assert any(log_gone(op) for op in toloka)


def test_the_demo_scenario() -> None:
    ops = demo_scenario().operations
    assert [(op.provider, op.kind, op.final) for op in ops] == [
        ("wesog", "add image", "succeeded"),
        ("wesog", "upd video", "partial"),
        ("toloka", "TASK_SUITE.BATCH_CREATE", "partial"),
        ("toloka", "POOL.OPEN", "failed"),
        ("trafficops", "acme_renew", "partial"),
        ("trafficops", "dnssec_refresh", "succeeded"),
    ]
    assert max(op.start_delay_s + op.duration_s for op in ops) <= 15


def test_scenario_clocks_start_with_the_simulator() -> None:
    clock = ManualClock()
    sim = Simulator(Scenario([OperationSpec("wesog", duration_s=1, items=10)]), clock=clock)
    started_at = clock.now()
    clock.advance(30)  # not serving yet: the operation's clock has not started
    with sim:
        [operation] = sim.operations.values()
        assert operation.phase().done == 0
        clock.advance(0.55)
        body = operation.body()
        assert (body["num_good"], body["is_finished"]) == (5, False)
        assert body["created_at"] == (started_at + timedelta(seconds=30)).isoformat(
            timespec="milliseconds"
        )


def test_speed_runs_the_clock_faster() -> None:
    clock = ManualClock()
    with (
        Simulator(speed=10, clock=clock) as sim,
        httpx.Client(base_url=sim.url) as http,
    ):
        ref = sim.add_operation({"provider": "wesog", "duration_s": 3, "items": 10})
        clock.advance(0.29)  # 2.9 simulated seconds
        body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
        assert (body["is_finished"], body["num_good"]) == (False, 9)
        clock.advance(0.015)
        body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
        assert (body["is_finished"], body["num_good"]) == (True, 10)
        assert body["exec_ms"] == 300  # timestamps follow the clock, not the simulated time


def test_the_real_clock_cannot_be_advanced() -> None:
    with pytest.raises(TypeError, match="SystemClock cannot be advanced; use a ManualClock"):
        Simulator().advance(1)


def test_operation_spec_defaults() -> None:
    spec = OperationSpec()
    assert (spec.provider, spec.duration_s, spec.items, spec.final) == ("toloka", 10.0, 100,
                                                                        "succeeded")  # fmt: skip
    assert OperationSpec(fail_fraction=0.2).final == "partial"
    assert OperationSpec(fail_fraction=1).final == "failed"
    assert OperationSpec.from_dict({"provider": "wesog", "id": 7}).id == "7"


def test_a_partial_operation_has_good_and_bad_items_however_small(sim: Simulator) -> None:
    ref = sim.add_operation({"provider": "wesog", "items": 2, "outcome": "partial", "age_s": 99})
    operation = sim.operation("wesog", op_id(ref))
    assert operation is not None
    body = operation.body()
    assert (body["num_good"], body["num_bad"]) == (1, 1)


def test_duplicate_ids_are_refused(sim: Simulator) -> None:
    sim.add_operation({"provider": "toloka", "id": "same"})
    with pytest.raises(ValueError, match="already exists"):
        sim.add_operation({"provider": "toloka", "id": "same"})
    assert sim.add_operation({"provider": "trafficops", "id": 1}) == "cdn:1"
    assert sim.add_operation({"provider": "trafficops"}) == "cdn:2"  # generated ids skip it
