"""The `opwatch` command: the Typer app, its common options and its subcommands, and
`main(argv, runtime) -> int`, which runs the whole CLI in the world it is given.

Each subcommand lives in `opwatch.commands`; this module only wires them together. Nothing heavy
is imported here: `opwatch status -o json` runs thousands of times a day in CI.
"""

import contextlib
import gc
import io
import signal
import sys
from collections.abc import Callable, Iterator, MutableMapping
from functools import cache
from importlib import import_module
from typing import Annotated, Any, NoReturn

import typer
import typer.core
import typer.main
import typer.models

from opwatch import __version__
from opwatch.commands.common import (
    ConfigOption,
    Context,
    JsonOption,
    Options,
    OutputOption,
    ProfileOption,
    QuietOption,
    Terminated,
    VerboseOption,
    context,
)
from opwatch.exitcodes import ExitCode, help_epilog
from opwatch.runtime import Runtime, collect_less_often

EXIT_CODES = "\b\n" + help_epilog()
"""click re-wraps help paragraphs; one that starts with \\b keeps its lines (the code table)."""

# Each subcommand: the module and name of its function (or of its Typer, for a command with
# subcommands of its own), and what typer's app.command / app.add_typer would take. In the
# order the help page lists them; each short help is one whole sentence that fits the command
# list at 80 columns.
_COMMANDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "status": (
        "opwatch.commands.status",
        "status",
        {"epilog": EXIT_CODES, "short_help": "One read of each operation, then exit."},
    ),
    "wait": (
        "opwatch.commands.wait",
        "wait",
        {
            "epilog": EXIT_CODES,
            "short_help": "Poll until every operation ends or the deadline passes.",
        },
    ),
    "list-errors": (
        "opwatch.commands.list_errors",
        "list_errors_command",
        {"epilog": EXIT_CODES, "short_help": "The failed items of each operation."},
    ),
    "demo": (
        "opwatch.commands.demo",
        "demo",
        {"short_help": "Watch jobs of all three providers on the built-in simulator."},
    ),
    "simulate": (
        "opwatch.commands.simulate",
        "simulate",
        {"short_help": "Run the simulator of all three providers in the foreground."},
    ),
    "profiles": (
        "opwatch.commands.profiles",
        "profiles",
        {"short_help": "The configured profiles, and whether each resolves."},
    ),
    "list": (
        "opwatch.commands.list_ops",
        "list_command",
        {"epilog": EXIT_CODES, "short_help": "The operations a provider lists, filtered."},
    ),
    "providers": (
        "opwatch.commands.providers",
        "app",
        {"short_help": "Built-in and declared providers; check one."},
    ),
    "config": (
        "opwatch.commands.config_cmd",
        "config_app",
        {"short_help": "Write a starter config, or say which file is read."},
    ),
}


