"""What a person sees, end to end and in-process: the closing verdict, tables fitted to the
terminal or whole in a pipe, `-o wide`, GitHub output of wait and list-errors, `--group` in
every format, TERM=dumb, and the demo's "try next" commands."""

import json
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def four(sim: Simulator) -> dict[str, str]:
    """A success, a failure, a partial and a stuck Traffic Ops job, all started now."""
    return {
        "ok": sim.add_operation({"provider": "wesog", "duration_s": 1, "items": 10}),
        "bad": sim.add_operation(
            {"provider": "toloka", "duration_s": 1, "items": 10, "outcome": "failed"}
        ),
        "part": sim.add_operation(
            {"provider": "wesog", "duration_s": 1, "items": 80, "fail_fraction": 0.1}
        ),
        "stuck": sim.add_operation(
            {"provider": "trafficops", "outcome": "stuck", "kind": "acme_renew"}
        ),
    }


def verdict(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("opwatch: ")][1:]


def test_wait_closes_with_a_verdict(cli: Cli, four: dict[str, str], config: Path) -> None:
    result = cli("wait", *four.values(), "--timeout", "3s")
    assert result.code == 3
    assert verdict(result.stderr) == [
        f"opwatch: {four['bad']} failed: 10 of 10 items bad",
        f"opwatch: {four['part']} partial: 8 of 80 items bad",
        f"opwatch: {four['stuck']} timed out after 3.0s, still running (ACME renewal in "
        "progress. 30 certs renewed, 0 errors.)",
        "opwatch: 1 of 4 succeeded, 1 partial, 1 failed, 1 timed out; exit 3",
    ]
    assert result.stderr.endswith("exit 3\n")  # the last word


def test_a_deadline_alone_says_so(cli: Cli, four: dict[str, str], config: Path) -> None:
    result = cli("wait", four["ok"], four["stuck"], "--timeout", "2s")
    assert result.code == 4
    assert verdict(result.stderr)[-1] == "opwatch: 1 of 2 succeeded, 1 timed out; exit 4"


def test_allowed_partial_counts_as_success(cli: Cli, four: dict[str, str], config: Path) -> None:
    result = cli("wait", four["ok"], four["part"], "--allow-partial")
    assert result.code == 0
    assert verdict(result.stderr) == ["opwatch: 2 of 2 succeeded (1 partial, allowed); exit 0"]


def test_quiet_silences_the_verdict(cli: Cli, four: dict[str, str], config: Path) -> None:
    result = cli("wait", *four.values(), "--timeout", "3s", "-q")
    assert result.code == 3
    assert result.stderr == ""


def test_status_exit_status_judges_with_a_verdict(
    cli: Cli, four: dict[str, str], config: Path
) -> None:
    cli("wait", four["ok"], four["bad"], four["part"], "-q")  # let them finish
    result = cli("status", *four.values(), "--exit-status")
    assert result.code == 3
    lines = verdict(result.stderr)
    assert lines[-2].startswith(f"opwatch: {four['stuck']} still running (ACME renewal in")
    assert lines[-1] == "opwatch: 1 of 4 succeeded, 1 partial, 1 failed, 1 still running; exit 3"
    plain = cli("status", *four.values())
    assert plain.code == 0
    assert plain.stderr == ""  # without --exit-status, status does not judge


def test_a_pipe_gets_whole_lines_without_padding(
    cli: Cli, scenario_refs: list[str], config: Path
) -> None:
    piped = cli("status", *scenario_refs).stdout.splitlines()
    assert all(line == line.rstrip() for line in piped)
    assert piped[0].split() == ["REF", "KIND", "STATE", "PROGRESS", "ITEMS", "TIME", "NOTE"]
    assert len(piped) == 1 + len(scenario_refs)  # one line each, nothing folded
    assert max(map(len, piped)) > 160  # natural widths, not a made-up page width


