"""`opwatch config init` and `opwatch config path`: a first config, and which file is read.

The starter config is written from the providers' specs (their keys, sign-in rules, options and
default URLs), so it names every provider the registry has and can never drift from what config
validation accepts. Secrets in it are `${VARIABLE}`s: the file holds no credential.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opwatch.commands.common import ConfigOption, QuietOption, finish, options, runtime_for
from opwatch.completion import typed_option
from opwatch.config import config_source
from opwatch.errors import ConfigError, UsageError
from opwatch.exitcodes import ExitCode
from opwatch.providers import BUILTIN
from opwatch.render.console import Printer

if TYPE_CHECKING:  # the specs come from the registry; their module loads with a provider
    from opwatch.providers.base import ProviderSpec

config_app = typer.Typer(
    name="config",
    help="Write a starter config, or say which config file is read and why.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_WHY = {
    "--config": "given with --config",
    "$OPWATCH_CONFIG": "named by $OPWATCH_CONFIG",
    "default": "the default: $XDG_CONFIG_HOME/opwatch/config.yaml, else ~/.config/opwatch/…",
}

HEADER = """\
# opwatch config, written by `opwatch config init`. Check it with `opwatch profiles`.
# Every string value may use ${VAR} or ${VAR:-default}; an unset variable is an error only when
# its profile is used. Keep secrets out of this file: in variables, as here, or in a command
# (`token_command: pass show toloka`, run without a shell, like git's credential helpers).
# Common keys of every profile: url, timeout (per request, default 10s), verify_tls, ca_bundle.
"""


def variable(spec: "ProviderSpec", key: str) -> str:
    """The environment variable a starter profile reads `key` from: `TOLOKA_TOKEN`."""
    return f"{spec.name}_{key}".upper()


def starter_profile(spec: "ProviderSpec") -> str:
    """One profile of the starter config, named after its provider: the first way to sign in
    filled with variables, the others and every option as comments."""
    first, *others = spec.credentials
    lines = [f"  {spec.name}:", f"    provider: {spec.name}"]
    if spec.default_url is None:
        lines.append(f"    url: https://{spec.name}.example.net  # required: your {spec.label}")
    for key in first:
        lines.append(f"    {key}: ${{{variable(spec, key)}}}")
    for way in others:
        keys = ", ".join(f"{key}: ${{{variable(spec, key)}}}" for key in way)
        lines.append(f"    # or instead: {keys}")
    for key, allowed in spec.options.items():
        if key in {k for way in spec.credentials for k in way}:
            continue  # a sign-in key (a user name), shown above
        values = " | ".join(allowed) if allowed else "any text"
        example = allowed[0] if allowed else "…"
        lines.append(f"    # {key}: {example}  # {values}")
    if spec.default_url is not None:
        lines.append(f"    # url: {spec.default_url({})}  # the default")
    return "\n".join(lines) + "\n"


def starter_config(specs: list["ProviderSpec"]) -> str:
    """The whole starter config for `specs`, the first one the default profile."""
    profiles = "\n".join(starter_profile(spec) for spec in specs)
    return f"{HEADER}\ndefault_profile: {specs[0].name}\n\nprofiles:\n{profiles}"


def write_new(path: Path, text: str) -> None:
    """Create `path` holding `text`, readable by its owner only; never replace a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: a file that appears between a check and the write is not overwritten either.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists; opwatch never overwrites a config (edit it, or write "
            "another with --config PATH)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


@config_app.command("init")
def init(
    ctx: typer.Context,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            "--provider",
            metavar="P",
            help=f"A profile for this provider ({', '.join(BUILTIN)}); repeat for more "
            "(default: one of each).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> int:
    """Write a commented starter config where opwatch will read it (see `opwatch config
    path`), readable by you only; an existing file is never overwritten."""
    runtime = runtime_for(ctx, options(ctx, config=config, quiet=quiet))
    out = Printer(runtime)

    def run() -> ExitCode:
        names = list(dict.fromkeys(provider or BUILTIN))
        unknown = [name for name in names if name not in BUILTIN]
        if unknown:
            raise UsageError(f"unknown provider {unknown[0]!r} (choose from {', '.join(BUILTIN)})")
        path, _ = config_source(typed_option(ctx, "config"), runtime.env)
        write_new(path, starter_config([BUILTIN[name] for name in names]))
        out.line(str(path))
        keys = sorted(
            {f"${variable(BUILTIN[n], k)}" for n in names for k in BUILTIN[n].credentials[0]}
        )
        out.say(f"opwatch: wrote {path}; set {', '.join(keys)}, then run `opwatch profiles`")
        return ExitCode.OK

    return finish(run, runtime)


@config_app.command("path")
def path_command(
    ctx: typer.Context, config: ConfigOption = None, quiet: QuietOption = False
) -> int:
    """Print the config file opwatch reads; on stderr, why that one and whether it exists."""
    runtime = runtime_for(ctx, options(ctx, config=config, quiet=quiet))
    out = Printer(runtime)

    def run() -> ExitCode:
        path, source = config_source(typed_option(ctx, "config"), runtime.env)
        out.line(str(path))
        state = "it exists" if path.is_file() else "it does not exist: `opwatch config init`"
        out.say(f"opwatch: {_WHY[source]}; {state}")
        return ExitCode.OK

    return finish(run, runtime)
