"""`opwatch wait`: poll until every operation is terminal or the deadline passes."""

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
from opwatch.commands.present import ERROR_ROWS, run_wait
from opwatch.durations import parse_duration
from opwatch.errors import UsageError
from opwatch.exitcodes import ExitCode
from opwatch.render.console import Printer
from opwatch.watch import DEFAULT_RATE_PER_PROFILE, DEFAULT_RETRIES, Until, WatchOptions


def wait(
    ctx: typer.Context,
    refs: RefsArgument,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            help="One deadline for all operations: 90s, 15m, 2h; 0 reads once; none waits forever.",
        ),
    ] = "1h",
    interval: Annotated[
        str,
        typer.Option(
            "--interval",
            metavar="auto|DURATION",
            help="Time between reads; auto adapts to each operation's progress.",
        ),
    ] = "auto",
    until: Annotated[
        Until, typer.Option("--until", help="Stop when all or any operation is done.")
    ] = Until.ALL,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed operation.")
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="An operation that ended partial succeeded.")
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            metavar="N",
            help="Transient faults in a row one operation may meet before it ends with code 7.",
        ),
    ] = DEFAULT_RETRIES,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors", help="Afterwards, list the errors of the operations that did not succeed."
        ),
    ] = False,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            min=0.1,
            metavar="N",
            help="At most N requests per second to one profile, on average.",
        ),
    ] = DEFAULT_RATE_PER_PROFILE,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: Annotated[
        str | None,
        output_option(Output.TABLE, Output.WIDE, Output.JSON, Output.EVENTS, Output.GITHUB),
    ] = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> int:
    """Poll until every operation is terminal or the deadline passes.

    The final states go to stdout, as a table or in the format -o asks for. Progress goes to
    stderr: a live view on a terminal, else one line per change and a heartbeat naming what is
    still running. A verdict on stderr closes the wait: a line for each operation that did not
    succeed, then how many did and the exit code.
    """
    opts = options(
        ctx, config=config, profile=profile, output=output, json=json, verbose=verbose, quiet=quiet
    )
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.WIDE, Output.JSON, Output.EVENTS, Output.GITHUB])
        watch_options = WatchOptions(
            timeout_s=_timeout(timeout),
            interval_s=_interval(interval),
            until=until,
            fail_fast=fail_fast,
            allow_partial=allow_partial,
            retries=retries,
            rate_per_profile=rate,
        )
        cfg = open_config(opts, runtime)
        targets = read_targets(refs, cfg, opts, runtime)
        result = run_wait(
            cfg, out, targets, watch_options, fmt, errors_limit=ERROR_ROWS if errors else None
        )
        return result.code

    return finish(run, runtime)


def _timeout(text: str) -> float | None:
    if text.strip().lower() in ("none", "never", "inf"):
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def _interval(text: str) -> float | None:
    if text.strip().lower() == "auto":
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}; or auto") from None
    if seconds < 0.1:
        raise UsageError("--interval must be at least 100ms")
    return seconds
