"""The fault matrix: the whole CLI against the simulator's faults, each provider at once.

Every row is a fault, what opwatch is run with, the exit code it must end with and what it
must say. The README's fault table mirrors this one.
"""

from pathlib import Path
from typing import Any

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

ALL = ("wesog", "toloka", "trafficops")

# fault, providers, command and flags, exit code, text expected on stderr (or stdout)
FAULT_MATRIX: list[tuple[str, dict[str, Any], tuple[str, ...], list[str], int, str]] = [
    ("5xx burst within the budget", {"kind": "5xx", "count": 2}, ALL, ["wait"], 0, "retry 2 in"),
    ("5xx longer than the budget", {"kind": "5xx", "count": 99}, ALL,
     ["wait", "--retries", "2"], 7, "failing since"),
    ("429 with Retry-After", {"kind": "429", "count": 1, "retry_after": 2}, ALL,
     ["wait"], 0, "asks to wait 2s"),
    ("reply slower than the timeout", {"kind": "slow", "count": 1, "delay_s": 2.5}, ALL,
     ["wait"], 0, "did not answer within 1s"),
    ("connection dropped mid-body", {"kind": "drop", "count": 1}, ALL,
     ["wait"], 0, "closed before a full reply"),
    ("HTML error page", {"kind": "html", "count": 1}, ALL, ["wait"], 0, "text/html"),
    ("truncated JSON", {"kind": "truncated", "count": 1}, ALL, ["wait"], 0, "instead of JSON"),
    # Read leniently: a reply of the wrong shape is an operation opwatch does not know yet,
    # shown as such, and the next read puts it right.
    ("JSON of the wrong shape", {"kind": "wrong_shape", "count": 1}, ("toloka", "trafficops"),
     ["wait"], 0, "unknown (provider status None)"),
    ("login keeps failing", {"kind": "login_fail", "count": 99}, ("trafficops",),
     ["wait"], 6, "refused the login of user 'admin'"),
]  # fmt: skip


@pytest.fixture
def timeout_config(sim: Simulator, tmp_path: Path) -> Path:
    """A config whose profiles time out after 1 s."""
    path = tmp_path / "config.yaml"
    path.write_text(sim.config_yaml().replace("    url:", "    timeout: 1s\n    url:"))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("fault", "providers", "args", "code", "text"),
    [row[1:] for row in FAULT_MATRIX],
    ids=[row[0] for row in FAULT_MATRIX],
)
def test_fault_matrix(
    sim: Simulator,
    cli: Cli,
    timeout_config: Path,
    fault: dict[str, Any],
    providers: tuple[str, ...],
    args: list[str],
    code: int,
    text: str,
) -> None:
    refs = [sim.add_operation({"provider": p, "duration_s": 3, "age_s": 1}) for p in providers]
    for ref in refs:
        sim.add_fault({**fault, "ref": ref} if fault["kind"] != "login_fail" else fault)
    result = cli(*args, *refs, "--config", str(timeout_config))
    assert result.code == code, result.stderr
    assert text in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    if code == 0:
        assert result.stdout.count("succeeded") == len(refs)  # the right final state
    if fault["kind"] == "429":
        for ref in refs:
            reads = sim.reads_of(ref)
            assert reads[1] - reads[0] >= 2.0  # no read sooner than asked


def test_unknown_status_warns_and_waits_until_the_deadline(
    sim: Simulator, cli: Cli, config: Path
) -> None:
    refs = [
        sim.add_operation({"provider": p, "duration_s": 1, "age_s": 5, "status_word": "ARCHIVED"})
        for p in ("toloka", "trafficops")
    ]
    result = cli("wait", *refs, "--timeout", "3s", "--json")
    assert result.code == 4
    assert result.stdout.count('"state":"unknown"') == 2
    assert "ARCHIVED" in result.stderr


@pytest.mark.parametrize(("command", "code"), [("status", 0), ("wait", 3), ("list-errors", 0)])
def test_a_narrow_terminal(sim: Simulator, cli: Cli, config: Path, command: str, code: int) -> None:
    refs = [
        sim.add_operation({"provider": "toloka", "fail_fraction": 0.3, "age_s": 20}),
        sim.add_operation({"provider": "trafficops", "fail_fraction": 0.3, "age_s": 20}),
    ]
    flags = {"status": [], "wait": ["--errors"], "list-errors": ["--group"]}[command]
    result = cli(command, *refs, *flags, env={"COLUMNS": "20"})
    assert result.code == code, result.stderr
    assert "internal error" not in result.stderr
    assert refs[1] in result.stdout  # folded, not cut