class _Commands(MutableMapping[str, Any]):
    """The subcommands by name, each built the first time it is looked up: its module imported,
    its click command made from the function's signature.

    A run builds only the command it runs (`status` does not import the wait engine, the
    simulator or the config writer, nor have typer inspect their signatures), while the help
    page, completion and typer's "Did you mean" still see every name, in order. This is click's
    "lazy loading subcommands" pattern, done on the mapping that typer's group reads
    (`commands`), so that every typer method over it works unchanged.
    """

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            module, attribute, settings = _COMMANDS[name]
            self._built[name] = _build(name, getattr(import_module(module), attribute), settings)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("opwatch's commands are fixed")

    def __iter__(self) -> Iterator[str]:
        return iter(_COMMANDS)

    def __len__(self) -> int:
        return len(_COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in _COMMANDS


def _build(name: str, target: Any, settings: dict[str, Any]) -> Any:
    """The click command typer makes for `target` (a function, or a Typer with commands)."""
    if isinstance(target, typer.Typer):
        return typer.main.get_group_from_info(
            typer.models.TyperInfo(target, name=name, **settings),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
    return typer.main.get_command_from_info(
        typer.models.CommandInfo(name=name, callback=target, **settings),
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


class _Group(typer.core.TyperGroup):
    """opwatch's root command: typer's group over the lazily built subcommands."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands()


app = typer.Typer(
    name="opwatch",
    help="Check, wait on and explain long-running operations of Wesog, Toloka and Traffic Ops.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    # --install-completion / --show-completion: bash, zsh, fish and PowerShell scripts that
    # call opwatch back with _OPWATCH_COMPLETE set (typer's own mechanism, at no start-up cost:
    # typer imports its completion module anyway). opwatch.completion adds profile names.
    add_completion=True,
    # Plain help, as click writes it: paragraphs re-wrapped to the terminal as whole sentences,
    # no boxes in a pipe, and the same plain style as opwatch's one-line errors. (typer's rich
    # help keeps the docstrings' line breaks, so sentences broke mid-line.)
    rich_markup_mode=None,
    # Tracebacks with locals would print tokens; opwatch reports its own errors anyway.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=_Group,
)


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        print(f"opwatch {__version__}", file=context(ctx).runtime.stdout)
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
    context(ctx).before = Options(config, profile, output, json, verbose, quiet)


# click's UsageError (typer vendors click from 0.22 on, and re-exports only its subclass
# BadParameter): bad flags, missing arguments, unknown commands.
_CLICK_USAGE_ERROR: type[Exception] = typer.BadParameter.__base__  # type: ignore[assignment]


def main(argv: list[str], runtime: Runtime) -> int:
    """Run `opwatch ARGV...` in `runtime`'s world and return the exit code; raise nothing.

    typer parses and dispatches, but does not own the process: a command returns its code, a
    usage error becomes one line and 2, and only `console_script` exits.
    """
    with _sigterm_as_interrupt(runtime.sigterm), contextlib.redirect_stdout(runtime.stdout):
        # stdout is redirected for typer's own output only: help pages.
        try:
            code = _command()(
                args=argv,
                prog_name="opwatch",
                standalone_mode=False,
                obj=Context(runtime),
            )
        except _CLICK_USAGE_ERROR as exc:
            return _usage_error(exc, runtime)
        except typer.Abort:  # end of input at a prompt; opwatch has none, but click can raise it
            return int(ExitCode.INTERRUPTED)
        except SystemExit as exc:
            # typer ends a shell completion, --show-completion and --install-completion with
            # sys.exit; in-process, that is a return like any other.
            return exc.code if isinstance(exc.code, int) else int(ExitCode.BUG if exc.code else 0)
    # A command returns its code; --help, --version and a help page for no arguments return
    # what click exits with (0, or 2 when the arguments were missing).
    return code if isinstance(code, int) else 0


def console_script() -> NoReturn:
    """The `opwatch` command: the real world, and the one place the process exits."""
    collect_less_often()
    # Under a non-UTF-8 locale, a provider's message or a bar character must not crash the
    # output: characters the stream cannot encode become '?'.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower() not in (
            "utf-8",
            "utf8",
        ):
            stream.reconfigure(errors="replace")
    code = main(sys.argv[1:], Runtime(sigterm=True))
    # The run is over and the process ends next. On its way out Python runs its cyclic garbage
    # collector over every object still alive (the modules of typer, httpx and asyncio: some
    # 30,000), which costs more than a `status` run's own work (bench/startup.py: 12-15 ms).
    # Frozen objects are left to the end of the process; everything opwatch opened is closed
    # already (files by `with`, connections and the event loop by the session), and the
    # streams are flushed by Python's exit as before.
    gc.freeze()
    sys.exit(code)


@cache
def _command() -> Callable[..., object]:
    """The entry of the click command typer builds from the app, built once per process."""
    return typer.main.get_command(app).main


def _usage_error(exc: Exception, runtime: Runtime) -> int:
    """A bad flag or argument: one line in opwatch's style, and exit code 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        # `opwatch` alone: the help page, which click carries as the error's message.
        page = exc.format_message() if hasattr(exc, "format_message") else ""
        if page:
            print(page, file=runtime.stdout, flush=True)
        return int(ExitCode.USAGE)
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    # click says "No such option: --x." where opwatch says "no such option: --x".
    message = message.rstrip(".")
    if message[:2].istitle():
        message = message[0].lower() + message[1:]
    # After a question ("Did you mean 'wait'?") the hint is a sentence of its own.
    see = " See" if message.endswith("?") else "; see"
    hint = f"{see} '{ctx.command_path} --help'" if ctx is not None else ""
    print(f"opwatch: error: {message}{hint}", file=runtime.stderr, flush=True)
    return int(ExitCode.USAGE)


@contextlib.contextmanager
def _sigterm_as_interrupt(enabled: bool) -> Iterator[None]:
    """While a run lasts, SIGTERM ends it the way Ctrl-C does (the last states printed), and
    `finish` turns it into 143. The one place opwatch handles SIGTERM."""
    if not enabled:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
