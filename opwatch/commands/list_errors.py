"""`opwatch list-errors`: the failed items of each operation, as a table, JSON or annotations."""

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
from opwatch.commands.present import ERROR_ROWS, show_errors
from opwatch.exitcodes import ExitCode
from opwatch.render.console import Printer


def list_errors_command(
    ctx: typer.Context,
    refs: RefsArgument,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="Rows per operation in the table.")
    ] = ERROR_ROWS,
    group: Annotated[
        bool,
        typer.Option(
            "--group",
            help="Fold identical code, field and message into one row with a count, in "
            "every format.",
        ),
    ] = False,
    exit_status: Annotated[
        bool, typer.Option("--exit-status", help="Exit 3 when any error was listed.")
    ] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: Annotated[
        str | None, output_option(Output.TABLE, Output.WIDE, Output.JSON, Output.GITHUB)
    ] = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> int:
    """The failed items of each operation, one row each, or folded with --group.

    The table shows --limit rows per operation; -o json writes every row (or every group);
    -o github writes annotations and, when $GITHUB_STEP_SUMMARY is set, a Markdown table there.
    """
    opts = options(
        ctx, config=config, profile=profile, output=output, json=json, verbose=verbose, quiet=quiet
    )
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.WIDE, Output.JSON, Output.GITHUB])
        cfg = open_config(opts, runtime)
        targets = read_targets(refs, cfg, opts, runtime)

        async def listed() -> ExitCode:
            from opwatch.session import Session  # httpx: imported when a command needs it

            async with Session(cfg, runtime) as session:
                return await show_errors(
                    session, out, targets, fmt, limit=limit, group=group, exit_status=exit_status
                )

        return runtime.run(listed())

    return finish(run, runtime)
