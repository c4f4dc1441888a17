"""`opwatch list-errors`: the failed items of each operation, as a table, JSON or annotations."""

import asyncio
from typing import Annotated

import typer

from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Output,
    OutputOption,
    ProfileOption,
    QuietOption,
    RefsArgument,
    VerboseOption,
    finish,
    iter_ref_texts,
    make_runtime,
    open_config,
    options,
    resolve_refs,
)
from opwatch.config import Config
from opwatch.exitcodes import ExitCode, combine
from opwatch.explain import Listing, list_errors
from opwatch.model import OperationError, OpRef
from opwatch.runtime import Runtime

DEFAULT_LIMIT = 50


def list_errors_command(
    ctx: typer.Context,
    refs: RefsArgument,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="Rows per operation in the table.")
    ] = DEFAULT_LIMIT,
    group: Annotated[
        bool, typer.Option("--group", help="Fold identical code+field+message into one row.")
    ] = False,
    exit_status: Annotated[
        bool, typer.Option("--exit-status", help="Exit 3 when any error was listed.")
    ] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: OutputOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """The failed items of each operation, as a table, JSON Lines (-o json, every row) or
    GitHub annotations (-o github, plus a $GITHUB_STEP_SUMMARY table when set)."""
    opts = options(
        ctx, config=config, profile=profile, output=output, json=json, verbose=verbose, quiet=quiet
    )
    runtime = make_runtime(opts)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.JSON, Output.GITHUB])
        cfg = open_config(opts, runtime)
        targets = resolve_refs(iter_ref_texts(refs, lambda: runtime.stdin), cfg, opts.profile)
        return asyncio.run(
            explain(cfg, runtime, targets, fmt, limit=limit, group=group, exit_status=exit_status)
        )

    finish(run, runtime)


async def explain(
    cfg: Config,
    runtime: Runtime,
    targets: list[OpRef],
    fmt: Output,
    *,
    limit: int = DEFAULT_LIMIT,
    group: bool = False,
    exit_status: bool = False,
) -> ExitCode:
    """List the errors of `targets` in `fmt`; return the exit code. Also used by `wait --errors`."""
    from opwatch.render.json import error_record, line
    from opwatch.session import Session  # httpx: imported when a command needs it

    def emit(ref: OpRef, row: OperationError) -> None:
        print(line(error_record(ref, row)), file=runtime.stdout)

    listings: list[Listing] = []
    async with Session(cfg, runtime) as session:
        for ref in targets:
            if fmt is Output.JSON:
                listing = await list_errors(session, ref, limit=0, group=False, each=emit)
            else:
                listing = await list_errors(session, ref, limit=limit, group=group)
            if listing.error is not None:
                runtime.warn(f"{ref}: {listing.error.message}")
            listings.append(listing)
    _show(runtime, listings, fmt, group)
    codes = [listing.error.exit_code for listing in listings if listing.error is not None]
    if exit_status and any(listing.total for listing in listings):
        codes.append(ExitCode.FAILED)
    return combine(codes)


def _show(runtime: Runtime, listings: list[Listing], fmt: Output, group: bool) -> None:
    if fmt is Output.JSON:
        runtime.stdout.flush()
        return
    from opwatch.render.errors import errors_table, github_lines, grouped_table, markdown_summary

    if fmt is Output.GITHUB:
        for text in github_lines(listings):
            print(text, file=runtime.stdout)
        summary_path = runtime.env.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as summary:
                summary.write(markdown_summary(listings))
        return
    from opwatch.render.console import make_console

    console = make_console(
        runtime.stdout,
        color=runtime.stdout_color,
        width=runtime.stdout_width,
        terminal=runtime.stdout_is_tty or None,
    )
    console.print(grouped_table(listings) if group else errors_table(listings))
