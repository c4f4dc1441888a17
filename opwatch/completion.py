"""What the shell completes beyond commands and options (which typer completes itself): profile
names, and the `PROFILE:` part of a REF, read from the config file.

A completion runs on every Tab, so it must be quick and quiet: it reads the profile names from
the YAML and nothing else. No variable is expanded, no `*_command` secret helper runs, no
provider module is loaded and nothing goes on the network; a config that is missing or broken
completes nothing rather than printing an error into the user's command line.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import typer


def profile_names(path: Path) -> list[str]:
    """The profile names of the config at `path`, in file order; [] when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    import yaml  # only when completing: start-up does not pay for it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where built
    try:
        document = yaml.load(text, Loader=loader)  # safe: plain data only
    except yaml.YAMLError:
        return []
    profiles = document.get("profiles") if isinstance(document, dict) else None
    if not isinstance(profiles, dict):
        return []
    return [str(name) for name in profiles if ":" not in str(name)]


def complete_profile(ctx: typer.Context, incomplete: str) -> list[str]:
    """Profile names that start with what was typed."""
    return [name for name in profile_names(_config_path(ctx)) if name.startswith(incomplete)]


def complete_ref(ctx: typer.Context, incomplete: str) -> list[str]:
    """`PROFILE:` for each profile that starts with what was typed; nothing once the id part
    has begun (ids would need a request)."""
    if ":" in incomplete:
        return []
    return [f"{name}:" for name in complete_profile(ctx, incomplete)]


def _config_path(ctx: typer.Context) -> Path:
    """The config the command being completed would read: a --config typed before or after
    the command name, else $OPWATCH_CONFIG, else the user's file (as opwatch.config finds it)."""
    from opwatch.config import find_config_path

    return find_config_path(typed_option(ctx, "config"), _environment(ctx))


def typed_option(ctx: typer.Context, name: str) -> str | None:
    """The value of the option `name` typed on the command line (after the command name wins
    over before), or None.

    typer also fills `config` and `profile` from $OPWATCH_CONFIG and $OPWATCH_PROFILE, in the
    command's context as in the top one; such a value must not hide a flag typed before the
    command name, nor pass for a flag in `opwatch config path`: so this asks where each value
    came from.
    """
    context: typer.Context | None = ctx
    while context is not None:
        source = context.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":
            value = context.params.get(name)
            return str(value) if value else None
        context = context.parent  # type: ignore[assignment]
    return None


def _environment(ctx: typer.Context) -> Mapping[str, str]:
    from opwatch.commands.common import Context  # the runtime `main` was given

    found = ctx.find_object(Context)
    return found.runtime.env if found is not None else os.environ
