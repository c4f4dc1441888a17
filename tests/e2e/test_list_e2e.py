"""`opwatch list` end to end against the simulator: Toloka's filters and paging, Wesog's array
filtered by opwatch, the three output formats, `-o ref` into `wait -`, and Traffic Ops' refusal."""

import json
from pathlib import Path

import pytest

from opwatch.providers import toloka
from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e


def ids_of(sim: Simulator, provider: str, *states: str) -> list[str]:
    """The REFs of `provider`'s operations in the simulated `states`, in the simulator's view."""
    return [op.ref for op in sim.operations_of(provider) if not states or op.state() in states]


def toloka_order(refs: list[str]) -> list[str]:
    """Toloka lists by id (`sort=id`)."""
    return sorted(refs, key=lambda ref: ref.partition(":")[2])


def test_toloka_pages_until_has_more_is_false(
    sim: Simulator, cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toloka, "PAGE_LIMIT", 4)  # 10 operations: pages of 4, 4 and 2
    sim.add_operation({"provider": "toloka", "age_s": 100})
    sim.reset_stats()
    result = cli("list", "crowd", "-o", "ref")
    assert result.code == 0, result.stderr
    everything = ids_of(sim, "toloka")
    assert len(everything) == 10
    assert result.stdout.splitlines() == toloka_order(everything)  # each once, in id order
    assert sim.stats()["by_route"] == {"toloka_list": 3}


def test_toloka_filters(sim: Simulator, cli: Cli, config: Path) -> None:
    old = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "age_s": 7200})
    new = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "age_s": 60})
    kinds = cli("list", "crowd", "--kind", "pool.open", "-o", "ref").stdout.splitlines()
    assert sorted(kinds) == sorted([old, new, *ids_of(sim, "toloka", "failed")])
    recent = cli("list", "crowd", "--kind", "POOL.OPEN", "--since", "90m", "-o", "ref")
    assert old not in recent.stdout.split()
    assert new in recent.stdout.split()

    running = cli("list", "crowd", "--state", "running", "-o", "ref")
    assert running.stdout.splitlines() == toloka_order(ids_of(sim, "toloka", "running", "stuck"))
    # SUCCESS with failed items is partial: Toloka filters SUCCESS, opwatch tells the two apart.
    partial = cli("list", "crowd", "--state", "partial", "-o", "ref")
    assert partial.stdout.splitlines() == toloka_order(ids_of(sim, "toloka", "partial"))
    assert set(partial.stdout.split()).isdisjoint(ids_of(sim, "toloka", "succeeded"))
    active = cli("list", "crowd", "--state", "pending,running", "-o", "ref").stdout.split()
    assert sorted(active) == sorted(ids_of(sim, "toloka", "pending", "running", "stuck"))


def test_wesog_is_filtered_by_opwatch(sim: Simulator, cli: Cli, config: Path) -> None:
    result = cli("list", "media", "--state", "terminal", "--json")
    assert result.code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["ref"] for r in records] == ids_of(sim, "wesog", "succeeded", "partial", "failed")
    assert {r["provider"] for r in records} == {"wesog"}
    assert all(r["terminal"] for r in records)
    assert records[0]["raw"]["id"] == int(records[0]["id"])  # the operation object of SPEC.md
    kind = cli("list", "media", "--kind", "upd video", "-o", "ref").stdout.split()
    assert kind == [op.ref for op in sim.operations_of("wesog") if op.kind == "upd video"]
    assert kind  # the scenario has some


def test_limit_stops_the_listing(
    sim: Simulator, cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toloka, "PAGE_LIMIT", 2)
    sim.reset_stats()
    result = cli("list", "crowd", "--limit", "3", "-o", "ref")
    assert result.stdout.splitlines() == toloka_order(ids_of(sim, "toloka"))[:3]
    assert sim.stats()["by_route"] == {"toloka_list": 2}  # no page after the third operation


def test_list_refs_piped_into_wait(sim: Simulator, cli: Cli, config: Path) -> None:
    kind = "USER_BONUS.BATCH_CREATE"  # a kind of its own: the scenario's others never end
    soon = [
        sim.add_operation({"provider": "toloka", "kind": kind, "duration_s": 20 + i, "items": 10})
        for i in range(3)
    ]
    sim.add_operation({"provider": "toloka", "kind": kind, "start_delay_s": 60})  # pending
    listed = cli("list", "crowd", "--state", "running", "--kind", kind, "-o", "ref")
    assert sorted(listed.stdout.split()) == sorted(soon)
    waited = cli("wait", "-", "--json", "--timeout", "5m", stdin=listed.stdout)
    assert waited.code == 0, waited.stderr
    finals = [json.loads(line) for line in waited.stdout.splitlines()]
    assert sorted(r["ref"] for r in finals) == sorted(soon)
    assert {r["state"] for r in finals} == {"succeeded"}


