"""What every command shares: the common options, the runtime it runs in, loading config,
resolving REFs, and the one place where a command's outcome or error becomes its exit code."""

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer

from opwatch.completion import complete_profile, complete_ref, typed_option
from opwatch.config import Config, Profile, find_config_path, load_config
from opwatch.errors import OpwatchError, UsageError
from opwatch.exitcodes import ExitCode
from opwatch.model import OpRef
from opwatch.providers import provider_class
from opwatch.runtime import Runtime


class Output(StrEnum):
    """Output formats; each command accepts the ones that make sense for it."""

    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    EVENTS = "events"
    GITHUB = "github"
    REF = "ref"


OUTPUT_MEANINGS = {
    Output.TABLE: "a table fitted to the terminal (the default)",
    Output.WIDE: "the table with every column, unclipped",
    Output.JSON: "JSON Lines, one object per line",
    Output.EVENTS: "JSON Lines as things happen, then a summary line",
    Output.GITHUB: "GitHub Actions annotations, at most 10, then a notice with the totals",
}


def output_option(*formats: Output) -> Any:
    """The -o/--output option of a command that accepts `formats`: its help lists them, each
    with what it gives. The value is checked by Options.format, whose usage error names the
    formats of this command (a click Choice would name every format of every command)."""
    meanings = "; ".join(f"{fmt.value}: {OUTPUT_MEANINGS[fmt]}" for fmt in formats)
    return typer.Option(
        "--output",
        "-o",
        metavar="|".join(fmt.value for fmt in formats),
        help=f"Output format. {meanings}.",
        show_default=False,
    )


ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        envvar="OPWATCH_CONFIG",
        metavar="PATH",
        help="Config file (default: ~/.config/opwatch/config.yaml).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        envvar="OPWATCH_PROFILE",
        metavar="NAME",
        help="Profile for REFs that do not name one.",
        show_default=False,
        autocompletion=complete_profile,
    ),
]
OutputOption = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        help="Output format; each command's help lists the ones it accepts.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Same as -o json.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log requests on stderr (secrets redacted).")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Nothing on stderr but errors.")]
RefsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="REF...",
        help="[PROFILE:]ID of each operation; '-' reads more REFs from standard input "
        "('#' starts a comment). A prefix that is not a profile is an error, never another "
        "profile's id.",
        show_default=False,
        autocompletion=complete_ref,
    ),
]


@dataclass
class Options:
    """The common options, as given before or after the command name."""

    config: str | None = None
    profile: str | None = None
    output: str | None = None
    """As given: checked against the command's formats by `format`."""
    json: bool = False
    verbose: bool = False
    quiet: bool = False

    def merged(self, later: "Options") -> "Options":
        """These options overridden by the ones given after the command name."""
        return Options(
            config=later.config or self.config,
            profile=later.profile or self.profile,
            output=later.output or self.output,
            json=later.json or self.json,
            verbose=later.verbose or self.verbose,
            quiet=later.quiet or self.quiet,
        )

    def format(self, allowed: Iterable[Output], default: Output = Output.TABLE) -> Output:
        """The output format asked for, or a UsageError when this command has no such format."""
        allowed = tuple(allowed)
        if self.json and self.output not in (None, Output.JSON):
            raise UsageError(f"--json and -o {self.output} contradict each other")
        chosen = Output.JSON.value if self.json else (self.output or default.value)
        if chosen not in allowed:
            names = ", ".join(allowed)
            raise UsageError(f"-o {chosen} is not available here (choose from {names})")
        return Output(chosen)


@dataclass
class Context:
    """What `main` hands every command through typer's ctx.obj: the world to run in, and the
    common options given before the command name."""

    runtime: Runtime
    before: Options = dataclasses.field(default_factory=Options)


def options(ctx: typer.Context, **given: object) -> Options:
    """Merge the options given after the command name over those given before it; a flag
    typed anywhere wins over its environment variable."""
    merged = context(ctx).before.merged(Options(**given))  # type: ignore[arg-type]
    return dataclasses.replace(
        merged,
        config=typed_option(ctx, "config") or merged.config,
        profile=typed_option(ctx, "profile") or merged.profile,
    )


def context(ctx: typer.Context) -> Context:
    """The Context `main` put in ctx.obj."""
    found = ctx.find_object(Context)
    if found is None:
        raise RuntimeError("opwatch commands run through opwatch.cli.main")
    return found


def runtime_for(ctx: typer.Context, opts: Options) -> Runtime:
    """The runtime of this run, with the verbosity the options ask for."""
    return dataclasses.replace(context(ctx).runtime, verbose=opts.verbose, quiet=opts.quiet)


def open_config(opts: Options, runtime: Runtime) -> Config:
    """Find and load the config, and show its warnings."""
    config = load_config(find_config_path(opts.config, runtime.env), runtime.env)
    for warning in config.warnings:
        runtime.warn(warning)
    return config


