"""`opwatch wait` end to end: the live view in a real terminal (tmux), CI logs, events, jq."""

import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import OPWATCH, run_opwatch

pytestmark = pytest.mark.e2e


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False, timeout=10
    )
    return done.stdout


def test_live_view_in_a_real_terminal(sim: Simulator, config: Path, tmp_path: Path) -> None:
    refs = [
        sim.add_operation({"provider": "wesog", "duration_s": 6, "items": 50}),
        sim.add_operation({"provider": "toloka", "duration_s": 5, "fail_fraction": 0.2}),
        sim.add_operation({"provider": "trafficops", "kind": "acme_renew", "duration_s": 4}),
    ]
    socket = f"opwatch-test-{tmp_path.name}"
    command = (
        f"env -u COLUMNS -u LINES OPWATCH_CONFIG={shlex.quote(str(config))} "
        f"{OPWATCH} wait {' '.join(refs)}; "
        "echo EXIT=$?; sleep 60"
    )
    tmux(socket, "new-session", "-d", "-x", "160", "-y", "40", command)
    try:
        during = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            during = tmux(socket, "capture-pane", "-p")
            if "overall" in during and "━" in during and "running" in during:
                break
            time.sleep(0.2)
        assert "overall" in during, during
        assert "━" in during  # the bars
        assert refs[0] in during
        assert "running" in during
        after = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "EXIT=" not in after:
            time.sleep(0.3)
            after = tmux(socket, "capture-pane", "-p")
        assert "EXIT=3" in after  # one partial
        table = after[after.index("REF") :]
        for ref in refs:
            assert ref in table
        assert "succeeded" in table
        assert "partial" in table
    finally:
        tmux(socket, "kill-server")


def test_ci_log_has_plain_lines_and_no_escape_codes(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 2, "start_delay_s": 4})
    result = run_opwatch("wait", ref, env={"FORCE_COLOR": "1"})
    assert result.code == 0
    assert "\x1b" not in result.stderr
    assert "\x1b" not in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith("opwatch: waiting for 1 operation until ")
    states = [line.split()[2] for line in lines[1:]]
    assert states == ["pending", "running", "succeeded"]


def test_quiet_prints_nothing_on_stderr(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "wesog", "duration_s": 2})
    result = run_opwatch("wait", ref, "-q", "--json")
    assert result.code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout)["state"] == "succeeded"


def test_events_stream_through_jq(sim: Simulator, config: Path) -> None:
    ok = sim.add_operation({"provider": "trafficops", "duration_s": 2})
    flaky = sim.add_operation({"provider": "wesog", "duration_s": 3})
    sim.add_fault({"kind": "5xx", "ref": flaky, "count": 2})
    result = run_opwatch("wait", ok, flaky, "-o", "events")
    assert result.code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("retry") == 2
    assert kinds.count("done") == 2
    assert kinds[-1] == "summary"
    assert events[-1]["exit_code"] == 0
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


def test_until_any_and_fail_fast(sim: Simulator, config: Path) -> None:
    slow = sim.add_operation({"provider": "toloka", "duration_s": 600})
    quick = sim.add_operation({"provider": "wesog", "duration_s": 1})
    failing = sim.add_operation({"provider": "trafficops", "duration_s": 1, "outcome": "failed"})
    started = time.monotonic()
    assert run_opwatch("wait", slow, quick, "--until", "any", "-q").code == 0
    assert run_opwatch("wait", slow, failing, "--fail-fast", "-q").code == 3
    assert time.monotonic() - started < 20


def test_budget_exhausted_is_7_while_others_finish(sim: Simulator, config: Path) -> None:
    down = sim.add_operation({"provider": "toloka", "duration_s": 2})
    fine = sim.add_operation({"provider": "wesog", "duration_s": 2})
    sim.add_fault({"kind": "5xx", "ref": down, "count": 50})
    result = run_opwatch("wait", down, fine, "--retries", "2", "--json")
    assert result.code == 7
    records = {json.loads(line)["ref"]: json.loads(line) for line in result.stdout.splitlines()}
    assert records[fine]["state"] == "succeeded"
    assert "failing since" in records[down]["error"]["message"]
    assert records[down]["error"]["exit_code"] == 7


def test_retry_after_is_honoured_on_the_wire(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 4})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": 3})
    result = run_opwatch("wait", ref, "-q")
    assert result.code == 0
    reads = sim.reads_of(ref)
    assert reads[1] - reads[0] >= 3.0


def test_trafficops_session_expiring_mid_wait(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "trafficops", "duration_s": 4})
    process = subprocess.Popen(
        [str(OPWATCH), "wait", ref, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(1.5)
    sim.add_fault({"kind": "expire_sessions"})
    assert process.wait(timeout=30) == 0


def test_refs_from_stdin(sim: Simulator, config: Path) -> None:
    refs = [sim.add_operation({"provider": "wesog", "duration_s": 1}) for _ in range(3)]
    result = run_opwatch("wait", "-", "--json", stdin=" ".join(refs) + "\n")
    assert result.code == 0
    assert [json.loads(line)["ref"] for line in result.stdout.splitlines()] == refs
