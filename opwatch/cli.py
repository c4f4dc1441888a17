"""The `opwatch` command: the Typer app, its common options and its subcommands.

Each subcommand lives in `opwatch.commands`; this module only wires them together. Nothing heavy
is imported here: `opwatch status -o json` runs thousands of times a day in CI.
"""

import io
import sys
from typing import Annotated

import typer

from opwatch import __version__
from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Options,
    OutputOption,
    ProfileOption,
    QuietOption,
    VerboseOption,
    sigterm_as_interrupt,
)
from opwatch.commands.demo import demo
from opwatch.commands.list_errors import list_errors_command
from opwatch.commands.profiles import profiles
from opwatch.commands.providers import app as providers_app
from opwatch.commands.simulate import simulate
from opwatch.commands.status import status
from opwatch.commands.wait import wait
from opwatch.exitcodes import help_epilog

EXIT_CODES = help_epilog()

app = typer.Typer(
    name="opwatch",
    help="Check, wait on and explain long-running operations of Wesog, Toloka and Traffic Ops.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with locals would print tokens; opwatch reports its own errors anyway.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        print(f"opwatch {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: OutputOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Check, wait on and explain long-running operations of Wesog, Toloka and Traffic Ops.

    A REF is [PROFILE:]ID; profiles come from the config file (see `opwatch profiles`).
    """
    ctx.obj = Options(config, profile, output, json, verbose, quiet)


app.command(epilog=EXIT_CODES)(status)
app.command(epilog=EXIT_CODES)(wait)
app.command("list-errors", epilog=EXIT_CODES)(list_errors_command)
app.command()(demo)
app.command()(simulate)
app.command()(profiles)
app.add_typer(providers_app, name="providers")


def main() -> None:
    """The console script."""
    # Under a non-UTF-8 locale, a provider's message or a bar character must not crash the
    # output: characters the stream cannot encode become '?'.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower() not in (
            "utf-8",
            "utf8",
        ):
            stream.reconfigure(errors="replace")
    sigterm_as_interrupt()
    app(prog_name="opwatch")
