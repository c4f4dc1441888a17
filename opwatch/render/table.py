"""The status table: one row per operation, fitted to the width it is given (see fit.py)."""

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from opwatch.durations import format_duration
from opwatch.model import Operation, Progress, Reading, State
from opwatch.render.fit import (
    INDENT,
    AtWidth,
    Column,
    Interleaved,
    fit,
    heading,
    naturals,
    table,
    total_width,
)

STATE_STYLES = {
    State.PENDING: "dim",
    State.RUNNING: "cyan",
    State.SUCCEEDED: "green",
    State.PARTIAL: "yellow",
    State.FAILED: "red",
    State.UNKNOWN: "magenta",
}


def state_text(state: State | None) -> Text:
    """The state word in its colour; `error` when nothing could be read."""
    if state is None:
        return Text("error", style="bold red")
    return Text(state.value, style=STATE_STYLES[state])


def progress_cell(progress: Progress) -> str:
    """`42%`, `42/100`, `42/100 42%`, or empty when the provider says nothing."""
    parts = []
    if progress.done is not None and progress.total is not None:
        parts.append(f"{progress.done}/{progress.total}")
    if progress.percent is not None:
        parts.append(f"{progress.percent:.0f}%")
    return " ".join(parts)


def items_cell(progress: Progress) -> str:
    """How many items went well and badly, where known."""
    parts = []
    if progress.good is not None:
        parts.append(f"{progress.good} ok")
    if progress.bad is not None:
        parts.append(f"{progress.bad} bad")
    return ", ".join(parts)


def time_cell(operation: Operation, now: datetime) -> str:
    """`queued 12s`, `running 3m05s` or `took 42s`."""
    queued, elapsed = operation.durations(now)
    if operation.terminal and elapsed is not None:
        return f"took {format_duration(elapsed)}"
    if operation.state is State.PENDING or (elapsed is None and queued is not None):
        return f"queued {format_duration(queued)}" if queued is not None else ""
    return f"running {format_duration(elapsed)}" if elapsed is not None else ""


STATUS_COLUMNS = (
    Column("REF", required=True),
    Column("KIND", floor=10),
    Column("STATE", required=True),
    Column("PROGRESS", required=True, justify="right"),
    Column("ITEMS"),
    Column("TIME"),
    Column("NOTE", floor=16),
)
STATUS_DROP_ORDER = ("KIND", "ITEMS", "NOTE", "TIME")
"""Which columns of the status table go first when the width runs out (README, "Tables"):
KIND (the user knows what they started), ITEMS (PROGRESS has the counts), NOTE (a provider's
message; failed reads are also on stderr), TIME. REF, STATE and PROGRESS always stay."""


def status_table(readings: list[Reading], now: datetime, width: int | None = None) -> "Fitted":
    """The table `opwatch status` and `opwatch wait` print: one line per operation, fitted to
    `width` (None: natural widths, for pipes and `-o wide`)."""
    rows = [_status_row(reading, now) for reading in readings]
    return fitted_rows(STATUS_COLUMNS, rows, width, STATUS_DROP_ORDER)


def _status_row(reading: Reading, now: datetime) -> list[Text]:
    operation = reading.operation
    note = reading.error.message if reading.error else (operation.message if operation else None)
    ref = Text(str(reading.ref))
    if operation is None:
        return [ref, Text(), state_text(None), Text(), Text(), Text(), Text(one_line(note))]
    return [
        ref,
        Text(one_line(operation.kind)),
        state_text(operation.state),
        Text(progress_cell(operation.progress)),
        Text(items_cell(operation.progress)),
        Text(time_cell(operation, now)),
        Text(one_line(note)),
    ]


def one_line(text: str | None) -> str:
    """A provider's text on one line: a table row must not break where the provider did."""
    return " ".join((text or "").split())


Fitted = AtWidth | Interleaved


def fitted_rows(
    columns: Sequence[Column],
    rows: list[list[Text]],
    width: int | None,
    drop_order: Sequence[str],
) -> Fitted:
    """One-line rows whose first column is the REF, fitted to `width`; stacked under their
    REFs when a REF leaves no room beside it for the other required columns."""
    widths = fit(columns, naturals(columns, rows), width, drop_order)
    if width is None or total_width(widths) <= width:
        return AtWidth(table(columns, widths, rows), total_width(widths))
    rest = columns[1:]
    body_width = max(1, width - INDENT)
    rest_widths = fit(rest, naturals(rest, (row[1:] for row in rows)), body_width, drop_order)
    body = table(rest, rest_widths, (row[1:] for row in rows))
    headings = [heading(row[0].plain) for row in rows]
    return Interleaved(body, total_width(rest_widths), before=headings, indent=INDENT)


def profiles_table(records: list[dict[str, object]]) -> Table:
    """The table `opwatch profiles` prints; records come from `profile_records`."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("PROFILE", no_wrap=True)
    table.add_column("PROVIDER", no_wrap=True)
    table.add_column("URL", overflow="fold")
    table.add_column("CREDENTIALS", overflow="fold")
    table.add_column("STATUS", overflow="fold")
    for record in records:
        name = f"{record['name']} (default)" if record["default"] else str(record["name"])
        credentials = record["credentials"]
        assert isinstance(credentials, dict)
        where = ", ".join(f"{key} from {source}" for key, source in credentials.items())
        status = Text("ok", style="green") if record["ok"] else Text(str(record["problem"]), "red")
        if record.get("check") not in (None, "ok", "unresolved"):  # profiles --check
            status = Text(f"{record['check']}: {record['check_message']}", "red")
        table.add_row(name, str(record["provider"] or ""), str(record["url"] or ""), where, status)
    return table
