"""`opwatch status` end to end: every state of every provider, JSON through the real jq."""

import json
import subprocess
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

EXPECTED_STATES = {
    "wesog": {"pending", "running", "succeeded", "partial", "failed"},
    "toloka": {"pending", "running", "succeeded", "partial", "failed", "unknown"},
    "trafficops": {"running", "succeeded", "partial", "failed", "unknown"},
}


def test_every_state_of_every_provider(cli: Cli, scenario_refs: list[str], config: Path) -> None:
    result = cli("status", "-", "-o", "json", stdin="\n".join(scenario_refs))
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


def test_table_output(cli: Cli, scenario_refs: list[str], config: Path) -> None:
    refs = scenario_refs
    result = cli("status", *refs[:3])
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["REF", "KIND", "STATE"]
    assert "succeeded" in lines[1]
    assert "partial" in lines[2]
    assert "30 ok, 10 bad" in lines[2]
    assert "\x1b" not in result.stdout  # no colour codes into a pipe


def test_json_through_jq(cli: Cli, scenario_refs: list[str], config: Path) -> None:
    refs = scenario_refs
    status = cli("status", *refs, "--json")
    assert status.code == 0
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
def test_exit_status(
    cli: Cli, scenario_refs: list[str], config: Path, flags: list[str], code: int
) -> None:
    assert cli("status", *scenario_refs, *flags, "-q").code == code


def test_exit_status_not_done_is_4(cli: Cli, scenario_refs: list[str], config: Path) -> None:
    running = scenario_refs[3]  # a day-long job
    result = cli("status", running, "--exit-status")
    assert result.code == 4
    assert "running" in result.stdout


def test_default_profile_and_location_ids(cli: Cli, scenario_refs: list[str], config: Path) -> None:
    toloka_ref = next(r for r in scenario_refs if r.startswith("crowd:"))
    bare = toloka_ref.partition(":")[2]
    result = cli("status", bare, "--json")  # default_profile: crowd
    assert result.code == 0
    assert json.loads(result.stdout)["ref"] == toloka_ref
    result = cli("status", "cdn:/api/4.0/async_status/1", "--json")
    assert result.code == 0
    assert json.loads(result.stdout)["ref"] == "cdn:1"


def test_verify_tls_false_warns_once_per_run(cli: Cli, sim: Simulator, config: Path) -> None:
    config.write_text(config.read_text().replace("    url:", "    verify_tls: false\n    url:"))
    refs = [sim.add_operation({"provider": "wesog", "age_s": 60}) for _ in range(3)]
    result = cli("status", *refs, "crowd:x", "--json")
    assert result.code == 8  # crowd:x does not exist; the reads went out all the same
    warnings = [line for line in result.stderr.splitlines() if "does not verify TLS" in line]
    assert warnings == [
        "opwatch: warning: profile 'media' does not verify TLS certificates (verify_tls: false)",
        "opwatch: warning: profile 'crowd' does not verify TLS certificates (verify_tls: false)",
    ]
