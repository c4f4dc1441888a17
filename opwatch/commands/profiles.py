"""`opwatch profiles`: the configured profiles, never their secrets, and whether each resolves;
with `--check`, whether each one's credentials work (one login or cheap read per profile)."""

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
from opwatch.errors import AuthError, OpwatchError, ProviderError
from opwatch.exitcodes import ExitCode
from opwatch.render.console import Printer
from opwatch.runtime import Runtime


def profiles(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Log in, or make one cheap authenticated read, per profile: "
            "ok, refused or unreachable.",
        ),
    ] = False,
    config: ConfigOption = None,
    output: Annotated[str | None, output_option(Output.TABLE, Output.JSON)] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
) -> int:
    """The configured profiles (never their secrets), and whether each resolves.

    Exits 5 when a profile does not resolve (a missing variable, a failing secret command).
    With --check, exits 0 only when every profile's credentials work: else 6 when one is
    refused, 7 when one is unreachable (like `gh auth status`).
    """
    opts = options(ctx, config=config, output=output, json=json, quiet=quiet)
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.JSON])
        cfg = open_config(opts, runtime)
        records = profile_records(cfg)
        if check:
            runtime.run(_check_all(cfg, runtime, records))
        if fmt is Output.JSON:
            from opwatch.render.json import line

            for record in records:
                out.line(line(record))
        else:
            from opwatch.render.table import profiles_table

            out.show(profiles_table(records))
        return _code(records)

    return finish(run, runtime)


def profile_records(cfg: Config) -> list[dict[str, object]]:
    """One record per profile, in file order: name, provider, url, default, credentials, ok,
    problem. Every profile's secrets are resolved (their commands run) to say whether it works."""
    default = cfg.default_profile or (next(iter(cfg.profiles)) if len(cfg.profiles) == 1 else None)
    records: list[dict[str, object]] = []
    for name, profile in cfg.profiles.items():
        problem = cfg.problem(name)
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
                "ok": problem is None,
                "problem": problem.message if problem else None,
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


async def _check_all(cfg: Config, runtime: Runtime, records: list[dict[str, object]]) -> None:
    """Check every profile that resolves, all at once; a record gets `check` (ok, refused,
    unreachable, error) and `check_message`, the message a command would print."""
    import asyncio

    from opwatch.session import Session  # httpx: imported when a command needs it

    async with Session(cfg, runtime) as session:

        async def one(record: dict[str, object]) -> None:
            if not record["ok"]:
                record["check"], record["check_message"] = "unresolved", record["problem"]
                return
            try:
                await session.provider(str(record["name"])).check()
            except OpwatchError as exc:
                record["check"], record["check_message"] = _verdict(exc), exc.message
            else:
                record["check"], record["check_message"] = "ok", None

        await asyncio.gather(*(one(record) for record in records))


def _verdict(error: OpwatchError) -> str:
    if isinstance(error, AuthError):
        return "refused"
    if isinstance(error, ProviderError):
        return "unreachable"
    return "error"


_CHECK_CODES = {
    "unresolved": ExitCode.CONFIG,
    "refused": ExitCode.AUTH,
    "unreachable": ExitCode.UNREACHABLE,
    "error": ExitCode.UNREACHABLE,
}


def _code(records: list[dict[str, object]]) -> ExitCode:
    from opwatch.exitcodes import combine

    codes = [ExitCode.CONFIG for record in records if not record["ok"]]
    codes += [_CHECK_CODES[str(r["check"])] for r in records if r.get("check", "ok") != "ok"]
    return combine(codes)
