"""`opwatch providers`: the built-in and declared providers; `providers check FILE` validates a
definition and, with `--sample`, shows the operation it reads in a body.

Declared providers come from the config (`providers:`) and from `<config dir>/providers/*.yaml`.
Nothing here talks to a provider: `check` is how a definition is written, one sample at a time.
"""

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Output,
    OutputOption,
    QuietOption,
    finish,
    options,
    runtime_for,
)
from opwatch.config import find_config_path, load_config
from opwatch.errors import ConfigError, UsageError
from opwatch.exitcodes import ExitCode
from opwatch.providers import BUILTIN
from opwatch.render.console import Printer
from opwatch.runtime import Runtime

app = typer.Typer(
    help="Built-in and declared providers; `providers check FILE` validates a definition.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def providers(
    ctx: typer.Context,
    config: ConfigOption = None,
    output: OutputOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
) -> int | None:
    """The providers a profile can name: built in, and declared in the config or in
    `<config dir>/providers/NAME.yaml`. Exits 5 when a declared one does not validate."""
    if ctx.invoked_subcommand is not None:
        return None
    opts = options(ctx, config=config, output=output, json=json, quiet=quiet)
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.JSON])
        records = provider_records(find_config_path(opts.config, runtime.env), runtime)
        if fmt is Output.JSON:
            for record in records:
                out.line(jsonlib.dumps(record))
        else:
            out.line(_table(records))
        return ExitCode.OK if all(record["ok"] for record in records) else ExitCode.CONFIG

    return finish(run, runtime)


@app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A definition (YAML).")],
    sample: Annotated[
        Path | None,
        typer.Option("--sample", metavar="BODY.json", help="A status body to read with it."),
    ] = None,
    http_status: Annotated[
        int, typer.Option("--http-status", help="The HTTP status the sample came with.")
    ] = 200,
    also: Annotated[
        list[str] | None,
        typer.Option(
            "--also", metavar="NAME=BODY.json", help="A body for one of the definition's `also`."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The provider's name (default: FILE's stem).")
    ] = None,
    json: JsonOption = False,
) -> int:
    """Validate the definition in FILE; with --sample, show the operation and the error rows
    it reads in BODY.json. Exits 5 when the definition is not valid, 2 when the sample is not
    JSON."""
    opts = options(ctx, json=json)
    runtime = runtime_for(ctx, opts)
    out = Printer(runtime)

    def run() -> ExitCode:
        from opwatch.providers import declared

        definition = declared.load_file(name or file.stem, file)
        if sample is None:
            out.line(_summary(definition))
            return ExitCode.OK
        payload = _sample(sample)
        documents = {}
        for given in also or []:
            key, equals, path = given.partition("=")
            if not equals or key not in definition.also:
                known = ", ".join(definition.also) or "none"
                raise UsageError(f"--also takes NAME=BODY.json, NAME one of: {known}")
            documents[key] = _sample(Path(path))
        operation, unlisted = declared.read_operation(
            definition, payload, "sample", http_status=http_status, also=documents
        )
        if unlisted is not None:
            runtime.warn(
                f"the status {unlisted!r} is not in state.words; read as "
                f"{definition.state.other.value}"
            )
        rows = list(declared.document_errors(definition, payload, "sample"))
        from opwatch.model import OpRef
        from opwatch.render.json import error_record, iso, operation_record

        ref = OpRef(definition.name, "sample")
        if opts.json:
            record = operation_record(ref, operation, runtime.now())
            record.pop("raw")
            out.line(jsonlib.dumps(record))
            for row in rows:
                out.line(jsonlib.dumps(error_record(ref, row)))
            return ExitCode.OK
        progress = operation.progress
        word = _shown(operation.provider_status)
        lines = [
            f"state          {operation.state.value} (provider status: {word})",
            f"kind           {_shown(operation.kind)}",
            f"message        {_shown(operation.message)}",
            f"progress       percent {_shown(progress.percent)}, done {_shown(progress.done)}, "
            f"total {_shown(progress.total)}, good {_shown(progress.good)}, "
            f"bad {_shown(progress.bad)}",
            f"errors         {_shown(operation.error_count)}",
            f"submitted      {_shown(iso(operation.submitted_at))}",
            f"started        {_shown(iso(operation.started_at))}",
            f"finished       {_shown(iso(operation.finished_at))}",
        ]
        others = [source for source in definition.errors if source.url is not None]
        lines.append(
            f"error rows     {len(rows)} in the body"
            + (f" (and {len(others)} source(s) read from a URL)" if others else "")
        )
        for row in rows:
            cells = {"item": row.item, "code": row.code, "field": row.field, "step": row.step}
            said = ", ".join(f"{key} {value}" for key, value in cells.items() if value is not None)
            lines.append(f"  - {said}: {row.message}" if said else f"  - {row.message}")
        out.line("\n".join(lines))
        return ExitCode.OK

    return finish(run, runtime)


