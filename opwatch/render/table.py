"""The status table: one row per operation, built as a rich Table for the CLI to print."""

from datetime import datetime

from rich.table import Table
from rich.text import Text

from opwatch.durations import format_duration
from opwatch.model import Operation, Progress, Reading, State

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


def status_table(readings: list[Reading], now: datetime) -> Table:
    """The table `opwatch status` prints."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("REF", no_wrap=True, overflow="fold", min_width=12)
    table.add_column("KIND", overflow="fold", max_width=24)
    table.add_column("STATE", no_wrap=True, min_width=9)
    table.add_column("PROGRESS", no_wrap=True, justify="right", min_width=4)
    table.add_column("ITEMS", overflow="fold", min_width=6)
    table.add_column("TIME", overflow="fold", min_width=6)
    table.add_column("NOTE", overflow="fold", min_width=12)
    for reading in readings:
        operation = reading.operation
        note = reading.error.message if reading.error else (operation and operation.message)
        if operation is None:
            table.add_row(str(reading.ref), "", state_text(None), "", "", "", note or "")
            continue
        table.add_row(
            str(reading.ref),
            operation.kind or "",
            state_text(operation.state),
            progress_cell(operation.progress),
            items_cell(operation.progress),
            time_cell(operation, now),
            note or "",
        )
    return table


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
