"""`opwatch demo`: the whole product against the built-in simulator, no account needed."""

import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from opwatch.commands.common import Output, finish, options, runtime_for
from opwatch.config import load_config
from opwatch.exitcodes import ExitCode
from opwatch.model import OpRef
from opwatch.render.console import Printer
from opwatch.runtime import Runtime
from opwatch.watch import WatchOptions

NEXT_STEPS = """\
Try next, against a simulator of your own (each command ends within a minute):
  {opwatch} simulate --write-config /tmp/sim.yaml > /tmp/refs.txt & sleep 2
  export OPWATCH_CONFIG=/tmp/sim.yaml
  {opwatch} status - < /tmp/refs.txt
  {opwatch} wait $(head -3 /tmp/refs.txt) --timeout 2m
  {opwatch} wait - --json --timeout 30s < /tmp/refs.txt | jq -r 'select(.state != "succeeded").ref'
  {opwatch} list-errors $(grep crowd: /tmp/refs.txt | sed -n 2p) --group
  {opwatch} list crowd --state running -o ref | {opwatch} wait - --timeout 30s
  kill %1    # stops the simulator
Then point a profile at your own account: {opwatch} config init --provider toloka
"""
"""The simulator's default scenario holds day-long and stuck jobs (every state at any moment),
so a wait on all of its REFs ends at its deadline: hence `--timeout 30s`, and exit 4."""


def next_steps(env: Mapping[str, str]) -> str:
    """The "try next" commands, runnable as printed in the shell the demo was started from.

    After `uv run opwatch demo`, `opwatch` is on the PATH of the demo's process only (uv puts
    the project's environment first there, and says so in UV_RUN_RECURSION_DEPTH), not in the
    user's shell: the commands then start with `uv run opwatch`. Without uv and off the PATH
    (`python -m opwatch demo`), they name the Python that runs the demo.
    """
    if env.get("UV_RUN_RECURSION_DEPTH"):
        command = "uv run opwatch"
    elif shutil.which("opwatch", path=env.get("PATH")):
        command = "opwatch"
    else:
        command = f"{shlex.quote(sys.executable)} -m opwatch"
    return NEXT_STEPS.format(opwatch=command)


def demo(
    ctx: typer.Context,
    speed: Annotated[
        float, typer.Option("--speed", min=0.1, help="Run the simulated jobs N times faster.")
    ] = 1.0,
) -> int:
    """Watch a mix of Wesog, Toloka and Traffic Ops jobs on the built-in simulator, then see
    what failed. Needs no config and no network."""
    runtime = runtime_for(ctx, options(ctx))
    return finish(lambda: run_demo(runtime, speed), runtime)


def run_demo(runtime: Runtime, speed: float = 1.0) -> ExitCode:
    """The demo itself, in whatever world `runtime` holds (docs/record_demo.py records it).
    The simulator keeps the runtime's time, so the demo runs as fast as its clock goes."""
    from opwatch.commands.present import run_wait
    from opwatch.simulator import Simulator, demo_scenario

    simulator = Simulator(demo_scenario(), speed=speed, clock=_SimulatorClock(runtime))
    with simulator as sim, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as config_file:
            config_file.write(sim.config_yaml())
        cfg = load_config(path, runtime.env)
        refs = [OpRef(*ref.split(":", 1)) for ref in sim.refs()]
        out = Printer(runtime)
        out.say(
            f"opwatch demo: a simulator of Wesog, Toloka and Traffic Ops is serving on "
            f"{sim.url}; watching {len(refs)} operations\n"
        )
        watch = WatchOptions(timeout_s=max(30.0, 120.0 / speed))
        result = run_wait(cfg, out, refs, watch, Output.TABLE, errors_limit=5)
    out.line(f"\nThe wait ended with exit code {int(result.code)}.\n\n{next_steps(runtime.env)}")
    return ExitCode.OK


class _SimulatorClock:
    """The runtime's clocks, in the two methods the simulator reads time through."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def monotonic(self) -> float:
        return self._runtime.clock()

    def now(self) -> datetime:
        return self._runtime.now()
