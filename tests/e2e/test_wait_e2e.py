"""`opwatch wait` end to end, in-process: the live view, CI logs, events through the real jq,
stop rules, retries on the wire, a Traffic Ops session expiring mid-wait."""

import json
import subprocess
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli, after
from tests.fakes import VirtualClock

pytestmark = pytest.mark.e2e


def test_live_view_on_a_terminal(sim: Simulator, cli: Cli, config: Path) -> None:
    refs = [
        sim.add_operation({"provider": "wesog", "duration_s": 6, "items": 50}),
        sim.add_operation({"provider": "toloka", "duration_s": 5, "fail_fraction": 0.2}),
        sim.add_operation({"provider": "trafficops", "kind": "acme_renew", "duration_s": 4}),
    ]
    result = cli("wait", *refs, stderr_is_tty=True, env={"COLUMNS": "160", "LINES": "40"})
    assert result.code == 3  # one partial
    frames = result.stderr
    assert "overall" in frames
    assert "━" in frames  # the bars
    assert "0/3 done" in frames
    assert "3/3 done" in frames  # the last frame
    assert "running" in frames
    table = result.stdout[result.stdout.index("REF") :]
    for ref in refs:
        assert ref in table
    assert table.count("succeeded") == 2
    assert "partial" in table


def test_ci_log_has_plain_lines_and_no_escape_codes(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 2, "start_delay_s": 4})
    result = cli("wait", ref, env={"FORCE_COLOR": "1"})
    assert result.code == 0
    assert "\x1b" not in result.stderr
    assert "\x1b" not in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith("opwatch: waiting for 1 operation until ")
    states = [line.split()[2] for line in lines[1:-1]]
    assert states == ["pending", "running", "succeeded"]
    assert lines[-1] == "opwatch: 1 of 1 succeeded; exit 0"  # the verdict


def test_quiet_prints_nothing_on_stderr(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "wesog", "duration_s": 2})
    result = cli("wait", ref, "-q", "--json")
    assert result.code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout)["state"] == "succeeded"


def test_events_stream_through_jq(sim: Simulator, cli: Cli, config: Path) -> None:
    ok = sim.add_operation({"provider": "trafficops", "duration_s": 2})
    flaky = sim.add_operation({"provider": "wesog", "duration_s": 3})
    sim.add_fault({"kind": "5xx", "ref": flaky, "count": 2})
    result = cli("wait", ok, flaky, "-o", "events")
    assert result.code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("retry") == 2
    assert kinds.count("done") == 2
    assert kinds[-1] == "summary"
    assert events[-1]["exit_code"] == 0
    assert events[-1]["counts"] == {"succeeded": 2}
    assert "retry 1 in" in result.stderr  # the display says so
    jq = subprocess.run(
        ["jq", "-s", "-e", 'map(select(.event == "done") | .operation.state) | unique'],
        input=result.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert jq.returncode == 0
    assert json.loads(jq.stdout) == ["succeeded"]


def test_until_any_and_fail_fast(sim: Simulator, cli: Cli, config: Path) -> None:
    slow = sim.add_operation({"provider": "toloka", "duration_s": 600})
    quick = sim.add_operation({"provider": "wesog", "duration_s": 1})
    result = cli("wait", slow, quick, "--until", "any", "--json")
    assert result.code == 0
    states = [json.loads(line)["state"] for line in result.stdout.splitlines()]
    assert states == ["running", "succeeded"]  # the slow one was not waited for
    # Made only now, so it fails a second into this wait, after both were read once. Made
    # before the wait above, it would have failed already (that wait took 1.5 s of the shared
    # clock), and whether the slow one's first read beat the stop would be a race in real time.
    failing = sim.add_operation({"provider": "trafficops", "duration_s": 1, "outcome": "failed"})
    result = cli("wait", slow, failing, "--fail-fast", "--json")
    assert result.code == 3
    states = [json.loads(line)["state"] for line in result.stdout.splitlines()]
    assert states == ["running", "failed"]


def test_budget_exhausted_is_7_while_others_finish(sim: Simulator, cli: Cli, config: Path) -> None:
    down = sim.add_operation({"provider": "toloka", "duration_s": 2})
    fine = sim.add_operation({"provider": "wesog", "duration_s": 2})
    sim.add_fault({"kind": "5xx", "ref": down, "count": 50})
    result = cli("wait", down, fine, "--retries", "2", "--json")
    assert result.code == 7
    records = {json.loads(line)["ref"]: json.loads(line) for line in result.stdout.splitlines()}
    assert records[fine]["state"] == "succeeded"
    assert "failing since" in records[down]["error"]["message"]
    assert records[down]["error"]["exit_code"] == 7
    assert len(sim.reads_of(down)) == 3  # the first try and two retries


def test_retry_after_is_honoured_on_the_wire(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 4})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": 3})
    result = cli("wait", ref, "-q")
    assert result.code == 0
    reads = sim.reads_of(ref)
    assert reads[1] - reads[0] >= 3.0


def test_trafficops_session_expiring_mid_wait(
    sim_and_clock: tuple[Simulator, VirtualClock], cli: Cli, config: Path
) -> None:
    sim, clock = sim_and_clock
    ref = sim.add_operation({"provider": "trafficops", "duration_s": 4})
    after(clock, 1.5, lambda: sim.add_fault({"kind": "expire_sessions"}))
    result = cli("wait", ref, "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "succeeded"
    assert sim.stats()["by_route"]["login"] == 2  # logged in again when the session ended


def test_refs_from_stdin(sim: Simulator, cli: Cli, config: Path) -> None:
    refs = [sim.add_operation({"provider": "wesog", "duration_s": 1}) for _ in range(3)]
    result = cli("wait", "-", "--json", stdin=" ".join(refs) + "\n")
    assert result.code == 0
    assert [json.loads(line)["ref"] for line in result.stdout.splitlines()] == refs


def test_demo_waits_then_lists_what_failed() -> None:
    # The demo brings its own simulator, on the runtime's clock: a virtual one here.
    result = Cli(VirtualClock())("demo")
    assert result.code == 0, result.stderr
    assert "opwatch demo: a simulator of Wesog, Toloka and Traffic Ops is serving" in result.stderr
    assert "What failed (opwatch list-errors --group):" in result.stdout
    assert "The wait ended with exit code 3." in result.stdout
