"""`opwatch profiles`: the configured profiles, never their secrets, and whether each resolves."""

from typing import Annotated

import typer

from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Output,
    QuietOption,
    finish,
    open_config,
    options,
    output_option,
    runtime_for,
)
from opwatch.config import Config
from opwatch.exitcodes import ExitCode
from opwatch.render.console import Printer


def profiles(
    ctx: typer.Context,
    config: ConfigOption = None,
    output: Annotated[str | None, output_option(Output.TABLE, Output.JSON)] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
) -> int:
    """The configured profiles (never their secrets), and whether each resolves.

    Exits 5 when a profile does not resolve (a missing variable, a failing secret command).
    """
    opts = options(ctx, config=config, output=output, json=json, quiet=quiet)
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.JSON])
        cfg = open_config(opts, runtime)
        records = profile_records(cfg)
        if fmt is Output.JSON:
            from opwatch.render.json import line

            for record in records:
                out.line(line(record))
        else:
            from opwatch.render.table import profiles_table

            out.show(profiles_table(records))
        return ExitCode.CONFIG if cfg.broken else ExitCode.OK

    return finish(run, runtime)


def profile_records(cfg: Config) -> list[dict[str, object]]:
    """One record per profile, in file order: name, provider, url, default, credentials, problem."""
    default = cfg.default_profile or (next(iter(cfg.profiles)) if len(cfg.profiles) == 1 else None)
    records: list[dict[str, object]] = []
    for name, profile in cfg.profiles.items():
        records.append(
            {
                "name": name,
                "provider": profile.provider,
                "url": profile.url,
                "default": name == default,
                # Where each credential comes from, never its value.
                "credentials": {
                    key: secret.source or "literal in config"
                    for key, secret in profile.secrets.items()
                },
                "ok": True,
                "problem": None,
            }
        )
    for name, error in cfg.broken.items():
        records.append(
            {
                "name": name,
                "provider": None,
                "url": None,
                "default": name == default,
                "credentials": {},
                "ok": False,
                "problem": error.message,
            }
        )
    return records
