"""Every exit code of SPEC.md, produced by the whole CLI in-process against the simulator; bad
input never shows a traceback. (130 and 143 need a process: tests/e2e/test_process_e2e.py.)"""

import socket
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli, Run

pytestmark = pytest.mark.e2e


def assert_one_line_error(result: Run, message: str) -> None:
    """opwatch's own error: `opwatch: error: ...` with `message`, and no traceback."""
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("opwatch: error:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]


def test_0_success(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "wesog", "duration_s": 1, "age_s": 5})
    result = cli("wait", ref, "-q")
    assert result.code == 0
    assert result.stderr == ""
    assert "succeeded" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--no-such-flag", "x"], "no such option: --no-such-flag"),
        (["status", "media:abc"], "invalid REF 'media:abc'"),
        (["status"], "missing argument 'REF...'"),
        (["wait", "media:1", "--timeout", "soon"], "--timeout:"),
        (["wait", "media:1", "--interval", "0"], "--interval must be at least 100ms"),
        (["wait", "media:1", "--retries", "-1"], "invalid value for '--retries'"),
        (["status", "media:1", "-o", "events"], "-o events is not available here"),
        (["list-errors", "media:1", "-o", "events"], "-o events is not available here"),
        (["status", "media:1", "--json", "-o", "table"], "contradict each other"),
        (["no-such-command"], "no such command 'no-such-command'"),
        (["wiat", "x"], "no such command 'wiat'. Did you mean 'wait'? See 'opwatch --help'"),
    ],
)
def test_2_usage(cli: Cli, config: Path, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2, result.stderr
    assert_one_line_error(result, message)
    assert result.stdout == ""


def test_2_no_arguments_shows_the_help(cli: Cli) -> None:
    result = cli()
    assert result.code == 2
    assert "Usage: opwatch [OPTIONS] COMMAND" in result.stdout
    assert "Exit codes:" in result.stdout


def test_help_and_version_are_0(cli: Cli) -> None:
    assert cli("--version").stdout.startswith("opwatch ")
    result = cli("wait", "--help")
    assert result.code == 0
    assert "--timeout" in result.stdout


def test_3_failed(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "outcome": "failed",
                             "age_s": 60})  # fmt: skip
    result = cli("wait", ref)
    assert result.code == 3
    assert "failed" in result.stdout


def test_3_partial_unless_allowed(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "wesog", "fail_fraction": 0.5, "age_s": 60})
    assert cli("wait", ref, "-q").code == 3
    assert cli("wait", ref, "-q", "--allow-partial").code == 0


def test_4_deadline(sim: Simulator, cli: Cli, config: Path) -> None:
    ref = sim.add_operation({"provider": "trafficops", "outcome": "stuck"})
    result = cli("wait", ref, "--timeout", "2s", "--json")
    assert result.code == 4
    assert '"state":"running"' in result.stdout
    assert "timeout 2.0s" in result.stderr
    reads = sim.reads_of(ref)
    assert reads[-1] - reads[0] == pytest.approx(2.0)  # the last read at the deadline, exactly


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no config file at"),
        ("profiles: [", "is not valid YAML"),
        (
            "profiles: {m: {provider: wesog, api_key: '${OPWATCH_TEST_UNSET}'}}",
            "OPWATCH_TEST_UNSET",
        ),
    ],
)
def test_5_config(cli: Cli, tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text)
    result = cli("status", "m:1", "--config", str(path))
    assert result.code == 5
    assert_one_line_error(result, message)


def test_5_unknown_profile(cli: Cli, config: Path) -> None:
    result = cli("status", "1", "--profile", "nope")
    assert result.code == 5
    assert_one_line_error(result, "unknown profile 'nope'")


def test_5_a_missing_ca_bundle(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profiles: {m: {provider: wesog, api_key: k, ca_bundle: /no/such/ca.pem}}")
    result = cli("status", "1", "--config", str(path))
    assert result.code == 5
    assert_one_line_error(result, "'ca_bundle' '/no/such/ca.pem' is not a readable file")


@pytest.mark.parametrize(
    ("key", "ref", "hint"),
    [
        ("api_key: sim-wesog-key", "media:1001", "'api_key' of profile 'media'"),
        ("token: sim-toloka-token", "crowd:x", "'token' of profile 'crowd'"),
        ("password: sim-password", "cdn:1", "'password' of profile 'cdn'"),
    ],
)
def test_6_auth(cli: Cli, config: Path, key: str, ref: str, hint: str) -> None:
    name = key.partition(": ")[0]
    config.write_text(config.read_text().replace(key, f"{name}: wrong"))
    result = cli("status", ref)
    assert result.code == 6, result.stderr
    assert hint in result.stderr
    assert "wrong" not in result.stderr
    assert "Traceback" not in result.stderr


def test_7_connection_refused(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "c.yaml"
    path.write_text(
        f"profiles: {{m: {{provider: wesog, api_key: k, url: 'http://127.0.0.1:{port}'}}}}"
    )
    result = cli("status", "1", "--config", str(path))
    assert result.code == 7
    assert "connection refused" in result.stderr
    result = cli("wait", "1", "--config", str(path), "--retries", "1")
    assert result.code == 7
    assert "failing since" in result.stdout  # the final table's note
    assert "retry 1 in" in result.stderr


@pytest.mark.parametrize(
    ("kind", "message"),
    [("html", "text/html ('502 Bad Gateway')"), ("truncated", "instead of JSON")],
)
def test_7_garbage(sim: Simulator, cli: Cli, config: Path, kind: str, message: str) -> None:
    ref = sim.add_operation({"provider": "toloka", "age_s": 60})
    sim.add_fault({"kind": kind, "ref": ref, "count": 1})
    result = cli("status", ref)
    assert result.code == 7
    assert_one_line_error(result, message)


def test_8_not_found(cli: Cli, config: Path) -> None:
    for ref in ("media:99999", "crowd:no-such-op", "cdn:0"):
        result = cli("status", ref)
        assert result.code == 8, (ref, result.stderr)
        assert_one_line_error(result, "no such operation")


def test_precedence_of_several_codes(sim: Simulator, cli: Cli, config: Path) -> None:
    failed = sim.add_operation({"provider": "wesog", "outcome": "failed", "age_s": 60})
    stuck = sim.add_operation({"provider": "toloka", "outcome": "stuck"})
    assert cli("wait", failed, stuck, "--timeout", "3s", "-q").code == 3  # 3 before 4
    assert cli("wait", failed, "media:99999", "-q").code == 8  # 8 before 3


def test_1_a_bug_is_one_line_without_traceback(
    cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("opwatch.commands.status.read_targets", broken)
    result = cli("status", "media:1")
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "opwatch: internal error (a bug, please report it): RuntimeError: boom",
        "opwatch: set OPWATCH_DEBUG=1 to see the traceback",
    ]
