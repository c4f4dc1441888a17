"""Every exit code of SPEC.md, produced by the real command; bad input never shows a traceback."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from opwatch.simulator import Simulator
from tests.e2e.conftest import OPWATCH, Run, run_opwatch

pytestmark = pytest.mark.e2e


def assert_clean(result: Run) -> None:
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("opwatch: ") or result.stderr == ""


def test_0_success(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "wesog", "duration_s": 1, "age_s": 5})
    assert run_opwatch("wait", ref, "-q").code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--no-such-flag", "x"],
        ["status", "media:abc"],
        ["status"],
        ["wait", "media:1", "--timeout", "soon"],
        ["wait", "media:1", "--interval", "0"],
        ["status", "media:1", "-o", "events"],
        ["list-errors", "media:1", "-o", "events"],
    ],
)
def test_2_usage(config: Path, args: list[str]) -> None:
    result = run_opwatch(*args)
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_3_failed(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "outcome": "failed",
                             "age_s": 60})  # fmt: skip
    result = run_opwatch("wait", ref)
    assert result.code == 3
    assert "failed" in result.stdout


def test_3_partial_unless_allowed(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "wesog", "fail_fraction": 0.5, "age_s": 60})
    assert run_opwatch("wait", ref, "-q").code == 3
    assert run_opwatch("wait", ref, "-q", "--allow-partial").code == 0


def test_4_deadline(sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "trafficops", "outcome": "stuck"})
    started = time.monotonic()
    result = run_opwatch("wait", ref, "--timeout", "2s", "--json")
    assert result.code == 4
    assert time.monotonic() - started < 10
    assert '"state":"running"' in result.stdout
    assert "timeout 2.0s" in result.stderr


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
def test_5_config(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text)
    result = run_opwatch("status", "m:1", "--config", str(path))
    assert result.code == 5
    assert message in result.stderr
    assert_clean(result)


def test_5_unknown_profile(config: Path) -> None:
    result = run_opwatch("status", "1", "--profile", "nope")
    assert result.code == 5
    assert "unknown profile 'nope'" in result.stderr


@pytest.mark.parametrize(
    ("key", "ref", "hint"),
    [
        ("api_key: sim-wesog-key", "media:1001", "'api_key' of profile 'media'"),
        ("token: sim-toloka-token", "crowd:x", "'token' of profile 'crowd'"),
        ("password: sim-password", "cdn:1", "'password' of profile 'cdn'"),
    ],
)
def test_6_auth(sim: Simulator, config: Path, key: str, ref: str, hint: str) -> None:
    name = key.partition(": ")[0]
    config.write_text(config.read_text().replace(key, f"{name}: wrong"))
    result = run_opwatch("status", ref)
    assert result.code == 6, result.stderr
    assert hint in result.stderr
    assert "wrong" not in result.stderr
    assert_clean(result)


def test_7_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "c.yaml"
    path.write_text(
        f"profiles: {{m: {{provider: wesog, api_key: k, url: 'http://127.0.0.1:{port}'}}}}"
    )
    result = run_opwatch("status", "1", "--config", str(path))
    assert result.code == 7
    assert "connection refused" in result.stderr
    result = run_opwatch("wait", "1", "--config", str(path), "--retries", "1")
    assert result.code == 7
    assert "failing since" in result.stderr


@pytest.mark.parametrize(
    ("kind", "message"),
    [("html", "text/html ('502 Bad Gateway')"), ("truncated", "instead of JSON")],
)
def test_7_garbage(sim: Simulator, config: Path, kind: str, message: str) -> None:
    ref = sim.add_operation({"provider": "toloka", "age_s": 60})
    sim.add_fault({"kind": kind, "ref": ref, "count": 1})
    result = run_opwatch("status", ref)
    assert result.code == 7
    assert message in result.stderr + result.stdout
    assert_clean(result)


def test_8_not_found(sim: Simulator, config: Path) -> None:
    for ref in ("media:99999", "crowd:no-such-op", "cdn:0"):
        result = run_opwatch("status", ref)
        assert result.code == 8, (ref, result.stderr)
        assert "no such operation" in result.stdout + result.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_130_143_signals_print_the_last_states(
    sim: Simulator, config: Path, sig: signal.Signals, code: int
) -> None:
    ref = sim.add_operation({"provider": "toloka", "outcome": "stuck"})
    process = subprocess.Popen(
        [str(OPWATCH), "wait", ref, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    deadline = time.monotonic() + 20
    while not sim.reads_of(ref) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == code, stderr
    assert '"state":"running"' in stdout  # the last known state
    assert "Traceback" not in stderr


def test_1_a_bug_is_one_line_without_traceback() -> None:
    import io

    import typer

    from opwatch.commands.common import finish
    from opwatch.runtime import Runtime

    err = io.StringIO()

    def broken() -> int:
        raise RuntimeError("boom")

    with pytest.raises(typer.Exit) as caught:
        finish(broken, Runtime(stderr=err, env={}))  # type: ignore[arg-type]
    assert caught.value.exit_code == 1
    assert "internal error (a bug, please report it): RuntimeError: boom" in err.getvalue()
    assert "Traceback" not in err.getvalue()
