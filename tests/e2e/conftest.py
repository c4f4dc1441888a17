"""End-to-end fixtures: a simulator on a real loopback socket, in a thread, and the whole CLI run
against it: in-process through `opwatch.cli.main(argv, runtime)` on a virtual clock the
simulator shares (`cli`), or as the installed command in a subprocess where a process matters
(`run_opwatch`: signals, closed pipes, locales, tmux, the entry point)."""

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opwatch.cli import main
from opwatch.simulator import Scenario, Simulator, default_scenario
from tests.fakes import ClockedTransport, VirtualClock

OPWATCH = Path(sys.executable).parent / "opwatch"


@dataclass
class Run:
    """What one opwatch run did."""

    code: int
    stdout: str
    stderr: str


def make_simulator(
    scenario: Scenario | None = None, **options: Any
) -> tuple[Simulator, VirtualClock]:
    """A simulator on a VirtualClock of its own, which in-process runs of opwatch share."""
    clock = VirtualClock()
    return Simulator(scenario, clock=clock, **options), clock


def after(clock: VirtualClock, seconds: float, action: Callable[[], object]) -> None:
    """Do `action` (add a fault, say) once `seconds` have passed on `clock`, mid-run."""
    clock.at(clock.t + seconds, action)


class Cli:
    """Runs `opwatch ARGS...` in-process, in a world of StringIO streams and the given clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str = "",
        stderr_is_tty: bool = False,
        stdout_is_tty: bool = False,
    ) -> Run:
        stdout, stderr = io.StringIO(), io.StringIO()
        world: dict[str, Any] = {
            "stdin": io.StringIO(stdin),
            "stdout": stdout,
            "stderr": stderr,
            "env": {**os.environ, **(env or {})},
            "stderr_is_tty": stderr_is_tty,
            "stdout_is_tty": stdout_is_tty,
        }
        runtime = self.clock.runtime(**world, transport=ClockedTransport(self.clock))
        code = main(list(args), runtime)
        return Run(code, stdout.getvalue(), stderr.getvalue())


def run_opwatch(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> Run:
    """Run the installed `opwatch` console script in a subprocess and wait for it."""
    done = subprocess.run(
        [str(OPWATCH), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def sim_and_clock() -> Iterator[tuple[Simulator, VirtualClock]]:
    """The default scenario (every state of every provider), for one test, on its own clock."""
    simulator, clock = make_simulator(default_scenario())
    with simulator:
        yield simulator, clock


@pytest.fixture
def sim(sim_and_clock: tuple[Simulator, VirtualClock]) -> Simulator:
    return sim_and_clock[0]


@pytest.fixture
def cli(sim_and_clock: tuple[Simulator, VirtualClock]) -> Cli:
    """opwatch in-process, on the simulator's clock."""
    return Cli(sim_and_clock[1])


@pytest.fixture
def scenario_refs(sim: Simulator) -> list[str]:
    """The REFs of the default scenario, without those tests add later."""
    return sim.refs()[: len(default_scenario().operations)]


def config_for(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write a config pointing at `sim` (owner-only, as opwatch wants a file with secrets) and
    name it in $OPWATCH_CONFIG, where in-process runs and subprocesses alike find it."""
    path = tmp_path / "config.yaml"
    path.write_text(sim.config_yaml())
    path.chmod(0o600)
    monkeypatch.setenv("OPWATCH_CONFIG", str(path))
    return path


@pytest.fixture
def config(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config pointing at the simulator, found through $OPWATCH_CONFIG."""
    return config_for(sim, tmp_path, monkeypatch)
