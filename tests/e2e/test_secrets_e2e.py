"""Canary secrets: planted in a config, looked for in every output of every command, each run
ending with the exact exit code its path calls for."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from opwatch.simulator import OperationSpec, Scenario, Simulator
from tests.e2e.conftest import Cli, Run, make_simulator

pytestmark = pytest.mark.e2e

CANARIES = {
    "wesog_key": "canary-wesog-key-7f3e9a",
    "toloka_token": "canary-toloka-token-51c2d8",
    "to_password": "canary-to-password-a0b4e6",
}


class Canary:
    """A simulator that expects the canaries, its REFs, and opwatch on its clock."""

    def __init__(self, sim: Simulator, cli: Cli) -> None:
        self.sim = sim
        self.refs = sim.refs()
        self.config_yaml = sim.config_yaml()
        self.cli = cli


@pytest.fixture
def canary() -> Iterator[Canary]:
    # Three finished operations with failed items (every error path has rows to show) and one
    # still running when the commands start, so that `wait` polls.
    scenario = Scenario(
        [
            OperationSpec("wesog", duration_s=1, items=10, fail_fraction=0.3, age_s=5),
            OperationSpec("toloka", duration_s=1, items=10, fail_fraction=0.3, age_s=5),
            OperationSpec("trafficops", kind="acme_renew", duration_s=1, fail_fraction=0.3,
                          age_s=5),
            OperationSpec("toloka", duration_s=2, items=10),
        ]
    )  # fmt: skip
    simulator, clock = make_simulator(scenario, credentials=CANARIES)
    with simulator:
        yield Canary(simulator, Cli(clock))


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
    ("args", "code"),
    [
        (["status"], 0),
        (["status", "--json"], 0),
        (["status", "--exit-status"], 3),  # three partial (and one running: 3 comes before 4)
        (["wait", "--timeout", "20s"], 3),
        (["wait", "--json"], 3),
        (["wait", "-o", "events", "--errors"], 3),
        (["list-errors"], 0),
        (["list-errors", "--json"], 0),
        (["list-errors", "--group"], 0),
        (["list-errors", "-o", "github"], 0),
        (["list-errors", "--exit-status"], 3),
    ],
)
def test_success_paths(canary: Canary, tmp_path: Path, args: list[str], code: int) -> None:
    config = write_config(tmp_path / "c.yaml", canary.config_yaml)
    summary = tmp_path / "summary.md"
    result = canary.cli(
        *args, *canary.refs, "-v", "--config", str(config),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.code == code, result.stderr
    assert "opwatch: GET http://127.0.0.1" in result.stderr  # -v did log the requests
    assert "opwatch: POST http://127.0.0.1" in result.stderr  # and the Traffic Ops login
    assert "literal secret" in result.stderr  # the warning path ran too
    assert_no_canary(result, summary)


def test_profiles(canary: Canary, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", canary.config_yaml)
    for fmt in ("table", "json"):
        result = canary.cli("profiles", "-o", fmt, "--config", str(config))
        assert result.code == 0
        assert "literal in config" in result.stdout
        assert_no_canary(result)


@pytest.mark.parametrize("command", ["status", "wait", "list-errors"])
@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"kind": "5xx", "count": 100}, 7),
        ({"kind": "html", "count": 100}, 7),
        ({"kind": "truncated", "count": 100}, 7),
        ({"kind": "login_fail", "count": 100}, 6),  # Traffic Ops only; 6 comes before 7
    ],
)
def test_failure_paths(
    canary: Canary, tmp_path: Path, command: str, fault: dict[str, object], code: int
) -> None:
    config = write_config(tmp_path / "c.yaml", canary.config_yaml)
    canary.sim.add_fault(fault)
    result = canary.cli(
        command, *canary.refs, "-v", "--config", str(config), "--json",
        *(["--retries", "1"] if command == "wait" else []),
    )  # fmt: skip
    assert result.code == code, result.stderr
    assert_no_canary(result)


def test_refused_credentials(canary: Canary, tmp_path: Path) -> None:
    # The canaries are sent to a server that expects other credentials: 401 everywhere.
    text = canary.config_yaml
    for secret in CANARIES.values():
        text = text.replace(secret, secret + "-wrong")
    config = write_config(tmp_path / "c.yaml", text)
    for command in ("status", "wait", "list-errors"):
        result = canary.cli(command, *canary.refs, "-v", "--config", str(config))
        assert result.code == 6
        assert "check 'password' of profile 'cdn'" in result.stdout + result.stderr
        assert_no_canary(result)


def test_secrets_from_variables_and_config_errors(canary: Canary, tmp_path: Path) -> None:
    text = canary.config_yaml
    env = {}
    for name, secret in CANARIES.items():
        text = text.replace(secret, "${" + name.upper() + "}")
        env[name.upper()] = secret
    config = write_config(tmp_path / "c.yaml", text)
    result = canary.cli("status", *canary.refs, "-v", "--config", str(config), env=env)
    assert result.code == 0
    assert "literal secret" not in result.stderr
    assert_no_canary(result)
    broken = write_config(tmp_path / "b.yaml", canary.config_yaml + "  oops: [\n")
    result = canary.cli("status", "crowd:x", "--config", str(broken))
    assert result.code == 5
    assert_no_canary(result)