def iter_ref_texts(args: Iterable[str], stdin_lines: Callable[[], Iterable[str]]) -> Iterator[str]:
    """Each REF argument, with `-` replaced by the white-space-separated words of stdin, where
    `#` starts a comment to the end of its line (a REF list file may explain itself)."""
    read_stdin = False
    for arg in args:
        if arg == "-":
            if read_stdin:
                continue  # stdin can be read once; a second '-' adds nothing
            read_stdin = True
            for line in stdin_lines():
                yield from line.partition("#")[0].split()
        else:
            yield arg


_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""What a profile name looks like in a REF: text before a `:` shaped like this names a
profile, and is never taken for the start of an id of another profile."""
_URL = re.compile(r"https?://", re.IGNORECASE)


def resolve_refs(texts: Iterable[str], config: Config, profile_override: str | None) -> list[OpRef]:
    """Parse REFs in order, dropping repeats; a bad REF is a UsageError naming it.

    A REF never reads another profile's operation silently (SPEC.md): `PROFILE:ID` when the
    text before the first `:` is a profile; else the whole REF must be an id of the default
    profile in its provider's own syntax. A prefix shaped like a profile name that is neither
    (`crwod:…`, `cdn-prd:/api/4.0/async_status/3`) is an unknown profile, exit 5, with the
    closest name.
    """
    refs: list[OpRef] = []
    seen: set[OpRef] = set()
    for text in texts:
        profile, op_id = _resolve_ref(text, config, profile_override)
        ref = OpRef(profile, op_id)
        if ref not in seen:
            seen.add(ref)
            refs.append(ref)
    if not refs:
        raise UsageError("no REF given (pass [PROFILE:]ID, or '-' to read REFs from stdin)")
    return refs


def _resolve_ref(text: str, config: Config, profile_override: str | None) -> tuple[str, str]:
    head, sep, rest = text.partition(":")
    if sep and (head in config.profiles or head in config.broken):
        profile = config.get(head)
        return head, _id_of(text, rest, profile)
    names_profile = bool(sep) and _PROFILE_NAME.fullmatch(head) is not None
    if names_profile and not _URL.match(text):
        try:
            default = config.get(config.default_name(profile_override))
            return default.name, provider_class(default.provider).id_for(text, default)
        except OpwatchError:
            # Not an id of the default profile either: the prefix was meant as a profile.
            raise config.unknown(head) from None
    # Not a profile name: the whole REF is an id of the default profile (SPEC.md).
    default = config.get(config.default_name(profile_override))
    return default.name, _id_of(text, text, default)


def _id_of(ref: str, text: str, profile: Profile) -> str:
    try:
        return provider_class(profile.provider).id_for(text, profile)
    except UsageError as exc:
        raise UsageError(f"invalid REF {ref!r}: {exc}") from None


def read_targets(
    refs: Iterable[str], config: Config, opts: Options, runtime: Runtime
) -> list[OpRef]:
    """The REFs of a command (`-` reads stdin), resolved; then the secrets of the profiles
    they use, and only those: another profile's `token_command` never runs."""
    targets = resolve_refs(iter_ref_texts(refs, lambda: runtime.stdin), config, opts.profile)
    config.resolve(ref.profile for ref in targets)
    return targets


def finish(run: Callable[[], ExitCode], runtime: Runtime) -> int:
    """Run a command body and return its exit code, whatever happens in it.

    opwatch's own errors become one line on stderr and their code; Ctrl-C becomes 130 and
    SIGTERM 143; a closed stdout (`| head -1`) ends quietly; anything else is a bug, reported
    without locals.
    """
    err = runtime.stderr
    try:
        code = run()
    except OpwatchError as exc:
        print(f"opwatch: error: {exc.message}", file=err, flush=True)
        code = exc.exit_code
    except Terminated:
        print("opwatch: terminated", file=err, flush=True)
        code = ExitCode.TERMINATED
    except KeyboardInterrupt:
        print("opwatch: interrupted", file=err, flush=True)
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        return _closed_stdout(runtime)
    except Exception as exc:
        if runtime.env.get("OPWATCH_DEBUG"):
            raise
        # No traceback by default: it is noise to a user, and frames can hold credentials.
        print(
            f"opwatch: internal error (a bug, please report it): {exc.__class__.__name__}: {exc}"
            "\nopwatch: set OPWATCH_DEBUG=1 to see the traceback",
            file=err,
            flush=True,
        )
        code = ExitCode.BUG
    try:
        runtime.stdout.flush()
    except BrokenPipeError:
        return _closed_stdout(runtime)
    return int(code)


def _closed_stdout(runtime: Runtime) -> int:
    """The reader of stdout went away (`| head -1`): what it wanted it has; end with 0."""
    try:
        fileno = runtime.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return int(ExitCode.OK)  # not a file: nothing will flush it again
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)
    return int(ExitCode.OK)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C but ending with 143."""