def test_the_table_comes_in_aligned_blocks(sim: Simulator, cli: Cli, config: Path) -> None:
    # 151 rows: two blocks; the first sets the widths (ids of 4 digits), the second's last
    # REF is longer and widens its column rather than being cut.
    for _ in range(150 - len(ids_of(sim, "wesog"))):
        sim.add_operation({"provider": "wesog", "age_s": 30})
    sim.add_operation({"provider": "wesog", "id": 123456, "age_s": 30})
    result = cli("list", "media", env={"COLUMNS": "150", "NO_COLOR": "1"}, stdout_is_tty=True)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["REF", "KIND", "STATE", "PROGRESS", "ITEMS", "SUBMITTED", "TIME"]
    assert [line.split()[0] for line in lines[1:]] == ids_of(sim, "wesog")
    assert len(lines) == 1 + 151  # one header

    def second_column(line: str) -> int:
        ref, second = line.split()[:2]
        return line.index(second, len(ref))

    # Block one is aligned with the header, and block two in itself.
    assert {second_column(line) for line in lines[:101]} == {lines[0].index("KIND")}
    assert len({second_column(line) for line in lines[101:]}) == 1


def test_nothing_matches(cli: Cli, config: Path) -> None:
    result = cli("list", "media", "--kind", "no such kind")
    assert (result.code, result.stdout) == (0, "")
    assert "no operation of profile 'media' matches" in result.stderr


def test_traffic_ops_has_no_list(sim: Simulator, cli: Cli, config: Path) -> None:
    sim.reset_stats()
    result = cli("list", "cdn")
    assert result.code == 2
    assert result.stderr == (
        "opwatch: error: Traffic Ops has no list of operations (profile 'cdn'); "
        "pass the ids to status or wait\n"
    )
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--state", "done"], 2, "unknown state 'done' (choose from pending, running,"),
        (["--since", "last week"], 2, "--since 'last week' is neither a duration"),
        (["-o", "github"], 2, "-o github is not available here"),
        (["nosuch"], 5, "unknown profile 'nosuch'"),
    ],
)
def test_bad_input(cli: Cli, config: Path, args: list[str], code: int, said: str) -> None:
    result = cli("list", *(["crowd"] if args[0].startswith("-") else []), *args)
    assert result.code == code
    assert said in result.stderr
    assert "Traceback" not in result.stderr


def test_a_page_that_fails_once_is_asked_for_again(
    sim: Simulator, cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toloka, "PAGE_LIMIT", 4)  # 9 operations: pages of 4, 4 and 1
    sim.reset_stats()
    sim.add_fault({"kind": "429", "route": "toloka_list", "count": 1, "retry_after": 3})
    result = cli("list", "crowd", "-o", "ref")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == toloka_order(ids_of(sim, "toloka"))
    assert len(ids_of(sim, "toloka")) == 9
    assert sim.stats()["by_route"] == {"toloka_list": 4}  # the first page twice
    assert "asking for page 1 of the list again in 3s" in result.stderr  # its Retry-After


def test_wesog_asks_for_its_list_again_before_the_first_entry(
    sim: Simulator, cli: Cli, config: Path
) -> None:
    sim.reset_stats()
    sim.add_fault({"kind": "5xx", "route": "wesog_list", "count": 2})
    result = cli("list", "media", "-o", "ref")
    assert result.code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(ids_of(sim, "wesog"))
    assert sim.stats()["by_route"] == {"wesog_list": 3}
    assert result.stderr.count("asking for the list again") == 2


def test_a_failing_list_is_7_and_a_refused_key_6(sim: Simulator, cli: Cli, config: Path) -> None:
    sim.reset_stats()
    sim.add_fault({"kind": "5xx", "route": "toloka_list", "count": 10})
    failed = cli("list", "crowd", "-o", "ref")
    assert (failed.code, failed.stdout) == (7, "")
    assert "Toloka at http://" in failed.stderr
    assert sim.stats()["by_route"] == {"toloka_list": 4}  # once and three more times
    assert "(asked 4 times for page 1 of the list)" in failed.stderr
    config.write_text(config.read_text().replace("sim-wesog-key", "wrong-key"))
    denied = cli("list", "media")
    assert denied.code == 6
    assert "wrong-key" not in denied.stderr + denied.stdout