def test_a_terminal_of_80_columns_gets_one_line_per_operation(
    cli: Cli, scenario_refs: list[str], config: Path
) -> None:
    terminal = {"COLUMNS": "80", "NO_COLOR": "1"}
    lines = cli("status", *scenario_refs, stdout_is_tty=True, env=terminal)
    table = lines.stdout.splitlines()
    assert len(table) == 1 + len(scenario_refs)
    assert all(len(line) <= 80 for line in table)
    for line, ref in zip(table[1:], scenario_refs, strict=True):
        assert line.startswith(ref + " ")  # whole, never cropped
        assert line.split()[1] in ("pending", "running", "succeeded", "partial", "failed",
                                   "unknown")  # fmt: skip
    wide = cli("status", *scenario_refs, "-o", "wide", stdout_is_tty=True, env=terminal)
    assert wide.stdout.splitlines()[0].split() == [
        "REF", "KIND", "STATE", "PROGRESS", "ITEMS", "TIME", "NOTE"
    ]  # fmt: skip
    assert max(map(len, wide.stdout.splitlines())) > 80  # every column, unclipped


def test_wait_github(cli: Cli, four: dict[str, str], config: Path) -> None:
    result = cli("wait", *four.values(), "--timeout", "3s", "-o", "github")
    assert result.code == 3
    assert result.stdout.splitlines() == [
        f"::error title=opwatch wait%3A {four['bad'].replace(':', '%3A')}::{four['bad']} failed: "
        "10 of 10 items bad",
        f"::error title=opwatch wait%3A {four['part'].replace(':', '%3A')}::{four['part']} "
        "partial: 8 of 80 items bad",
        f"::error title=opwatch wait%3A {four['stuck'].replace(':', '%3A')}::{four['stuck']} "
        "timed out after 3.0s, still running (ACME renewal in progress. 30 certs renewed, 0 "
        "errors.)",
        "::notice title=opwatch wait::opwatch: 1 of 4 succeeded, 1 partial, 1 failed, 1 timed "
        "out; exit 3",
    ]
    log = result.stderr.splitlines()
    opened, closed = log.index("::group::opwatch wait: 4 operations"), log.index("::endgroup::")
    assert opened < closed
    assert any(four["bad"] + " failed" in line for line in log[opened:closed])
    assert log[-1] == "opwatch: 1 of 4 succeeded, 1 partial, 1 failed, 1 timed out; exit 3"


def test_group_in_json_and_github(cli: Cli, four: dict[str, str], config: Path) -> None:
    cli("wait", four["bad"], four["part"], "-q")
    grouped = cli("list-errors", four["part"], four["bad"], "--group", "--json")
    assert grouped.code == 0
    records = [json.loads(line) for line in grouped.stdout.splitlines()]
    assert {record["ref"] for record in records} == {four["part"], four["bad"]}
    assert sum(r["count"] for r in records if r["ref"] == four["part"]) == 8  # 8 of 80 bad
    assert all(set(r) == {"ref", "provider", "id", "count", "code", "field", "message", "items"}
               for r in records)  # fmt: skip
    github = cli("list-errors", four["part"], four["bad"], "--group", "-o", "github")
    lines = github.stdout.splitlines()
    assert len(lines) == len(records) + 1  # one annotation per group, then the notice
    assert lines[-1].startswith("::notice title=opwatch list-errors::opwatch: ")
    assert "error rows" in lines[-1]


def test_term_dumb_gets_the_line_log(cli: Cli, four: dict[str, str], config: Path) -> None:
    result = cli("wait", four["ok"], stderr_is_tty=True, env={"TERM": "dumb"})
    assert result.code == 0
    assert "\x1b" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("opwatch: waiting for 1 operation")
    assert lines[-2].endswith(f"{four['ok']} succeeded 10/10 100%, 10 ok, 0 bad")
    assert lines[-1] == "opwatch: 1 of 1 succeeded; exit 0"


@pytest.mark.parametrize(
    ("env", "command"),
    [
        ({"UV_RUN_RECURSION_DEPTH": "1", "PATH": "/nowhere"}, "uv run opwatch"),
        ({"PATH": "/nowhere"}, "-m opwatch"),
    ],
)
def test_demo_try_next_commands_run_where_the_demo_ran(env: dict[str, str], command: str) -> None:
    from opwatch.commands.demo import next_steps

    steps = next_steps(env)
    commands = [line.strip() for line in steps.splitlines() if "opwatch" in line and "sim" in line]
    assert commands, steps
    assert all(command in line for line in steps.splitlines() if line.startswith("  ") and
               "opwatch" in line and "OPWATCH_CONFIG" not in line)  # fmt: skip
    assert "--timeout 30s" in steps  # the default scenario has day-long and stuck jobs
