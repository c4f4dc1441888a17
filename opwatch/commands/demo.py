"""`opwatch demo`: the whole product against the built-in simulator, no account needed."""

import os
import tempfile
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
Try next, against a simulator of your own:
  opwatch simulate --write-config /tmp/sim.yaml > /tmp/refs.txt &
  export OPWATCH_CONFIG=/tmp/sim.yaml
  opwatch status - < /tmp/refs.txt
  opwatch wait $(head -3 /tmp/refs.txt) --timeout 2m
  opwatch wait - --json < /tmp/refs.txt | jq -r 'select(.state != "succeeded") | .ref'
  opwatch list-errors $(grep crowd: /tmp/refs.txt | sed -n 2p) --group
  opwatch list crowd --state running -o ref | opwatch wait -
Then point a profile at your own account: opwatch config init --provider toloka
"""


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
    out.line(f"\nThe wait ended with exit code {int(result.code)}.\n\n{NEXT_STEPS}")
    return ExitCode.OK


class _SimulatorClock:
    """The runtime's clocks, in the two methods the simulator reads time through."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def monotonic(self) -> float:
        return self._runtime.clock()

    def now(self) -> datetime:
        return self._runtime.now()