def provider_records(config_path: Path, runtime: Runtime) -> list[dict[str, Any]]:
    """One record per provider: name, label, where it is declared, the keys a profile gives."""
    records = [_record(spec, "built in") for spec in BUILTIN.values()]
    declared_specs: dict[str, Any] = {}
    if config_path.is_file():
        cfg = load_config(config_path, runtime.env)  # a bad definition there: exit 5
        declared_specs = dict(cfg.providers)
        for name, spec in declared_specs.items():
            records.append(_record(spec, _source_of(name)))
    directory = config_path.parent / "providers"
    for file in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        if file.stem in declared_specs or file.stem in BUILTIN:
            continue
        from opwatch.providers import declared

        try:
            definition = declared.load_file(file.stem, file)
        except ConfigError as exc:
            records.append(
                {"name": file.stem, "label": None, "source": str(file), "ok": False,
                 "problem": exc.message, "keys": [], "url": None}
            )  # fmt: skip
            continue
        records.append(_record(definition.spec(), str(file)))
    return records


def _record(spec: Any, source: str) -> dict[str, Any]:
    default = spec.default_url({}) if spec.default_url is not None else None
    return {
        "name": spec.name,
        "label": spec.label,
        "source": source,
        "ok": True,
        "problem": None,
        # What a profile of this provider gives besides `url` (secrets also as <key>_command).
        "keys": sorted({*spec.secret_keys, *spec.options}),
        "url": default,
    }


def _source_of(name: str) -> str:
    from opwatch.providers import provider_class

    definition = getattr(provider_class(name), "definition", None)
    return str(definition.source) if definition is not None else "declared"


def _table(records: list[dict[str, Any]]) -> str:
    """Plain aligned columns: a handful of rows, no terminal layout needed."""
    header = ("PROVIDER", "NAME", "PROFILE KEYS", "DEFAULT URL", "FROM")
    rows = [header] + [
        (
            str(r["name"]),
            str(r["label"] or ""),
            ", ".join(r["keys"]) or "-",
            str(r["url"] or "(url required)"),
            str(r["source"]) if r["ok"] else f"{r['source']}: {r['problem']}",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


def _shown(value: object) -> str:
    """A value for people: `-` where the definition reads nothing."""
    return "-" if value is None else str(value)


def _sample(path: Path) -> Any:
    try:
        return jsonlib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise UsageError(f"no sample file at {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path} is not a JSON body: {exc.__class__.__name__}") from None


def _summary(definition: Any) -> str:
    spec = definition.spec()
    keys = ", ".join(spec.secret_keys + tuple(spec.options)) or "none"
    url = definition.default_url or "required"
    return (
        f"{definition.source}: provider '{definition.name}' ({definition.label}) is valid\n"
        f"  a profile gives: provider: {definition.name}, url ({url}), secrets/options: {keys}\n"
        f"  an id looks like: {definition.id_example or definition.id_pattern.pattern}\n"
        f"  status read: GET {definition.status.text}"
    )
