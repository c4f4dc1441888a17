"""`opwatch simulate`: the built-in simulator as a foreground server, for rehearsing offline."""

import os
from pathlib import Path
from typing import Annotated

import typer

from opwatch.commands.common import finish, options, runtime_for
from opwatch.errors import UsageError
from opwatch.exitcodes import ExitCode


def simulate(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")
    ] = 8765,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", metavar="FILE", help="Operations and faults to serve (YAML)."),
    ] = None,
    write_config: Annotated[
        Path | None,
        typer.Option(
            "--write-config", metavar="FILE", help="Write an opwatch config pointing here."
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            min=0.01,
            help="How much faster than real time jobs run (default: the scenario's, else 1).",
            show_default=False,
        ),
    ] = None,
) -> int:
    """Run the simulator of all three providers in the foreground.

    stdout gets the REF of every operation it serves, one per line. The config goes to
    --write-config FILE (else to stderr), so `OPWATCH_CONFIG=FILE opwatch status …` just works.
    """
    runtime = runtime_for(ctx, options(ctx))

    def run() -> ExitCode:
        from opwatch.simulator import Simulator, default_scenario, describe, load_scenario

        try:
            chosen = load_scenario(scenario) if scenario else default_scenario()
            sim = Simulator(chosen, host=host, port=port, speed=speed)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        config = sim.config_yaml()
        if write_config is not None:
            # The config holds the simulator's (fake) credentials: keep it private all the same.
            fd = os.open(write_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(config)
            where = f"config written to {write_config}"
        else:
            print(config, file=runtime.stderr)
            where = "config above (save it and point OPWATCH_CONFIG at it)"
        print(describe(sim), end="", file=runtime.stdout, flush=True)
        print(
            f"opwatch simulate: serving Wesog, Toloka and Traffic Ops on {sim.url}; {where}; "
            "Ctrl-C stops",
            file=runtime.stderr,
            flush=True,
        )
        try:
            sim.serve_forever()
        except KeyboardInterrupt:
            return ExitCode.OK
        return ExitCode.OK

    return finish(run, runtime)
