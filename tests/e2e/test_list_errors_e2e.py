"""`opwatch list-errors` end to end: each provider's errors, JSON through jq, GitHub output."""

import subprocess
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import run_opwatch

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
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


def test_json_has_every_row(failing: dict[str, str], config: Path) -> None:
    result = run_opwatch("list-errors", *failing.values(), "--json", "--limit", "1")
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


def test_table_limit_and_more(failing: dict[str, str], config: Path) -> None:
    result = run_opwatch("list-errors", failing["toloka"], failing["clean"], "--limit", "3")
    assert result.code == 0
    assert "… and 16 more" in result.stdout
    assert f"{failing['clean']}: no failed items (succeeded)" in result.stdout
    assert result.stdout.count("input_values.") == 3


def test_group_sorted_by_count(failing: dict[str, str], config: Path) -> None:
    result = run_opwatch("list-errors", failing["toloka"], "--group")
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[1] for row in rows] == ["10", "6", "3"]
    assert rows[0][2:4] == ["input_values.image", "VALUE_REQUIRED"]


def test_exit_status(failing: dict[str, str], config: Path) -> None:
    assert run_opwatch("list-errors", failing["clean"], "--exit-status").code == 0
    assert run_opwatch("list-errors", failing["wesog"], "--exit-status").code == 3
    assert run_opwatch("list-errors", failing["wesog"]).code == 0


def test_github_annotations_and_step_summary(
    failing: dict[str, str], config: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = run_opwatch(
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
    assert (
        lines[-1] == "::notice title=opwatch list-errors::opwatch: 29 failed items in 2 operations"
    )
    text = summary.read_text()
    assert text.startswith("earlier step\n### opwatch list-errors")
    assert "| VALUE_REQUIRED |" in text


def test_a_log_older_than_a_month_is_gone(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "fail_fraction": 0.5, "age_days": 40,
                             "age_s": 100})  # fmt: skip
    result = run_opwatch("list-errors", ref)
    assert result.code == 8
    assert "keeps an operation's log for one month" in result.stderr


def test_wait_errors(failing: dict[str, str], config: Path) -> None:
    result = run_opwatch("wait", failing["pool"], failing["clean"], "--errors")
    assert result.code == 3
    assert "What failed" in result.stdout
    assert "EMPTY_POOL" in result.stdout
