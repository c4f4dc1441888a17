"""Canary secrets: planted in a config, grepped for in every output of every command."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from opwatch.simulator import OperationSpec, Scenario, Simulator
from tests.e2e.conftest import Run, run_opwatch

pytestmark = pytest.mark.e2e

CANARIES = {
    "wesog_key": "canary-wesog-key-7f3e9a",
    "toloka_token": "canary-toloka-token-51c2d8",
    "to_password": "canary-to-password-a0b4e6",
}


@pytest.fixture(scope="module")
def canary_sim() -> Iterator[Simulator]:
    scenario = Scenario(
        [
            OperationSpec("wesog", duration_s=1, items=10, fail_fraction=0.3),
            OperationSpec("toloka", duration_s=1, items=10, fail_fraction=0.3),
            OperationSpec("trafficops", kind="acme_renew", duration_s=1, fail_fraction=0.3),
        ]
    )
    with Simulator(scenario, credentials=CANARIES) as simulator:
        yield simulator


def assert_no_canary(result: Run, *files: Path) -> None:
    outputs = [result.stdout, result.stderr, *(f.read_text() for f in files if f.exists())]
    for canary in CANARIES.values():
        for output in outputs:
            assert canary not in output


def write_config(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)  # group-readable: the literal-secret warning path runs too
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["status", "--exit-status"],
        ["wait", "--timeout", "20s"],
        ["wait", "--json"],
        ["wait", "-o", "events", "--errors"],
        ["list-errors"],
        ["list-errors", "--json"],
        ["list-errors", "--group"],
        ["list-errors", "-o", "github"],
    ],
)
def test_success_paths(canary_sim: Simulator, tmp_path: Path, args: list[str]) -> None:
    config = write_config(tmp_path / "c.yaml", canary_sim.config_yaml())
    summary = tmp_path / "summary.md"
    result = run_opwatch(
        *args, *canary_sim.refs(), "-v", "--config", str(config),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.code in (0, 3), result.stderr
    assert "opwatch: GET http://127.0.0.1" in result.stderr  # -v did log the requests
    assert_no_canary(result, summary)


def test_profiles(canary_sim: Simulator, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", canary_sim.config_yaml())
    for fmt in ("table", "json"):
        result = run_opwatch("profiles", "-o", fmt, "--config", str(config))
        assert result.code == 0
        assert "literal in config" in result.stdout
        assert_no_canary(result)


@pytest.mark.parametrize("command", ["status", "wait", "list-errors"])
@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "5xx", "count": 100},
        {"kind": "html", "count": 100},
        {"kind": "truncated", "count": 100},
        {"kind": "login_fail", "count": 100},
    ],
)
def test_failure_paths(
    canary_sim: Simulator, tmp_path: Path, command: str, fault: dict[str, object]
) -> None:
    config = write_config(tmp_path / "c.yaml", canary_sim.config_yaml())
    canary_sim.add_fault(fault)
    try:
        result = run_opwatch(
            command, *canary_sim.refs(), "-v", "--config", str(config), "--json",
            *(["--retries", "1"] if command == "wait" else []),
        )  # fmt: skip
    finally:
        canary_sim.clear_faults()
    assert result.code in (6, 7), result.stderr
    assert_no_canary(result)


def test_refused_credentials(canary_sim: Simulator, tmp_path: Path) -> None:
    # The canaries are sent to a server that expects other credentials: 401 everywhere.
    text = canary_sim.config_yaml()
    for canary in CANARIES.values():
        text = text.replace(canary, canary + "-wrong")
    config = write_config(tmp_path / "c.yaml", text)
    for command in ("status", "wait", "list-errors"):
        result = run_opwatch(command, *canary_sim.refs(), "-v", "--config", str(config))
        assert result.code == 6
        assert "check 'password' of profile 'cdn'" in result.stdout + result.stderr
        assert_no_canary(result)


def test_secrets_from_variables_and_config_errors(canary_sim: Simulator, tmp_path: Path) -> None:
    text = canary_sim.config_yaml()
    env = {}
    for name, canary in CANARIES.items():
        text = text.replace(canary, "${" + name.upper() + "}")
        env[name.upper()] = canary
    config = write_config(tmp_path / "c.yaml", text)
    result = run_opwatch("status", *canary_sim.refs(), "-v", "--config", str(config), env=env)
    assert result.code == 0
    assert_no_canary(result)
    broken = write_config(tmp_path / "b.yaml", canary_sim.config_yaml() + "  oops: [\n")
    result = run_opwatch("status", "crowd:x", "--config", str(broken))
    assert result.code == 5
    assert_no_canary(result)
