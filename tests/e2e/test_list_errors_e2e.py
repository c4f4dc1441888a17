"""`opwatch list-errors` end to end: each provider's errors, JSON through the real jq, GitHub
output."""

import json
import subprocess
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def failing(sim: Simulator) -> dict[str, str]:
    """One finished operation with failed items per provider, and a clean one."""
    return {
        "toloka": sim.add_operation(
            {"provider": "toloka", "items": 40, "fail_fraction": 0.25, "age_s": 100}
        ),
        "pool": sim.add_operation(
            {"provider": "toloka", "kind": "POOL.OPEN", "outcome": "failed", "age_s": 100}
        ),
        "wesog": sim.add_operation(
            {"provider": "wesog", "items": 20, "fail_fraction": 0.5, "age_s": 100}
        ),
        "cdn": sim.add_operation(
            {
                "provider": "trafficops",
                "kind": "dnssec_refresh",
                "items": 6,
                "fail_fraction": 0.34,
                "age_s": 100,
            }
        ),
        "clean": sim.add_operation({"provider": "wesog", "items": 5, "age_s": 100}),
    }


def jq(expression: str, text: str) -> str:
    return subprocess.run(
        ["jq", "-r", "-s", expression], input=text, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_json_has_every_row(cli: Cli, failing: dict[str, str], config: Path) -> None:
    result = cli("list-errors", *failing.values(), "--json", "--limit", "1")
    assert result.code == 0, result.stderr
    # Toloka: 10 failed items, 1-3 fields each (4 of each count) → 4*1 + 3*2 + 3*3 = 19 rows.
    assert jq(f'map(select(.ref == "{failing["toloka"]}")) | length', result.stdout) == "19"
    assert jq(f'map(select(.ref == "{failing["pool"]}")) | .[0].code', result.stdout) == (
        "EMPTY_POOL"
    )
    assert jq(f'map(select(.ref == "{failing["wesog"]}")) | length', result.stdout) == "10"
    cdn = jq(f'map(select(.ref == "{failing["cdn"]}")) | .[0].message', result.stdout)
    assert cdn == "DNSSEC refresh failed (updated 4 keys, but 2 errors occurred)"
    keys = jq('map(keys) | unique | .[0] | join(",")', result.stdout)
    assert keys == "code,field,id,item,message,provider,ref,step"
    assert jq('map(select(.field == "input_values.image")) | .[0].step', result.stdout) == (
        "TASK_SUITE_VALIDATE"
    )


def test_table_limit_and_more(cli: Cli, failing: dict[str, str], config: Path) -> None:
    result = cli("list-errors", failing["toloka"], failing["clean"], "--limit", "3")
    assert result.code == 0
    assert "… and 16 more" in result.stdout
    assert f"{failing['clean']}: no failed items (succeeded)" in result.stdout
    assert result.stdout.count("input_values.") == 3


def test_group_sorted_by_count(cli: Cli, failing: dict[str, str], config: Path) -> None:
    result = cli("list-errors", failing["toloka"], "--group")
    assert result.code == 0
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[1] for row in rows] == ["10", "6", "3"]
    assert rows[0][2:4] == ["input_values.image", "VALUE_REQUIRED"]


def test_exit_status(cli: Cli, failing: dict[str, str], config: Path) -> None:
    assert cli("list-errors", failing["clean"], "--exit-status").code == 0
    assert cli("list-errors", failing["wesog"], "--exit-status").code == 3
    assert cli("list-errors", failing["wesog"]).code == 0


def test_github_annotations_and_step_summary(
    cli: Cli, failing: dict[str, str], config: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = cli(
        "list-errors",
        failing["toloka"],
        failing["wesog"],
        "-o",
        "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert all(line.startswith(("::error title=", "::notice title=")) for line in lines)
    assert lines[0].startswith(f"::error title={failing['toloka'].replace(':', '%3A')} item ")
    # GitHub shows 10 error annotations a step: 10, then a notice with the true totals: 29
    # rows for 20 failed items (10 of Toloka's 40, 10 of Wesog's 20; a Toloka item can fail
    # on several fields, a row each).
    assert len(lines) == 11
    assert lines[-1] == (
        "::notice title=opwatch list-errors::opwatch: 29 error rows (20 failed items) in 2 of 2 "
        "operations; the first 10 rows are annotations (GitHub shows 10 a step): opwatch "
        "list-errors -o json lists them all"
    )
    text = summary.read_text()
    assert text.startswith("earlier step\n### opwatch list-errors")
    assert "| VALUE_REQUIRED |" in text


def test_wait_errors(cli: Cli, sim: Simulator, failing: dict[str, str], config: Path) -> None:
    result = cli("wait", failing["pool"], failing["clean"], failing["cdn"], "--errors")
    assert result.code == 3
    assert "What failed" in result.stdout
    assert "EMPTY_POOL" in result.stdout
    assert "DNSSEC refresh failed" in result.stdout
    assert sim.stats()["by_route"]["login"] == 1  # one session for the wait and the listing


def test_wait_errors_as_json(cli: Cli, failing: dict[str, str], config: Path) -> None:
    result = cli("wait", failing["wesog"], failing["clean"], "--errors", "--json")
    assert result.code == 3
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["state"] for r in records[:2]] == ["partial", "succeeded"]
    assert len(records) == 2 + 10  # the operations, then the failed items of the partial one
    assert {r["ref"] for r in records[2:]} == {failing["wesog"]}
