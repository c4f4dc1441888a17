"""What needs a real process: the installed command and `python -m opwatch`, signals, a pipe
closed early, non-UTF-8 locales, the live view in a real terminal (tmux). The simulator runs on
the wall clock here, as the process does."""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opwatch.simulator import Simulator, default_scenario
from tests.e2e.conftest import OPWATCH, config_for, run_opwatch

pytestmark = pytest.mark.e2e


@pytest.fixture
def wall_sim() -> Iterator[Simulator]:
    with Simulator(default_scenario()) as simulator:
        yield simulator


@pytest.fixture
def wall_config(wall_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return config_for(wall_sim, tmp_path, monkeypatch)


def test_the_installed_command_and_python_m(wall_sim: Simulator, wall_config: Path) -> None:
    ref = wall_sim.add_operation({"provider": "wesog", "duration_s": 1, "age_s": 5})
    result = run_opwatch("wait", ref, "--json")
    assert result.code == 0, result.stderr
    assert '"state":"succeeded"' in result.stdout
    module = subprocess.run(
        [sys.executable, "-m", "opwatch", "status", "media:99999"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert module.returncode == 8
    assert module.stderr.startswith("opwatch: error: ")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_130_143_signals_print_the_last_states(
    wall_sim: Simulator, wall_config: Path, sig: signal.Signals, code: int
) -> None:
    ref = wall_sim.add_operation({"provider": "toloka", "outcome": "stuck"})
    process = subprocess.Popen(
        [str(OPWATCH), "wait", ref, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    deadline = time.monotonic() + 20
    while not wall_sim.reads_of(ref) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == code, stderr
    assert '"state":"running"' in stdout  # the last known state
    assert "stopped; the last known states follow" in stderr
    assert "Traceback" not in stderr


def test_closed_pipe_ends_quietly(wall_sim: Simulator, wall_config: Path) -> None:
    refs = "\n".join(wall_sim.refs() * 20)
    done = subprocess.run(
        f'{OPWATCH} status - -o json | head -1; echo "status=${{PIPESTATUS[0]}}"',
        shell=True,
        executable="/bin/bash",
        input=refs,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[1] == "status=0"
    assert "Traceback" not in done.stderr
    assert "Broken pipe" not in done.stderr


# `status` runs thousands of times a day in CI: a fresh process loads only what it runs. Each of
# these modules, loaded on that path again, made it measurably slower (bench/startup.py).
NOT_FOR_STATUS = (
    "opwatch.watch",  # the wait engine
    "opwatch.explain",  # error listings
    "opwatch.commands.wait",  # every other command: built only when it runs
    "opwatch.commands.demo",
    "opwatch.commands.list_errors",
    "opwatch.commands.providers",
    "opwatch.simulator",
    "rich",  # tables and live views: not for -o json
    "jmespath",  # declared providers: not for a config without them
    "uvloop",  # a wait's many reads: not for one read each
)


def test_status_json_loads_only_what_it_runs(wall_sim: Simulator, wall_config: Path) -> None:
    ref = wall_sim.add_operation({"provider": "toloka", "age_s": 100})
    script = (
        "import sys; from opwatch.cli import console_script; import atexit; "
        "atexit.register(lambda: print(*sorted(sys.modules), file=sys.stderr)); "
        f"sys.argv = ['opwatch', 'status', {ref!r}, '-o', 'json']; console_script()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert '"state":"succeeded"' in done.stdout
    loaded = set(done.stderr.split())
    assert "opwatch.commands.status" in loaded
    assert sorted(loaded.intersection(NOT_FOR_STATUS)) == []


@pytest.mark.parametrize(
    "env", [{"PYTHONIOENCODING": "ascii", "LC_ALL": "C"}, {"PYTHONIOENCODING": "latin-1"}]
)
def test_non_utf8_locales(wall_sim: Simulator, wall_config: Path, env: dict[str, str]) -> None:
    refs = [
        wall_sim.add_operation({"provider": "toloka", "fail_fraction": 0.3, "age_s": 20}),
        wall_sim.add_operation({"provider": "trafficops", "fail_fraction": 0.3, "age_s": 20}),
    ]
    result = run_opwatch("wait", *refs, "--errors", env=env)
    assert result.code == 3, result.stderr
    assert "What failed" in result.stdout
    assert "internal error" not in result.stderr


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False, timeout=10
    )
    return done.stdout


def capture_until(socket: str, done: Callable[[str], bool], seconds: float) -> str:
    """The pane's text once `done` says so, or when `seconds` have passed."""
    screen = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        screen = tmux(socket, "capture-pane", "-p")
        if done(screen):
            break
        time.sleep(0.2)
    return screen


@pytest.mark.parametrize(("first", "then"), [((120, 40), (80, 24)), ((80, 24), (120, 40))])
def test_live_view_in_a_real_terminal_and_after_a_resize(
    wall_sim: Simulator,
    wall_config: Path,
    tmp_path: Path,
    first: tuple[int, int],
    then: tuple[int, int],
) -> None:
    refs = [
        wall_sim.add_operation({"provider": "wesog", "duration_s": 6, "items": 50}),
        wall_sim.add_operation({"provider": "toloka", "duration_s": 5, "fail_fraction": 0.2}),
        wall_sim.add_operation({"provider": "trafficops", "kind": "acme_renew", "duration_s": 5}),
    ]
    # With the pid and the clock: tmux sockets live in one directory for every test run on the
    # machine, so two runs at once (two checkouts) never share a tmux server or kill another's.
    socket = f"opwatch-test-{os.getpid()}-{time.monotonic_ns()}"
    command = (
        f"env -u COLUMNS -u LINES OPWATCH_CONFIG={shlex.quote(str(wall_config))} "
        f"{OPWATCH} wait {' '.join(refs)}; "
        "echo EXIT=$?; sleep 60"
    )
    width, height = first
    tmux(socket, "new-session", "-d", "-x", str(width), "-y", str(height), command)
    try:

        def live(screen: str) -> bool:
            # Traffic Ops' first message is "Async job has started."; its progress comes later.
            return "overall" in screen and "%" in screen and "ACME renewal in progress" in screen

        during = capture_until(socket, live, 20)
        assert live(during), during
        for ref in refs:  # every REF whole, with its state and percent on its line
            row = next(line for line in during.splitlines() if line.startswith(ref))
            assert "running" in row or "succeeded" in row or "partial" in row, row
        assert "ACME renewal in progress" in during  # Traffic Ops: its message is its progress
        assert all(len(line.rstrip()) <= width for line in during.splitlines())

        width, height = then
        tmux(socket, "resize-window", "-x", str(width), "-y", str(height))
        time.sleep(0.8)  # a few frames at the new size
        resized = capture_until(socket, live, 5)
        if live(resized):  # still waiting (on a loaded machine the wait may be over by now)
            # One frame on the screen, redrawn from the top: no piece of an older one above it.
            assert resized.count("overall") == 1, resized
            for ref in refs:
                assert resized.count(ref) == 1, resized

        after = capture_until(socket, lambda screen: "EXIT=" in screen, 30)
        assert "EXIT=3" in after  # one partial
        assert "overall" not in after  # the live view went away cleanly
        assert "━" not in after
        table = after[after.index("REF") :]
        for ref in refs:
            assert ref in table
        assert "succeeded" in table
        assert "partial" in table
        assert "opwatch: 2 of 3 succeeded, 1 partial; exit 3" in after  # the verdict
    finally:
        tmux(socket, "kill-server")
