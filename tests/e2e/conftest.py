"""End-to-end fixtures: a simulator on a real loopback socket, and the real `opwatch` command
run in a subprocess against it."""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opwatch.simulator import Simulator, default_scenario

OPWATCH = Path(sys.executable).parent / "opwatch"


@dataclass
class Run:
    """What one opwatch process did."""

    code: int
    stdout: str
    stderr: str


def run_opwatch(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> Run:
    """Run the installed `opwatch` console script and wait for it."""
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


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """The default scenario (every state of every provider), served for the whole session."""
    with Simulator(default_scenario()) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def scenario_refs(sim: Simulator) -> list[str]:
    """The REFs of the default scenario, without those tests add later."""
    return sim.refs()[: len(default_scenario().operations)]


@pytest.fixture
def config(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config pointing at the simulator, found through $OPWATCH_CONFIG."""
    path = tmp_path / "config.yaml"
    path.write_text(sim.config_yaml())
    path.chmod(0o600)
    monkeypatch.setenv("OPWATCH_CONFIG", str(path))
    return path
