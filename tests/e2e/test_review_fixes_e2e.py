"""Bugs a review found, each seen as a user would meet it: the whole CLI in-process against the
simulator on a virtual clock."""

from pathlib import Path

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli


def test_an_infinite_retry_after_is_ignored(sim: Simulator, cli: Cli, config: Path) -> None:
    # `Retry-After: inf` parses as a float; the engine once rounded it into an OverflowError.
    ref = sim.add_operation({"provider": "toloka", "duration_s": 3, "age_s": 1})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": float("inf")})
    result = cli("wait", ref, "--json")
    assert result.code == 0, result.stderr
    assert '"state":"succeeded"' in result.stdout
    reads = sim.reads_of(ref)
    assert reads[1] - reads[0] < 60  # the engine's own back-off


def test_a_retry_after_of_ages_is_waited_out_for_one_day(
    sim: Simulator, cli: Cli, config: Path
) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 3, "age_s": 1})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": 1e300})
    result = cli("wait", ref, "--json", "--timeout", "2d")
    assert result.code == 0, result.stderr
    assert '"state":"succeeded"' in result.stdout
    reads = sim.reads_of(ref)
    assert reads[1] - reads[0] == 86_400
