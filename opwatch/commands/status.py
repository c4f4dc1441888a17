"""`opwatch status`: one read of each operation, then exit."""

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Annotated

import typer

from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Output,
    ProfileOption,
    QuietOption,
    RefsArgument,
    VerboseOption,
    finish,
    open_config,
    options,
    output_option,
    read_targets,
    runtime_for,
)
from opwatch.config import Config
from opwatch.errors import OpwatchError, shared_by, shared_errors
from opwatch.exitcodes import ExitCode, combine
from opwatch.model import OpRef, Reading, reading_code
from opwatch.render.console import Printer
from opwatch.render.json import line, reading_record


def status(
    ctx: typer.Context,
    refs: RefsArgument,
    exit_status: Annotated[
        bool,
        typer.Option(
            "--exit-status",
            help="Exit 3 when an operation failed (or ended partial), 4 when one is not done.",
        ),
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="With --exit-status, partial counts as success.")
    ] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: Annotated[Output | None, output_option(Output.TABLE, Output.WIDE, Output.JSON)] = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> int:
    """One read of each operation, then exit.

    Exits 0 when every read worked. With --exit-status it judges the states as wait does, and
    closes with a verdict on stderr: a line for each operation that did not succeed, then how
    many did.
    """
    opts = options(
        ctx, config=config, profile=profile, output=output, json=json, verbose=verbose, quiet=quiet
    )
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.WIDE, Output.JSON])
        cfg = open_config(opts, runtime)
        targets = read_targets(refs, cfg, opts, runtime)

        stopped: list[tuple[str, OpwatchError]] = []

        def judge(reading: Reading) -> ExitCode:
            error = reading.error
            if error is not None:
                # Errors go to stderr for people even with -q; the table and JSON carry them
                # too. One that stops a whole profile or origin is said once, at the end.
                if shared_by(error, reading.ref.profile) is None:
                    out.error(f"{reading.ref}: {error}")
                else:
                    stopped.append((reading.ref.profile, error))
            return reading_code(reading, judge_state=exit_status, allow_partial=allow_partial)

        readings: list[Reading] = []
        try:
            code = runtime.run(_read_and_show(cfg, out, targets, fmt, judge, readings, exit_status))
        finally:
            for message in shared_errors(stopped):
                out.error(message)
        if exit_status:
            from opwatch.render.verdict import verdict

            out.verdict(verdict(readings, code, allow_partial=allow_partial))
        return code

    return finish(run, runtime)


async def _read_and_show(
    cfg: Config,
    out: Printer,
    targets: list[OpRef],
    fmt: Output,
    judge: Callable[[Reading], ExitCode],
    readings: list[Reading],
    verdict: bool,
) -> ExitCode:
    """Read every target; JSON lines go out as reads complete, the table once all are in.
    Readings are kept in `readings` for the table, and for the verdict without their raw
    bodies (so that `status - -o json` over thousands of REFs keeps its memory bounded)."""
    from opwatch import core
    from opwatch.session import Session  # httpx: imported when a command needs it

    runtime = out.runtime
    codes: set[ExitCode] = set()
    async with (
        Session(cfg, runtime) as session,
        contextlib.aclosing(core.read(session, targets)) as results,
    ):
        async for reading in results:
            codes.add(judge(reading))
            if fmt is Output.JSON:
                out.line(line(reading_record(reading, runtime.now())))
                if verdict:
                    readings.append(_without_raw(reading))
            else:
                readings.append(reading)
    if fmt is not Output.JSON:
        # rich is imported here, not at start-up: `status -o json` never needs it.
        from opwatch.render.table import status_table

        width = out.table_width(wide=fmt is Output.WIDE)
        out.show(status_table(readings, runtime.now(), width))
    return combine(codes)


def _without_raw(reading: Reading) -> Reading:
    if reading.operation is None:
        return reading
    return dataclasses.replace(reading, operation=dataclasses.replace(reading.operation, raw=None))
