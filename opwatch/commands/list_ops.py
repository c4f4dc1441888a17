"""`opwatch list`: the operations a provider lists, filtered, as a table, JSON Lines or REFs.

`-o ref` prints one REF per line, so a listing feeds the other commands:
`opwatch list crowd --state running -o ref | opwatch wait -`. Operations are printed as the
provider's pages arrive, and none is kept after it is printed (a table keeps one block).
"""

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Output,
    OutputOption,
    ProfileOption,
    QuietOption,
    VerboseOption,
    finish,
    open_config,
    options,
    runtime_for,
)
from opwatch.completion import complete_profile
from opwatch.config import Config
from opwatch.exitcodes import ExitCode
from opwatch.model import Operation, OpRef, State
from opwatch.render.console import Printer

if TYPE_CHECKING:
    from opwatch.listing import ListQuery


def list_command(
    ctx: typer.Context,
    profile_name: Annotated[
        str | None,
        typer.Argument(
            metavar="[PROFILE]",
            help="The profile to list (default: --profile, default_profile, or the only one).",
            autocompletion=complete_profile,
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            # The words of opwatch.listing.STATE_GROUPS, which loads when a listing runs.
            help=f"Only these states, repeated or comma-separated: {', '.join(State)}, "
            "terminal, active.",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="K",
            help="Only this kind (Toloka's type, e.g. POOL.OPEN; Wesog's 'add image').",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Only operations submitted since then: a duration back (2h, 3d) or a date.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=0, metavar="N", help="At most N operations.", show_default=False
        ),
    ] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: OutputOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> int:
    """The operations a provider lists (Toloka, Wesog), filtered: a table, JSON Lines
    (-o json) or one REF per line (-o ref, for `opwatch wait -`)."""
    opts = options(
        ctx, config=config, profile=profile, output=output, json=json, verbose=verbose, quiet=quiet
    )
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        from opwatch.listing import ListQuery, parse_since, parse_states

        fmt = opts.format([Output.TABLE, Output.JSON, Output.REF])
        query = ListQuery(
            states=parse_states(state or ()),
            kind=kind,
            since=parse_since(since, runtime.now()) if since is not None else None,
            limit=limit,
        )
        cfg = open_config(opts, runtime)
        name = profile_name or cfg.default_name(opts.profile)
        cfg.get(name)  # an unknown or broken profile is a config error before any request
        listed = runtime.run(_list_and_show(cfg, out, name, query, fmt))
        if not listed:
            out.say(f"opwatch: no operation of profile '{name}' matches")
        return ExitCode.OK

    return finish(run, runtime)


async def _list_and_show(
    cfg: Config, out: Printer, name: str, query: "ListQuery", fmt: Output
) -> int:
    """Print each operation as it arrives; return how many were listed."""
    from opwatch import core
    from opwatch.session import Session  # httpx: imported when a command needs it

    runtime = out.runtime
    now = runtime.now()
    show = _shower(out, fmt, now)
    listed = 0
    try:
        async with (
            Session(cfg, runtime) as session,
            contextlib.aclosing(core.find(session, name, query)) as found,
        ):
            async for operation in found:
                show.add(OpRef(name, operation.id), operation)
                listed += 1
    finally:
        show.close()  # what arrived before a failed page or Ctrl-C is shown too
    return listed


class _Lines:
    """-o ref and -o json: one line per operation, written as it arrives."""

    def __init__(self, out: Printer, fmt: Output, now: datetime) -> None:
        self.out, self.fmt, self.now = out, fmt, now

    def add(self, ref: OpRef, operation: Operation) -> None:
        if self.fmt is Output.REF:
            self.out.line(str(ref))
            return
        from opwatch.render.json import line, operation_record

        self.out.line(line(operation_record(ref, operation, self.now)))

    def close(self) -> None:
        self.out.flush()


class _Blocks:
    """The table: a block at a time, so the first rows show before the last page arrives."""

    def __init__(self, out: Printer, now: datetime) -> None:
        from opwatch.render.list_table import BLOCK_ROWS, ListTable  # rich: only for a table

        self.out, self.table, self.size = out, ListTable(now), BLOCK_ROWS
        self.rows: list[tuple[OpRef, Operation]] = []

    def add(self, ref: OpRef, operation: Operation) -> None:
        self.rows.append((ref, operation))
        if len(self.rows) >= self.size:
            self.close()

    def close(self) -> None:
        if self.rows:
            self.out.show(self.table.block(self.rows))
            self.rows = []
        self.out.flush()


def _shower(out: Printer, fmt: Output, now: datetime) -> "_Lines | _Blocks":
    return _Blocks(out, now) if fmt is Output.TABLE else _Lines(out, fmt, now)
