"""`opwatch status` end to end: every state of every provider, JSON through the real jq."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import OPWATCH, run_opwatch

pytestmark = pytest.mark.e2e

EXPECTED_STATES = {
    "wesog": {"pending", "running", "succeeded", "partial", "failed"},
    "toloka": {"pending", "running", "succeeded", "partial", "failed", "unknown"},
    "trafficops": {"running", "succeeded", "partial", "failed", "unknown"},
}


def test_every_state_of_every_provider(scenario_refs: list[str], config: Path) -> None:
    result = run_opwatch("status", "-", "-o", "json", stdin="\n".join(scenario_refs))
    assert result.code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["ref"] for r in records] == scenario_refs  # REF order
    seen: dict[str, set[str]] = {}
    for record in records:
        seen.setdefault(record["provider"], set()).add(record["state"])
        assert record["error"] is None
        assert record["terminal"] == (record["state"] in ("succeeded", "partial", "failed"))
    assert seen == EXPECTED_STATES
    assert "does not know; it is shown as 'unknown'" in result.stderr


def test_table_output(scenario_refs: list[str], config: Path) -> None:
    refs = scenario_refs
    result = run_opwatch("status", *refs[:3])
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["REF", "KIND", "STATE"]
    assert "succeeded" in lines[1]
    assert "partial" in lines[2]
    assert "30 ok, 10 bad" in lines[2]
    assert "\x1b" not in result.stdout  # no colour codes into a pipe


def test_json_through_jq(scenario_refs: list[str], config: Path) -> None:
    refs = scenario_refs
    status = run_opwatch("status", *refs, "--json")
    jq = subprocess.run(
        ["jq", "-e", "-s", 'map(select(.state == "failed")) | length == 3'],
        input=status.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert jq.returncode == 0, jq.stdout + jq.stderr
    failed = subprocess.run(
        ["jq", "-r", 'select(.provider == "toloka" and .state == "failed") | .kind'],
        input=status.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert failed.stdout.split() == ["POOL.OPEN"]


@pytest.mark.parametrize(
    ("flags", "code"), [(["--exit-status"], 3), (["--exit-status", "--allow-partial"], 3), ([], 0)]
)
def test_exit_status(scenario_refs: list[str], config: Path, flags: list[str], code: int) -> None:
    assert run_opwatch("status", *scenario_refs, *flags, "-q").code == code


def test_exit_status_not_done_is_4(scenario_refs: list[str], config: Path) -> None:
    running = scenario_refs[3]  # a day-long job
    assert run_opwatch("status", running, "--exit-status").code == 4


def test_default_profile_and_location_ids(scenario_refs: list[str], config: Path) -> None:
    toloka_ref = next(r for r in scenario_refs if r.startswith("crowd:"))
    bare = toloka_ref.partition(":")[2]
    result = run_opwatch("status", bare, "--json")  # default_profile: crowd
    assert json.loads(result.stdout)["ref"] == toloka_ref
    result = run_opwatch("status", "cdn:/api/4.0/async_status/1", "--json")
    assert json.loads(result.stdout)["ref"] == "cdn:1"


def test_closed_pipe_ends_quietly(scenario_refs: list[str], config: Path) -> None:
    refs = "\n".join(scenario_refs * 20)
    done = subprocess.run(
        f"{OPWATCH} status - -o json | head -1",
        shell=True,
        input=refs,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert "Broken pipe" not in done.stderr
